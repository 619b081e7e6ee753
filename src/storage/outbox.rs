//! The outbox: one row per delivery, written in the same transaction as the planning decision
//! and claimed by dispatchers with a lease. SQLite claims with one atomic `UPDATE … RETURNING`;
//! PostgreSQL adds `FOR UPDATE SKIP LOCKED` so several dispatchers share the work.

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row as _;

use super::{Backend, OCCURRENCE_COLUMNS, PLAN_LOCK, Store, occurrence_from_row, timestamp};
use crate::domain::occurrence::StoredOccurrence;
use crate::domain::planner::Delivery;
use crate::domain::steps::{DeliveryState, Subject};

/// One delivery as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    /// What it is about: an occurrence or an EU funding call (exactly one is set).
    pub occurrence_id: Option<i64>,
    pub announcement_id: Option<i64>,
    pub step: String,
    pub recipient: String,
    pub channel: String,
    pub reason: String,
    pub state: DeliveryState,
    pub not_before: Timestamp,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
    /// Where it went, when the channel says (a Matrix room id).
    pub destination: Option<String>,
    pub sent_at: Option<Timestamp>,
}

impl OutboxRow {
    /// The error that stands now: none once the delivery is sent (`last_error` keeps what an
    /// earlier attempt met).
    pub fn current_error(&self) -> Option<&str> {
        match self.state {
            DeliveryState::Sent => None,
            _ => self.last_error.as_deref(),
        }
    }

    /// What the delivery is about.
    pub fn subject(&self) -> anyhow::Result<Subject> {
        match (self.occurrence_id, self.announcement_id) {
            (Some(id), None) => Ok(Subject::Occurrence(id)),
            (None, Some(id)) => Ok(Subject::Call(id)),
            _ => anyhow::bail!("delivery {} names neither an occurrence nor a call", self.id),
        }
    }
}

/// What became of one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent {
        provider_id: Option<String>,
        destination: Option<String>,
    },
    /// Try again at `at`.
    Retry {
        error: String,
        at: Timestamp,
    },
    Dead {
        error: String,
    },
    /// Given up on a chat channel: dead, and replaced by an email delivery with `email_key`
    /// (unless that one exists already).
    FallBack {
        error: String,
        email_key: String,
    },
}

impl DeliveryOutcome {
    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Retry { .. } => "retry",
            Self::Dead { .. } => "dead",
            Self::FallBack { .. } => "fallback",
        }
    }
}

/// One outcome as `record` binds it, in the outbox's terms.
#[derive(serde::Serialize)]
struct OutcomeRow<'a> {
    id: i64,
    state: &'static str,
    provider_id: Option<&'a str>,
    destination: Option<&'a str>,
    error: Option<&'a str>,
    not_before: Option<i64>,
}

impl<'a> OutcomeRow<'a> {
    fn new(id: i64, outcome: &'a DeliveryOutcome) -> Self {
        let row = Self {
            id,
            state: "dead",
            provider_id: None,
            destination: None,
            error: None,
            not_before: None,
        };
        match outcome {
            DeliveryOutcome::Sent {
                provider_id,
                destination,
            } => Self {
                state: "sent",
                provider_id: provider_id.as_deref(),
                destination: destination.as_deref(),
                ..row
            },
            DeliveryOutcome::Retry { error, at } => Self {
                state: "failed",
                error: Some(error),
                not_before: Some(at.as_second()),
                ..row
            },
            DeliveryOutcome::Dead { error } | DeliveryOutcome::FallBack { error, .. } => Self {
                error: Some(error),
                ..row
            },
        }
    }
}

const OUTBOX_COLUMNS: &str = "id, idempotency_key, occurrence_id, announcement_id, step, recipient, channel, reason, state, not_before, \
     attempts, last_error, provider_id, destination, sent_at";

