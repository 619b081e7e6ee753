//! The inbox: everything people sent arshjul — counted, refused or not understood — once per
//! message; and the two things a reply can record besides a state change: a pause of the
//! reminders and a request to waive.

use anyhow::Context as _;
use jiff::Timestamp;
use sqlx::Row as _;

use super::outbox::insert_delivery;
use super::{Backend, Store, audit, timestamp};
use crate::domain::occurrence::Actor;
use crate::domain::planner::Delivery;
use crate::domain::steps::Subject;

/// One message in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InboxRow {
    pub id: i64,
    pub channel: String,
    pub reference: String,
    pub sender: String,
    pub person: Option<String>,
    pub delivery_id: Option<i64>,
    pub occurrence_id: Option<i64>,
    pub text: String,
    pub outcome: String,
    pub detail: String,
    pub received_at: Timestamp,
}

/// How a message was settled.
#[derive(Debug, Clone, Default)]
pub struct Settled<'a> {
    pub person: Option<&'a str>,
    pub delivery_id: Option<i64>,
    pub occurrence_id: Option<i64>,
    pub outcome: &'a str,
    pub detail: &'a str,
}

impl Store {
    /// Takes a message in, once: its inbox id the first time `(channel, reference)` is seen,
    /// and again while that row is unsettled (its handling failed before it was settled, so
    /// it is acted on when it comes back); `None` once it is settled (a restart that reads it
    /// again).
    pub async fn inbox_receive(
        &self,
        channel: &str,
        reference: &str,
        sender: &str,
        text: &str,
        now: Timestamp,
    ) -> anyhow::Result<Option<i64>> {
        let reference = storable(reference);
        let new: Option<i64> = sqlx::query_scalar(
            "INSERT INTO inbox (channel, reference, sender, text, outcome, detail, received_at) \
             VALUES ($1, $2, $3, $4, 'received', '', $5) ON CONFLICT (channel, reference) DO NOTHING RETURNING id",
        )
        .bind(channel)
        .bind(&reference)
        .bind(storable(sender))
        .bind(storable(text))
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await
        .context("taking a message into the inbox")?;
        if new.is_some() {
            return Ok(new);
        }
        sqlx::query_scalar("SELECT id FROM inbox WHERE channel = $1 AND reference = $2 AND outcome = 'received'")
            .bind(channel)
            .bind(&reference)
            .fetch_optional(&self.pool)
            .await
            .context("reading an unsettled inbox message")
    }

    /// The latest question "which one?" arshjul asked `person` on `channel` since `since` (an
    /// inbox message settled `asked_which`), which a bare "2" or "alla" answers.
    pub async fn pending_question(
        &self,
        person: &str,
        channel: &str,
        since: Timestamp,
    ) -> anyhow::Result<Option<InboxRow>> {
        let row = sqlx::query(&format!(
            "SELECT {INBOX_COLUMNS} FROM inbox WHERE person = $1 AND channel = $2 AND outcome = 'asked_which' \
             AND received_at >= $3 ORDER BY id DESC LIMIT 1"
        ))
        .bind(person)
        .bind(channel)
        .bind(since.as_second())
        .fetch_optional(&self.pool)
        .await
        .context("finding a question asked")?;
        row.as_ref().map(inbox_from_row).transpose()
    }

