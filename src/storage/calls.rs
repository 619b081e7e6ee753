//! EU funding calls: announcements, each unit's interest and outcome, and the per-call
//! occurrences of units that apply. Every change is audited and enqueues its deliveries in
//! the same transaction, as the planner's decisions do.

use anyhow::Context as _;
use jiff::Timestamp;
use sqlx::Row as _;

use super::actions::insert_occurrences;
use super::inbox::withdraw_unsent;
use super::outbox::insert_delivery;
use super::{Store, audit, timestamp};
use crate::domain::calls::{Announcement, Call, CallState, Interest};
use crate::domain::occurrence::Actor;
use crate::domain::planner::Delivery;
use crate::domain::schedule::Occurrence;
use crate::domain::steps::Subject;

const ANNOUNCEMENT_COLUMNS: &str = "id, call_key, title, programme, link, deadline, description, units, tags, state, \
     revision, created_by, created_at";

/// What announcing a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// Stored, and its deliveries enqueued.
    New(Announcement),
    /// The same call (same call id or link) was announced before; nothing was sent again.
    Before(Announcement),
}

/// A change the strategist makes to an announced call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallChange {
    /// New text for the call (a later deadline, a fixed link, …).
    Correct(Call),
    /// The call is withdrawn.
    Cancel { reason: Option<String> },
}

/// A unit's answer to a call, and what came of its application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterestRow {
    pub announcement_id: i64,
    pub unit: String,
    pub interest: Interest,
    pub person: String,
    pub channel: String,
    pub outcome: Option<Outcome>,
    /// Granted, in whole kronor.
    pub amount: Option<i64>,
    pub updated_at: Timestamp,
}

/// What came of a unit's application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Granted,
    Rejected,
}

impl Outcome {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Granted => "granted",
            Self::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Applied, Self::Granted, Self::Rejected]
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| format!("unknown outcome \"{text}\"; use applied, granted or rejected"))
    }
}

/// What recording a unit's interest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterestRecorded {
    /// Recorded; for a unit that applies, the ids of the occurrences created for it.
    Recorded { created: Vec<i64> },
    /// The unit had said so already.
    Already,
}

impl Store {
    /// Stores `call` as announced by `by` and enqueues the deliveries `plan` wants for it, in
    /// one transaction — unless a call with the same key was announced before.
    pub async fn announce(
        &self,
        call: &Call,
        by: &str,
        now: Timestamp,
        plan: impl FnOnce(&Announcement) -> Vec<Delivery>,
    ) -> anyhow::Result<Announced> {
        let mut tx = self.begin_write().await?;
        // The unique call key decides, so two instances announcing the same call store it once.
        let insert = sqlx::query(
            "INSERT INTO announcements (title, programme, link, deadline, description, units, tags, call_key, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (call_key) DO NOTHING RETURNING id",
        );
        let inserted = bind_text(insert, call)?
            .bind(call.call_key.as_str())
            .bind(by)
            .bind(now.as_second())
            .bind(now.as_second())
            .fetch_optional(&mut *tx)
            .await
            .context("storing the announcement")?;
        let Some(row) = inserted else {
            let existing = sqlx::query(&format!(
                "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE call_key = $1"
            ))
            .bind(call.call_key.as_str())
            .fetch_one(&mut *tx)
            .await
            .context("reading the call announced before")?;
            return Ok(Announced::Before(announcement_from_row(&existing)?));
        };
        let id: i64 = row.try_get("id")?;
        let announcement = Announcement {
            id,
            call: call.clone(),
            state: CallState::Active,
            revision: 0,
            created_by: by.to_owned(),
            created_at: now,
        };
        audit(
            &mut tx,
            now,
            Subject::Call(id),
            by,
            "announce",
            &serde_json::to_value(call)?,
        )
        .await?;
        for delivery in plan(&announcement) {
            insert_delivery(&mut tx, &delivery, now).await?;
        }
        tx.commit().await.context("committing the announcement")?;
        Ok(Announced::New(announcement))
    }

