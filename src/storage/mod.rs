//! One `Store` over SQLite (embedded default) or PostgreSQL (several instances sharing state),
//! through sqlx's `Any` driver. SQL is written once in the dialect both understand; times are
//! integer seconds since the Unix epoch (UTC) on both.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection as _, Executor as _, Row as _};

use crate::domain::config::Config;
use crate::domain::occurrence::{Change, OccurrenceState, StoredOccurrence, reconcile};
use crate::domain::steps::{DeliveryState, Subject};
use crate::settings::DatabaseSettings;

mod actions;
mod calls;
mod dashboard;
mod feeds;
mod inbox;
mod outbox;

pub use calls::{Announced, CallChange, InterestRecorded, InterestRow, Outcome};
pub use dashboard::Session;
pub use inbox::{InboxRow, Settled};

pub use outbox::{DeliveryOutcome, OutboxRow};

/// The columns `occurrence_from_row` reads.
const OCCURRENCE_COLUMNS: &str = "id, obligation, unit, period, due_at, state, submitted_at, configured, paused_until, \
     announcement_id, diarienummer";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Keys of the PostgreSQL advisory locks that make materialisation and planning singleton jobs
/// (public so operators and tests can see who holds them in `pg_locks`).
pub const MATERIALISE_LOCK: i64 = 0x6172_736A_756C_0001;
pub const PLAN_LOCK: i64 = 0x6172_736A_756C_0002;
/// Held while deciding whether a sign-in link may be mailed.
pub const SIGN_IN_LOCK: i64 = 0x6172_736A_756C_0003;

/// Which database engine a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A subquery giving the outcomes bound in parameter `$n` as a JSON list (`record`'s
    /// `OutcomeRow`s) as rows `id, state, provider_id, destination, error, not_before`.
    fn outcome_rows(self, n: u8) -> String {
        match self {
            Self::Sqlite => format!(
                "SELECT value ->> 'id' AS id, value ->> 'state' AS state, value ->> 'provider_id' AS provider_id, \
                 value ->> 'destination' AS destination, value ->> 'error' AS error, value ->> 'not_before' AS not_before \
                 FROM json_each(${n})"
            ),
            Self::Postgres => format!(
                "SELECT * FROM jsonb_to_recordset(${n}::jsonb) AS r(id bigint, state text, provider_id text, \
                 destination text, error text, not_before bigint)"
            ),
        }
    }
}

/// The database, with the queries arshjul needs.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file's directory, whose file system's free space readiness watches.
    sqlite_dir: Option<std::path::PathBuf>,
    /// The dispatchers' turn to write the outbox on SQLite, which takes one writer at a time:
    /// waiting here is a wake-up when the other is done, not SQLite's sleeping busy handler.
    outbox_writer: Arc<tokio::sync::Mutex<()>>,
}

/// One row of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub occurrence_id: Option<i64>,
    pub actor: String,
    pub action: String,
    /// JSON object with the particulars of the action.
    pub detail: String,
}

/// What one materialisation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaterialiseReport {
    pub created: usize,
    pub rescheduled: usize,
    pub unconfigured: usize,
    pub reconfigured: usize,
}