    /// How many messages `sender` (in any case: addresses are compared so) sent on `channel`
    /// since `since`.
    pub async fn inbox_count_from(&self, channel: &str, sender: &str, since: Timestamp) -> anyhow::Result<usize> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbox WHERE channel = $1 AND LOWER(sender) = LOWER($2) AND received_at >= $3",
        )
        .bind(channel)
        .bind(storable(sender))
        .bind(since.as_second())
        .fetch_one(&self.pool)
        .await
        .context("counting recent inbox messages")?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// Records what became of inbox message `id`.
    pub async fn inbox_settle(&self, id: i64, settled: &Settled<'_>) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE inbox SET person = $1, delivery_id = $2, occurrence_id = $3, outcome = $4, detail = $5 WHERE id = $6",
        )
        .bind(settled.person)
        .bind(settled.delivery_id)
        .bind(settled.occurrence_id)
        .bind(settled.outcome)
        .bind(settled.detail)
        .bind(id)
        .execute(&self.pool)
        .await
        .context("settling an inbox message")?;
        Ok(())
    }

    /// The inbox, newest first; only messages with `outcome` if given.
    pub async fn inbox(&self, outcome: Option<&str>, limit: usize) -> anyhow::Result<Vec<InboxRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let filtered = format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE outcome = $1 ORDER BY id DESC LIMIT $2");
        let all = format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id DESC LIMIT $1");
        let query = match outcome {
            Some(outcome) => sqlx::query(&filtered).bind(outcome).bind(limit),
            None => sqlx::query(&all).bind(limit),
        };
        let rows = query.fetch_all(&self.pool).await.context("reading the inbox")?;
        rows.iter().map(inbox_from_row).collect()
    }

    /// Pauses the reminders of open occurrence `id` until `until`, withdrawing those not yet
    /// sent; audited. False when the occurrence is not open.
    pub async fn pause(&self, id: i64, until: Timestamp, actor: &Actor<'_>, now: Timestamp) -> anyhow::Result<bool> {
        let mut tx = self.begin_write().await?;
        let paused =
            sqlx::query("UPDATE occurrences SET paused_until = $1, updated_at = $2 WHERE id = $3 AND state = 'open'")
                .bind(until.as_second())
                .bind(now.as_second())
                .bind(id)
                .execute(&mut *tx)
                .await
                .context("pausing an occurrence")?
                .rows_affected()
                == 1;
        if paused {
            withdraw_unsent(&mut tx, id, now).await?;
            let detail = serde_json::json!({
                "until": until.to_string(), "channel": actor.channel, "source": actor.source, "note": actor.note,
            });
            audit(&mut tx, now, Subject::Occurrence(id), actor.person, "pause", &detail).await?;
        }
        tx.commit().await.context("committing a pause")?;
        Ok(paused)
    }

    /// Records a step of a request to waive occurrence `id` in the audit log — `waive-request`
    /// (a unit asks) or `waive-refused` (KLK says no; granting is the waive itself) — and the
    /// `notices` it causes, in one transaction.
    pub async fn waiver_decision(
        &self,
        id: i64,
        what: &str,
        actor: &Actor<'_>,
        notices: &[Delivery],
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        let detail = serde_json::json!({"channel": actor.channel, "source": actor.source, "reason": actor.note});
        audit(&mut tx, now, Subject::Occurrence(id), actor.person, what, &detail).await?;
        for notice in notices {
            insert_delivery(&mut tx, notice, now).await?;
        }
        tx.commit().await.context("committing a waiver decision")
    }

    /// A write transaction; on SQLite it takes the write lock at once.
    pub(super) async fn begin_write(&self) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .context("starting a transaction")
    }

    /// Forgets what people sent before `before` and has been settled (a message still being
    /// taken in stays); returns how many were forgotten. The audit log keeps what they did.
    pub async fn forget_inbox_before(&self, before: Timestamp) -> anyhow::Result<u64> {
        let forgotten = sqlx::query("DELETE FROM inbox WHERE received_at < $1 AND outcome <> 'received'")
            .bind(before.as_second())
            .execute(&self.pool)
            .await
            .context("forgetting old inbound messages")?;
        Ok(forgotten.rows_affected())
    }

    /// The value stored under `key`, if any.
    pub async fn meta(&self, key: &str) -> anyhow::Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .context("reading a meta value")
    }

    /// Stores `value` under `key`, replacing what was there.
    pub async fn set_meta(&self, key: &str, value: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .context("storing a meta value")?;
        Ok(())
    }
}

const INBOX_COLUMNS: &str =
    "id, channel, reference, sender, person, delivery_id, occurrence_id, text, outcome, detail, received_at";

fn inbox_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<InboxRow> {
    Ok(InboxRow {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        reference: row.try_get("reference")?,
        sender: row.try_get("sender")?,
        person: row.try_get("person")?,
        delivery_id: row.try_get("delivery_id")?,
        occurrence_id: row.try_get("occurrence_id")?,
        text: row.try_get("text")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        received_at: timestamp(row.try_get("received_at")?)?,
    })
}

/// `text` as PostgreSQL can store it: NUL characters (which arrive in hostile mail) become
/// U+FFFD, so the message is kept rather than refused.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Cancels the deliveries of occurrence `id` that are not yet sent: they were planned for a
/// state or a time that no longer holds.
pub(super) async fn withdraw_unsent(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    now: Timestamp,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'cancelled', lease_until = NULL, updated_at = $1 \
         WHERE occurrence_id = $2 AND state IN ('pending', 'failed')",
    )
    .bind(now.as_second())
    .bind(id)
    .execute(&mut **tx)
    .await
    .context("withdrawing deliveries not yet sent")?;
    Ok(())
}