    /// Corrects or cancels call `id` and enqueues the update `plan` wants for the changed
    /// call. A correction moves the open per-call occurrences to `rescheduled`; a cancellation
    /// waives them and withdraws what was not sent yet. `None` if there is no such call, or it
    /// is cancelled already.
    pub async fn change_call(
        &self,
        id: i64,
        change: &CallChange,
        actor: &Actor<'_>,
        now: Timestamp,
        rescheduled: &[Occurrence],
        plan: impl FnOnce(&Announcement) -> Vec<Delivery>,
    ) -> anyhow::Result<Option<Announcement>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE id = $1 AND state = 'active'"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .context("reading the call")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut announcement = announcement_from_row(&row)?;
        announcement.revision = announcement.revision.saturating_add(1);
        let (action, detail) = match change {
            CallChange::Correct(call) => {
                announcement.call = Call {
                    call_key: announcement.call.call_key.clone(),
                    ..call.clone()
                };
                ("call-corrected", serde_json::to_value(&announcement.call)?)
            }
            CallChange::Cancel { reason } => {
                announcement.state = CallState::Cancelled;
                ("call-cancelled", serde_json::json!({ "reason": reason }))
            }
        };
        let update = sqlx::query(
            "UPDATE announcements SET title = $1, programme = $2, link = $3, deadline = $4, description = $5, \
             units = $6, tags = $7, state = $8, revision = $9, updated_at = $10 WHERE id = $11",
        );
        bind_text(update, &announcement.call)?
            .bind(announcement.state.as_str())
            .bind(i64::from(announcement.revision))
            .bind(now.as_second())
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("changing the call")?;
        audit(&mut tx, now, Subject::Call(id), actor.person, action, &detail).await?;
        let open: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, obligation, unit FROM occurrences WHERE announcement_id = $1 AND state IN ('open', 'submitted')",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .context("reading the call's occurrences")?;
        for (occurrence_id, obligation, unit) in open {
            match change {
                CallChange::Cancel { .. } => {
                    waive_for_call(&mut tx, occurrence_id, actor, "the call was cancelled", now).await?;
                }
                CallChange::Correct(_) => {
                    let moved = rescheduled
                        .iter()
                        .find(|o| o.obligation.as_str() == obligation && o.unit.as_str() == unit);
                    if let Some(moved) = moved {
                        sqlx::query(
                            "UPDATE occurrences SET due_at = $1, updated_at = $2 WHERE id = $3 AND state = 'open'",
                        )
                        .bind(moved.due_at.as_second())
                        .bind(now.as_second())
                        .bind(occurrence_id)
                        .execute(&mut *tx)
                        .await
                        .context("moving an occurrence of the call")?;
                    }
                }
            }
        }
        if matches!(change, CallChange::Cancel { .. }) {
            sqlx::query(
                "UPDATE outbox SET state = 'cancelled', lease_until = NULL, updated_at = $1 \
                 WHERE announcement_id = $2 AND state IN ('pending', 'failed')",
            )
            .bind(now.as_second())
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("withdrawing the call's unsent deliveries")?;
        }
        for delivery in plan(&announcement) {
            insert_delivery(&mut tx, &delivery, now).await?;
        }
        tx.commit().await.context("committing the change of the call")?;
        Ok(Some(announcement))
    }

    /// The sent messages that announced calls `ids`, by (call, recipient, channel): the
    /// channel's ids for them, which updates refer to.
    pub async fn announcement_messages(
        &self,
        ids: &[i64],
    ) -> anyhow::Result<std::collections::BTreeMap<(i64, String, String), String>> {
        let mut messages = std::collections::BTreeMap::new();
        for id in ids {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT recipient, channel, provider_id FROM outbox \
                 WHERE announcement_id = $1 AND step = 'announce' AND provider_id IS NOT NULL",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .context("finding the messages that announced a call")?;
            messages.extend(
                rows.into_iter()
                    .map(|(recipient, channel, event)| ((*id, recipient, channel), event)),
            );
        }
        Ok(messages)
    }

    /// One announcement by id.
    pub async fn announcement(&self, id: i64) -> anyhow::Result<Option<Announcement>> {
        let row = sqlx::query(&format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading an announcement")?;
        row.as_ref().map(announcement_from_row).transpose()
    }

    /// Every announcement, by deadline.
    pub async fn announcements(&self) -> anyhow::Result<Vec<Announcement>> {
        let rows = sqlx::query(&format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements ORDER BY deadline, id"
        ))
        .fetch_all(&self.pool)
        .await
        .context("listing announcements")?;
        rows.iter().map(announcement_from_row).collect()
    }

    /// Records that `unit` answered `interest` to call `id`. A unit that applies gets
    /// `occurrences` (created once); one that no longer applies has its open ones waived.
    pub async fn record_interest(
        &self,
        id: i64,
        unit: &str,
        interest: Interest,
        actor: &Actor<'_>,
        occurrences: &[Occurrence],
        now: Timestamp,
    ) -> anyhow::Result<InterestRecorded> {
        let mut tx = self.begin_write().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT interest FROM call_interest WHERE announcement_id = $1 AND unit = $2")
                .bind(id)
                .bind(unit)
                .fetch_optional(&mut *tx)
                .await
                .context("reading the unit's interest")?;
        if before.as_deref() == Some(interest.as_str()) {
            return Ok(InterestRecorded::Already);
        }
        sqlx::query(
            "INSERT INTO call_interest (announcement_id, unit, interest, person, channel, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (announcement_id, unit) DO UPDATE SET \
             interest = excluded.interest, person = excluded.person, channel = excluded.channel, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(unit)
        .bind(interest.as_str())
        .bind(actor.person)
        .bind(actor.channel)
        .bind(now.as_second())
        .execute(&mut *tx)
        .await
        .context("recording the unit's interest")?;
        let detail = serde_json::json!({
            "unit": unit, "interest": interest.as_str(), "channel": actor.channel,
            "source": actor.source, "note": actor.note,
        });
        audit(&mut tx, now, Subject::Call(id), actor.person, "interest", &detail).await?;
        let mut created = Vec::new();
        if interest == Interest::Applying {
            created = insert_occurrences(&mut tx, occurrences, Some(id), actor, now).await?;
        } else {
            let open: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM occurrences WHERE announcement_id = $1 AND unit = $2 AND state IN ('open', 'submitted')",
            )
            .bind(id)
            .bind(unit)
            .fetch_all(&mut *tx)
            .await
            .context("reading the unit's occurrences for the call")?;
            for occurrence_id in open {
                waive_for_call(&mut tx, occurrence_id, actor, "the unit no longer applies", now).await?;
            }
        }
        tx.commit().await.context("committing the unit's interest")?;
        Ok(InterestRecorded::Recorded { created })
    }

    /// Records what came of `unit`'s application to call `id` (the outcome, and the amount
    /// granted), and for a grant creates the
    /// project's `occurrences` (once). Returns the ids created, or `None` when the unit had not
    /// answered the call (then nothing is recorded).
    pub async fn record_outcome(
        &self,
        id: i64,
        unit: &str,
        (outcome, amount): (Outcome, Option<i64>),
        actor: &Actor<'_>,
        occurrences: &[Occurrence],
        now: Timestamp,
    ) -> anyhow::Result<Option<Vec<i64>>> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE call_interest SET outcome = $1, amount = $2, updated_at = $3 WHERE announcement_id = $4 AND unit = $5",
        )
        .bind(outcome.as_str())
        .bind(amount)
        .bind(now.as_second())
        .bind(id)
        .bind(unit)
        .execute(&mut *tx)
        .await
        .context("recording the outcome")?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        let detail = serde_json::json!({ "unit": unit, "outcome": outcome.as_str(), "amount": amount });
        audit(&mut tx, now, Subject::Call(id), actor.person, "outcome", &detail).await?;
        let created = match outcome {
            Outcome::Granted => insert_occurrences(&mut tx, occurrences, Some(id), actor, now).await?,
            Outcome::Applied | Outcome::Rejected => Vec::new(),
        };
        tx.commit().await.context("committing the outcome")?;
        Ok(Some(created))
    }

    /// Every unit's answer to the calls, by call and unit.
    pub async fn interests(&self) -> anyhow::Result<Vec<InterestRow>> {
        let rows = sqlx::query(
            "SELECT announcement_id, unit, interest, person, channel, outcome, amount, updated_at FROM call_interest \
             ORDER BY announcement_id, unit",
        )
        .fetch_all(&self.pool)
        .await
        .context("listing interest in calls")?;
        rows.iter()
            .map(|row| {
                let interest: String = row.try_get("interest")?;
                let outcome: Option<String> = row.try_get("outcome")?;
                Ok(InterestRow {
                    announcement_id: row.try_get("announcement_id")?,
                    unit: row.try_get("unit")?,
                    interest: interest.parse().map_err(anyhow::Error::msg)?,
                    person: row.try_get("person")?,
                    channel: row.try_get("channel")?,
                    outcome: outcome.map(|o| o.parse()).transpose().map_err(anyhow::Error::msg)?,
                    amount: row.try_get("amount")?,
                    updated_at: timestamp(row.try_get("updated_at")?)?,
                })
            })
            .collect()
    }
}