impl Store {
    /// Connects to the configured database; for SQLite the file and its directory are created.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        install_default_drivers();
        let url = settings.url.expose();
        let mut sqlite_dir = None;
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or_default();
            let parent = Path::new(file).parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating the database directory {}", parent.display()))?;
            }
            sqlite_dir = Some(parent.unwrap_or(Path::new(".")).to_owned());
            let separator = if path.contains('?') { '&' } else { '?' };
            (Backend::Sqlite, format!("{url}{separator}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            anyhow::bail!(
                "database.url must start with sqlite:// or postgres://, got {}",
                settings.redacted_url()
            );
        };
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            // A connection whose COMMIT failed (a full disk, a read-only file) can come back
            // still counting itself in a transaction — sqlx-sqlite 0.8 does not reset it, and
            // SQLite has already rolled back — so every later BEGIN on it would be refused.
            // It is closed instead of going back to the pool, checked after a ping, which lets
            // a queued rollback of a dropped transaction finish. Checked on release, this costs
            // the next caller nothing.
            .after_release(|connection, _| {
                Box::pin(async move {
                    connection.ping().await?;
                    Ok(!connection.is_in_transaction())
                })
            })
            // A connection to a local file does not go away; one to a server can.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        connection
                            .execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("connecting to {}", settings.redacted_url()))?;
        Ok(Self {
            pool,
            backend,
            sqlite_dir,
            outbox_writer: Arc::default(),
        })
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the migrations that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Postgres => POSTGRES_MIGRATIONS
                .run(&self.pool)
                .await
                .context("running database migrations"),
            // Some migrations rebuild a table (SQLite cannot alter a column), which the
            // foreign keys pointing at it would forbid; they are checked once afterwards.
            Backend::Sqlite => {
                let mut connection = self.pool.acquire().await.context("connecting to migrate")?;
                connection.execute("PRAGMA foreign_keys = OFF").await?;
                let migrated = SQLITE_MIGRATIONS
                    .run(&mut *connection)
                    .await
                    .context("running database migrations");
                connection.execute("PRAGMA foreign_keys = ON").await?;
                migrated?;
                let broken = sqlx::query("PRAGMA foreign_key_check")
                    .fetch_all(&mut *connection)
                    .await
                    .context("checking foreign keys after migrating")?;
                anyhow::ensure!(
                    broken.is_empty(),
                    "{} rows break foreign keys after migrating",
                    broken.len()
                );
                Ok(())
            }
        }
    }

    /// Checks that the database takes a write: `SELECT 1` is answered by a full or read-only
    /// SQLite file too, so the probe writes (and commits) a heartbeat row.
    pub async fn write_probe(&self, now: Timestamp) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('health.probe', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(now.to_string())
        .execute(&mut *tx)
        .await
        .context("writing the health probe")?;
        tx.commit().await.context("committing the health probe")
    }

    /// The bytes free on the SQLite file's file system; `None` for PostgreSQL (whose server
    /// minds its own disk) or when the system cannot say. SQLite writes into space its WAL
    /// already holds, so a small probe succeeds on a full disk that refuses real work.
    pub fn free_bytes(&self) -> Option<u64> {
        fs4::available_space(self.sqlite_dir.as_ref()?).ok()
    }

    /// Whether every migration this build knows has been applied.
    pub async fn schema_current(&self) -> anyhow::Result<bool> {
        let known = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATIONS.iter().count(),
        };
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .context("reading the applied migrations")?;
        Ok(usize::try_from(applied).is_ok_and(|applied| applied >= known))
    }

    /// Closes every connection; for tests that drop a database afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Every stored occurrence, in due order.
    pub async fn occurrences(&self) -> anyhow::Result<Vec<StoredOccurrence>> {
        occurrences_in(&self.pool).await
    }

    /// The audit log, oldest first; only the entries of one occurrence if given.
    pub async fn audit_log(&self, occurrence_id: Option<i64>) -> anyhow::Result<Vec<AuditEntry>> {
        audit_log_in(&self.pool, occurrence_id).await
    }

    /// The occurrences, the audit log and the deliveries waiting, read in one read-only
    /// transaction: one moment's picture, never a state without the action that made it.
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.pool.begin_with(begin).await.context("starting a snapshot")?;
        let snapshot = Snapshot {
            occurrences: occurrences_in(&mut *tx).await?,
            audit: audit_log_in(&mut *tx, None).await?,
            pending: outbox::outbox_in(&mut *tx, Some(DeliveryState::Pending), usize::MAX).await?,
        };
        tx.commit().await.context("ending a snapshot")?;
        Ok(snapshot)
    }
}

/// What [`Store::snapshot`] read.
#[derive(Debug)]
pub struct Snapshot {
    pub occurrences: Vec<StoredOccurrence>,
    pub audit: Vec<AuditEntry>,
    /// Pending deliveries, newest first.
    pub pending: Vec<OutboxRow>,
}

async fn occurrences_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
) -> anyhow::Result<Vec<StoredOccurrence>> {
    let sql = format!("SELECT {OCCURRENCE_COLUMNS} FROM occurrences ORDER BY due_at, obligation, unit");
    let rows = sqlx::query(&sql)
        .fetch_all(executor)
        .await
        .context("listing occurrences")?;
    rows.iter().map(occurrence_from_row).collect()
}

