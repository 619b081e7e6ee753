//! Actions people take on occurrences (submit, acknowledge, waive): one transaction moves the
//! state, withdraws the deliveries planned for the old state, and writes the audit log.

use anyhow::Context as _;
use jiff::Timestamp;

use super::inbox::withdraw_unsent;
use super::outbox::insert_delivery;
use super::{Backend, OCCURRENCE_COLUMNS, Store, audit, occurrence_from_row};
use crate::domain::occurrence::{Action, ActionOutcome, Actor, OccurrenceState, StoredOccurrence, Transition};
use crate::domain::planner::Delivery;
use crate::domain::schedule::Occurrence;
use crate::domain::steps::Subject;

impl Store {
    /// One occurrence by id.
    pub async fn occurrence(&self, id: i64) -> anyhow::Result<Option<StoredOccurrence>> {
        let row = sqlx::query(&format!("SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading an occurrence")?;
        row.as_ref().map(occurrence_from_row).transpose()
    }

    /// Records `action` on occurrence `id` by `actor` at `now`, with the notices the move to
    /// its new state causes (`notices(to)`), in one transaction. Deliveries not yet sent for
    /// the occurrence are cancelled, since they were planned for its old state. `None` when
    /// there is no such occurrence.
    pub async fn record_action(
        &self,
        id: i64,
        action: Action,
        actor: &Actor<'_>,
        notices: impl FnOnce(OccurrenceState) -> Vec<Delivery>,
        now: Timestamp,
    ) -> anyhow::Result<Option<ActionOutcome>> {
        let mut tx = self.begin_write().await?;
        let lock = if self.backend == Backend::Postgres {
            "FOR UPDATE"
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE id = $1 {lock}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .context("reading the occurrence")?;
        let Some(occurrence) = row.as_ref().map(occurrence_from_row).transpose()? else {
            return Ok(None);
        };
        let from = occurrence.state;
        let to = match action.transition(from) {
            Transition::To(to) => to,
            Transition::AlreadyDone => return Ok(Some(ActionOutcome::AlreadyRecorded(from))),
            Transition::Refused => return Ok(Some(ActionOutcome::Refused(from))),
        };
        let submitted_at = if to == OccurrenceState::Submitted {
            Some(now.as_second())
        } else {
            None
        };
        // A diarienummer in what came with the action is the matter's registry number.
        let diarienummer = actor.note.and_then(crate::domain::diary::find);
        sqlx::query(
            "UPDATE occurrences SET state = $1, submitted_at = COALESCE($2, submitted_at), updated_at = $3, \
             diarienummer = COALESCE($5, diarienummer) WHERE id = $4",
        )
        .bind(to.as_str())
        .bind(submitted_at)
        .bind(now.as_second())
        .bind(id)
        .bind(diarienummer)
        .execute(&mut *tx)
        .await
        .context("moving the occurrence")?;
        withdraw_unsent(&mut tx, id, now).await?;
        let detail = serde_json::json!({
            "from": from.as_str(),
            "to": to.as_str(),
            "channel": actor.channel,
            "source": actor.source,
            "note": actor.note,
        });
        audit(
            &mut tx,
            now,
            Subject::Occurrence(id),
            actor.person,
            action.as_str(),
            &detail,
        )
        .await?;
        for notice in notices(to) {
            insert_delivery(&mut tx, &notice, now).await?;
        }
        tx.commit().await.context("committing the action")?;
        Ok(Some(ActionOutcome::Recorded { from, to }))
    }
}

impl Store {
    /// Creates the on-demand `occurrences` KLK's `actor` started (those not there yet), in
    /// one transaction; their ids.
    pub async fn start_occurrences(
        &self,
        occurrences: &[Occurrence],
        actor: &Actor<'_>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let created = insert_occurrences(&mut tx, occurrences, None, actor, now).await?;
        tx.commit().await.context("committing the started occurrences")?;
        Ok(created)
    }

    /// The occurrences with these ids (those that exist).
    pub async fn occurrences_by_ids(&self, ids: &[i64]) -> anyhow::Result<Vec<StoredOccurrence>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Integers only, so listing them inline cannot inject anything.
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let rows = sqlx::query(&format!(
            "SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE id IN ({})",
            list.join(",")
        ))
        .fetch_all(&self.pool)
        .await
        .context("reading occurrences")?;
        rows.iter().map(occurrence_from_row).collect()
    }

    /// The value stored under `key`, or `value` stored there now if there is none. Every
    /// instance sharing the database reads the same value.
    pub async fn meta_or_insert(&self, key: &str, value: &str) -> anyhow::Result<String> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .context("storing a meta value")?;
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .context("reading a meta value")
    }
}

/// Creates `occurrences` (those not there yet), for the call `announcement` if any, each
/// audited with `actor` as its creator; their ids.
pub(super) async fn insert_occurrences(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    occurrences: &[Occurrence],
    announcement: Option<i64>,
    actor: &Actor<'_>,
    now: Timestamp,
) -> anyhow::Result<Vec<i64>> {
    let mut created = Vec::new();
    for occurrence in occurrences {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO occurrences (obligation, unit, period, due_at, announcement_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (obligation, unit, period) DO NOTHING RETURNING id",
        )
        .bind(occurrence.obligation.as_str())
        .bind(occurrence.unit.as_str())
        .bind(occurrence.period.to_string())
        .bind(occurrence.due_at.as_second())
        .bind(announcement)
        .bind(now.as_second())
        .bind(now.as_second())
        .fetch_optional(&mut **tx)
        .await
        .context("creating an occurrence")?;
        if let Some(occurrence_id) = inserted {
            let detail = serde_json::json!({ "due_at": occurrence.due_at.to_string(), "call": announcement });
            audit(
                tx,
                now,
                Subject::Occurrence(occurrence_id),
                actor.person,
                "created",
                &detail,
            )
            .await?;
            created.push(occurrence_id);
        }
    }
    Ok(created)
}