/// `query` with the call's text bound to its first seven parameters: title, programme, link,
/// deadline, description, units, tags.
fn bind_text<'q>(query: AnyQuery<'q>, call: &'q Call) -> anyhow::Result<AnyQuery<'q>> {
    Ok(query
        .bind(call.title.as_str())
        .bind(call.programme.as_str())
        .bind(call.link.as_str())
        .bind(call.deadline.to_string())
        .bind(call.description.as_str())
        .bind(serde_json::to_string(&call.units)?)
        .bind(serde_json::to_string(&call.tags)?))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Waives a per-call occurrence (audited with `why`) and withdraws its unsent reminders.
async fn waive_for_call(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    occurrence_id: i64,
    actor: &Actor<'_>,
    why: &str,
    now: Timestamp,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE occurrences SET state = 'waived', updated_at = $1 WHERE id = $2")
        .bind(now.as_second())
        .bind(occurrence_id)
        .execute(&mut **tx)
        .await
        .context("waiving an occurrence of the call")?;
    let detail = serde_json::json!({ "reason": why, "channel": actor.channel });
    audit(
        tx,
        now,
        Subject::Occurrence(occurrence_id),
        actor.person,
        "waive",
        &detail,
    )
    .await?;
    withdraw_unsent(tx, occurrence_id, now).await
}

fn announcement_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<Announcement> {
    let deadline: String = row.try_get("deadline")?;
    let state: String = row.try_get("state")?;
    let units: String = row.try_get("units")?;
    let tags: String = row.try_get("tags")?;
    let revision: i64 = row.try_get("revision")?;
    Ok(Announcement {
        id: row.try_get("id")?,
        call: Call {
            call_key: row.try_get("call_key")?,
            title: row.try_get("title")?,
            programme: row.try_get("programme")?,
            link: row.try_get("link")?,
            deadline: deadline.parse().context("a stored deadline")?,
            description: row.try_get("description")?,
            units: serde_json::from_str(&units).context("a stored list of units")?,
            tags: serde_json::from_str(&tags).context("a stored list of tags")?,
        },
        state: state.parse().map_err(anyhow::Error::msg)?,
        revision: u16::try_from(revision).unwrap_or(u16::MAX),
        created_by: row.try_get("created_by")?,
        created_at: timestamp(row.try_get("created_at")?)?,
    })
}