impl Store {
    /// Reads the occurrences still to be planned, lets `decide` (the planner) say which
    /// deliveries they want, and writes those to the outbox in the same transaction; a delivery
    /// already there is left alone. Returns how many were new. Only one instance plans at a time.
    pub async fn plan(
        &self,
        now: Timestamp,
        decide: impl FnOnce(&[StoredOccurrence]) -> Vec<Delivery>,
    ) -> anyhow::Result<usize> {
        let mut tx = self.begin_singleton(PLAN_LOCK).await?;
        let rows = sqlx::query(&format!(
            "SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE state IN ('open', 'submitted') AND configured = 1"
        ))
        .fetch_all(&mut *tx)
        .await
        .context("reading occurrences to plan")?;
        let occurrences = rows
            .iter()
            .map(occurrence_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut created = 0;
        for delivery in decide(&occurrences) {
            created += insert_delivery(&mut tx, &delivery, now).await?;
        }
        tx.commit().await.context("committing the plan")?;
        Ok(created)
    }

    /// Writes deliveries to the outbox as they are (no planning); for tests and benchmarks
    /// that need a backlog. Returns how many were new.
    pub async fn enqueue(&self, deliveries: &[Delivery], now: Timestamp) -> anyhow::Result<usize> {
        let mut created = 0;
        for chunk in deliveries.chunks(1000) {
            let mut tx = self.pool.begin().await.context("starting a transaction")?;
            for delivery in chunk {
                created += insert_delivery(&mut tx, delivery, now).await?;
            }
            tx.commit().await.context("committing deliveries")?;
        }
        Ok(created)
    }

    /// Claims up to `limit` deliveries that are due at `now` (pending or failed with their
    /// time come, or sending with an expired lease) for `lease`, counting an attempt. The
    /// condition is the partial index `outbox_ready`'s, so the claim reads only due rows, in
    /// order; a row being sent was due when it was claimed, so `not_before <= now` holds for it.
    pub async fn claim(&self, now: Timestamp, lease: SignedDuration, limit: usize) -> anyhow::Result<Vec<OutboxRow>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE state IN ('pending', 'failed', 'sending') AND not_before <= $3 \
                     AND (state <> 'sending' OR lease_until <= $4) \
                 ORDER BY not_before, id LIMIT $5 {lock}) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let now_secs = now.as_second();
        let _turn = self.outbox_turn().await;
        let rows = sqlx::query(&sql)
            .bind(now.checked_add(lease).unwrap_or(now).as_second())
            .bind(now_secs)
            .bind(now_secs)
            .bind(now_secs)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .context("claiming deliveries")?;
        let mut claimed = rows.iter().map(row_to_delivery).collect::<anyhow::Result<Vec<_>>>()?;
        claimed.sort_by_key(|row| (row.not_before, row.id));
        Ok(claimed)
    }

    /// Records what became of claimed deliveries. Every outcome is written by one statement
    /// (the outcomes bound as one JSON list, so the SQL is the same every time and is prepared
    /// once), which needs no transaction around it unless a chat delivery falls back to email:
    /// then the email copies are inserted in the same transaction. A row that is no longer
    /// `sending` (cancelled meanwhile) keeps its state.
    pub async fn record(&self, outcomes: &[(i64, DeliveryOutcome)], now: Timestamp) -> anyhow::Result<()> {
        let rows: Vec<OutcomeRow> = outcomes
            .iter()
            .map(|(id, outcome)| OutcomeRow::new(*id, outcome))
            .collect();
        let update = format!(
            "UPDATE outbox SET state = o.state, \
                 sent_at = CASE WHEN o.state = 'sent' THEN $1 ELSE outbox.sent_at END, \
                 provider_id = CASE WHEN o.state = 'sent' THEN o.provider_id ELSE outbox.provider_id END, \
                 destination = CASE WHEN o.state = 'sent' THEN o.destination ELSE outbox.destination END, \
                 last_error = COALESCE(o.error, outbox.last_error), \
                 not_before = COALESCE(o.not_before, outbox.not_before), \
                 lease_until = NULL, updated_at = $1 \
             FROM ({}) AS o WHERE outbox.id = o.id AND outbox.state = 'sending'",
            self.backend.outcome_rows(2)
        );
        let update = sqlx::query(&update)
            .bind(now.as_second())
            .bind(serde_json::to_string(&rows)?);
        let _turn = self.outbox_turn().await;
        let fallbacks: Vec<(i64, &str)> = outcomes
            .iter()
            .filter_map(|(id, outcome)| match outcome {
                DeliveryOutcome::FallBack { email_key, .. } => Some((*id, email_key.as_str())),
                _ => None,
            })
            .collect();
        if fallbacks.is_empty() {
            update
                .execute(&self.pool)
                .await
                .context("recording delivery outcomes")?;
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, email_key) in fallbacks {
            // Inserted first: the copy is made from the row while it is still `sending`.
            sqlx::query(
                "INSERT INTO outbox (idempotency_key, occurrence_id, announcement_id, step, recipient, \
                 channel, reason, not_before, created_at, updated_at) \
                 SELECT $1, occurrence_id, announcement_id, step, recipient, 'email', reason, $2, $2, $2 \
                 FROM outbox \
                 WHERE id = $3 AND state = 'sending' ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(email_key)
            .bind(now.as_second())
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("replacing a chat delivery by email")?;
        }
        update.execute(&mut *tx).await.context("recording delivery outcomes")?;
        tx.commit().await.context("committing delivery outcomes")
    }

    /// On SQLite, waits for this process's other dispatchers to finish writing the outbox.
    async fn outbox_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.outbox_writer.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Every delivery about occurrence `id`, oldest first.
    pub async fn deliveries_of(&self, occurrence_id: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE occurrence_id = $1 ORDER BY id"
        ))
        .bind(occurrence_id)
        .fetch_all(&self.pool)
        .await
        .context("listing an occurrence's deliveries")?;
        rows.iter().map(row_to_delivery).collect()
    }

    /// The delivery whose message the channel knows by `provider_id` (a Matrix event id, a
    /// Message-ID), if any.
    pub async fn delivery_by_provider_id(&self, provider_id: &str) -> anyhow::Result<Option<OutboxRow>> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE provider_id = $1 ORDER BY id LIMIT 1"
        ))
        .bind(provider_id)
        .fetch_optional(&self.pool)
        .await
        .context("finding a delivery by its message id")?;
        row.as_ref().map(row_to_delivery).transpose()
    }

    /// Every delivery of the message the channel knows by `provider_id` (a digest is one
    /// message of several deliveries), in the order they were planned.
    pub async fn deliveries_by_provider_id(&self, provider_id: &str) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE provider_id = $1 ORDER BY id"
        ))
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await
        .context("finding the deliveries of a message")?;
        rows.iter().map(row_to_delivery).collect()
    }

    /// One delivery by id.
    pub async fn delivery(&self, id: i64) -> anyhow::Result<Option<OutboxRow>> {
        let row = sqlx::query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a delivery")?;
        row.as_ref().map(row_to_delivery).transpose()
    }

    /// Marks the sent messages of deliveries `ids` dead: every delivery of each message (a
    /// digest is one message), in one statement.
    pub async fn bounce(&self, ids: &[i64], now: Timestamp) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Integers only, so listing them inline cannot inject anything.
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        sqlx::query(&format!(
            "UPDATE outbox SET state = 'dead', last_error = 'bounced: the mail server returned the message', \
             updated_at = $1 WHERE state = 'sent' AND provider_id IN \
             (SELECT provider_id FROM outbox WHERE id IN ({}) AND provider_id IS NOT NULL)",
            list.join(",")
        ))
        .bind(now.as_second())
        .execute(&self.pool)
        .await
        .context("marking bounced deliveries")?;
        Ok(())
    }

    /// The rooms personal Matrix deliveries went to: the bot's direct rooms.
    pub async fn direct_destinations(&self) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT destination FROM outbox WHERE channel = 'matrix' AND destination IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .context("listing direct rooms")
    }

    /// Deliveries, newest first; only those in `state` if given.
    pub async fn outbox(&self, state: Option<DeliveryState>, limit: usize) -> anyhow::Result<Vec<OutboxRow>> {
        outbox_in(&self.pool, state, limit).await
    }

    /// How many deliveries are in each state, and when the oldest waiting one became due.
    pub async fn outbox_depth(&self) -> anyhow::Result<(Vec<(DeliveryState, i64)>, Option<Timestamp>)> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .context("counting the outbox")?;
        let mut depth = Vec::new();
        for row in &rows {
            let state: String = row.try_get("state")?;
            depth.push((state.parse().map_err(anyhow::Error::msg)?, row.try_get("n")?));
        }
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(not_before) FROM outbox WHERE state IN ('pending', 'failed')")
                .fetch_one(&self.pool)
                .await
                .context("finding the oldest waiting delivery")?;
        Ok((depth, oldest.map(timestamp).transpose()?))
    }

    /// Puts a failed or dead delivery back in line, due now. Returns whether it was changed.
    pub async fn retry(&self, id: i64, now: Timestamp) -> anyhow::Result<bool> {
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'pending', not_before = $1, attempts = 0, updated_at = $2 \
             WHERE id = $3 AND state IN ('failed', 'dead', 'cancelled')",
        )
        .bind(now.as_second())
        .bind(now.as_second())
        .bind(id)
        .execute(&self.pool)
        .await
        .context("retrying a delivery")?;
        Ok(changed.rows_affected() == 1)
    }

    /// Puts every dead delivery back in line, due now (after fixing what killed them, e.g. a
    /// wrong webhook URL). Returns how many.
    pub async fn retry_dead(&self, now: Timestamp) -> anyhow::Result<u64> {
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'pending', not_before = $1, attempts = 0, updated_at = $2 WHERE state = 'dead'",
        )
        .bind(now.as_second())
        .bind(now.as_second())
        .execute(&self.pool)
        .await
        .context("retrying dead deliveries")?;
        Ok(changed.rows_affected())
    }

    /// Withdraws a delivery that has not been sent. Returns whether it was changed.
    pub async fn cancel(&self, id: i64, now: Timestamp) -> anyhow::Result<bool> {
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'cancelled', lease_until = NULL, updated_at = $1 \
             WHERE id = $2 AND state IN ('pending', 'failed', 'sending')",
        )
        .bind(now.as_second())
        .bind(id)
        .execute(&self.pool)
        .await
        .context("cancelling a delivery")?;
        Ok(changed.rows_affected() == 1)
    }
}