async fn audit_log_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    occurrence_id: Option<i64>,
) -> anyhow::Result<Vec<AuditEntry>> {
    let query = match occurrence_id {
        Some(id) => sqlx::query(
            "SELECT id, at, occurrence_id, actor, action, detail FROM audit_log WHERE occurrence_id = $1 ORDER BY id",
        )
        .bind(id),
        None => sqlx::query("SELECT id, at, occurrence_id, actor, action, detail FROM audit_log ORDER BY id"),
    };
    let rows = query.fetch_all(executor).await.context("reading the audit log")?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: timestamp(row.try_get("at")?)?,
                occurrence_id: row.try_get("occurrence_id")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

impl Store {
    /// Brings the stored occurrences in line with `config` as of `now`: creates what the
    /// window wants, moves open due dates the configuration moved, and marks (never deletes)
    /// occurrences whose obligation or unit left the configuration. Every change is audited.
    /// Running it again with the same input changes nothing.
    pub async fn materialise(&self, config: &Config, now: Timestamp) -> anyhow::Result<MaterialiseReport> {
        let wanted = config.occurrences_to_materialise(now);
        let mut tx = self.begin_singleton(MATERIALISE_LOCK).await?;
        let rows = sqlx::query(&format!("SELECT {OCCURRENCE_COLUMNS} FROM occurrences"))
            .fetch_all(&mut *tx)
            .await
            .context("reading occurrences")?;
        let stored = rows
            .iter()
            .map(occurrence_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let now_secs = now.as_second();
        let mut report = MaterialiseReport::default();
        for change in reconcile(config, &stored, &wanted) {
            let (occurrence_id, action, detail) = match change {
                Change::Create(occurrence) => {
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO occurrences (obligation, unit, period, due_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (obligation, unit, period) DO NOTHING RETURNING id",
                    )
                    .bind(occurrence.obligation.as_str())
                    .bind(occurrence.unit.as_str())
                    .bind(occurrence.period.to_string())
                    .bind(occurrence.due_at.as_second())
                    .bind(now_secs)
                    .bind(now_secs)
                    .fetch_optional(&mut *tx)
                    .await
                    .context("inserting an occurrence")?;
                    let Some(id) = inserted else { continue };
                    report.created += 1;
                    (
                        id,
                        "created",
                        serde_json::json!({ "due_at": occurrence.due_at.to_string() }),
                    )
                }
                Change::Reschedule { id, from, to } => {
                    sqlx::query("UPDATE occurrences SET due_at = $1, updated_at = $2 WHERE id = $3")
                        .bind(to.as_second())
                        .bind(now_secs)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .context("rescheduling an occurrence")?;
                    report.rescheduled += 1;
                    (
                        id,
                        "rescheduled",
                        serde_json::json!({ "from": from.to_string(), "to": to.to_string() }),
                    )
                }
                Change::Unconfigure { id } | Change::Reconfigure { id } => {
                    let configured = matches!(change, Change::Reconfigure { .. });
                    sqlx::query("UPDATE occurrences SET configured = $1, updated_at = $2 WHERE id = $3")
                        .bind(i64::from(configured))
                        .bind(now_secs)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .context("marking an occurrence's configuration")?;
                    if configured {
                        report.reconfigured += 1;
                        (id, "reconfigured", serde_json::json!({}))
                    } else {
                        report.unconfigured += 1;
                        (
                            id,
                            "unconfigured",
                            serde_json::json!({ "reason": "obligation or unit no longer configured" }),
                        )
                    }
                }
            };
            audit(
                &mut tx,
                now,
                Subject::Occurrence(occurrence_id),
                "system",
                action,
                &detail,
            )
            .await?;
        }
        tx.commit().await.context("committing the materialisation")?;
        Ok(report)
    }
}

impl Store {
    /// A write transaction that only one instance runs at a time: on PostgreSQL it holds the
    /// advisory lock `key` until commit; on SQLite the write lock is taken up front so a
    /// concurrent writer cannot make the later upgrade fail.
    async fn begin_singleton(&self, key: i64) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .context("starting a transaction")?;
        if self.backend == Backend::Postgres {
            sqlx::query(&format!("SELECT pg_advisory_xact_lock({key})"))
                .execute(&mut *tx)
                .await
                .context("taking an advisory lock")?;
        }
        Ok(tx)
    }
}

/// Appends one entry to the audit log inside `tx`.
async fn audit(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    at: Timestamp,
    subject: Subject,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> anyhow::Result<()> {
    let (occurrence_id, announcement_id) = match subject {
        Subject::Occurrence(id) => (Some(id), None),
        Subject::Call(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO audit_log (at, occurrence_id, announcement_id, actor, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
        .bind(at.as_second())
        .bind(occurrence_id)
        .bind(announcement_id)
        .bind(actor)
        .bind(action)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await
        .context("writing the audit log")?;
    Ok(())
}

fn occurrence_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<StoredOccurrence> {
    let state: String = row.try_get("state")?;
    Ok(StoredOccurrence {
        id: row.try_get("id")?,
        obligation: row.try_get("obligation")?,
        unit: row.try_get("unit")?,
        period: row.try_get("period")?,
        due_at: timestamp(row.try_get("due_at")?)?,
        state: OccurrenceState::from_str(&state).map_err(anyhow::Error::msg)?,
        submitted_at: row
            .try_get::<Option<i64>, _>("submitted_at")?
            .map(timestamp)
            .transpose()?,
        configured: row.try_get::<i64, _>("configured")? != 0,
        paused_until: row
            .try_get::<Option<i64>, _>("paused_until")?
            .map(timestamp)
            .transpose()?,
        announcement_id: row.try_get("announcement_id")?,
        diarienummer: row.try_get("diarienummer")?,
    })
}

fn timestamp(seconds: i64) -> anyhow::Result<Timestamp> {
    Timestamp::from_second(seconds).with_context(|| format!("{seconds} is not a valid timestamp"))
}