/// Inserts one delivery unless its idempotency key is already there; 1 if inserted.
/// Deliveries, newest first; only those in `state` if given.
pub(super) async fn outbox_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    state: Option<DeliveryState>,
    limit: usize,
) -> anyhow::Result<Vec<OutboxRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let filtered = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = $1 ORDER BY id DESC LIMIT $2");
    let all = format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1");
    let query = match state {
        Some(state) => sqlx::query(&filtered).bind(state.as_str()).bind(limit),
        None => sqlx::query(&all).bind(limit),
    };
    let rows = query.fetch_all(executor).await.context("listing the outbox")?;
    rows.iter().map(row_to_delivery).collect()
}

pub(super) async fn insert_delivery(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    delivery: &Delivery,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let inserted = sqlx::query(
        "INSERT INTO outbox (idempotency_key, occurrence_id, announcement_id, step, recipient, channel, reason, \
         not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(delivery.idempotency_key.as_str())
    .bind(match delivery.subject {
        Subject::Occurrence(id) => Some(id),
        Subject::Call(_) => None,
    })
    .bind(match delivery.subject {
        Subject::Call(id) => Some(id),
        Subject::Occurrence(_) => None,
    })
    .bind(delivery.step.to_string())
    .bind(delivery.recipient.as_str())
    .bind(delivery.route.to_string())
    .bind(delivery.reason.to_string())
    .bind(delivery.not_before.as_second())
    .bind(now.as_second())
    .bind(now.as_second())
    .execute(&mut **tx)
    .await
    .context("writing a delivery to the outbox")?;
    Ok(usize::try_from(inserted.rows_affected()).unwrap_or_default())
}

fn row_to_delivery(row: &sqlx::any::AnyRow) -> anyhow::Result<OutboxRow> {
    let state: String = row.try_get("state")?;
    Ok(OutboxRow {
        id: row.try_get("id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        occurrence_id: row.try_get("occurrence_id")?,
        announcement_id: row.try_get("announcement_id")?,
        step: row.try_get("step")?,
        recipient: row.try_get("recipient")?,
        channel: row.try_get("channel")?,
        reason: row.try_get("reason")?,
        state: state.parse().map_err(anyhow::Error::msg)?,
        not_before: timestamp(row.try_get("not_before")?)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        provider_id: row.try_get("provider_id")?,
        destination: row.try_get("destination")?,
        sent_at: row.try_get::<Option<i64>, _>("sent_at")?.map(timestamp).transpose()?,
    })
}
