//! What the process knows about its own health: when materialising, planning and dispatching
//! last succeeded, and whether it is draining for shutdown. Readiness adds what the database
//! says right now (see [`App::readiness`]).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::App;

/// The free space below which the SQLite file's disk counts as full.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// How long readiness waits for the database before it says it does not answer: a load
/// balancer must get an answer within two seconds whatever the database does.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// When the background work last succeeded (seconds since the epoch; 0: never).
#[derive(Debug, Default)]
pub struct Health {
    materialised_at: AtomicI64,
    planned_at: AtomicI64,
    dispatched_at: AtomicI64,
    draining: AtomicBool,
}

impl Health {
    pub fn materialised(&self, at: Timestamp) {
        self.materialised_at.store(at.as_second(), Ordering::Relaxed);
    }

    pub fn planned(&self, at: Timestamp) {
        self.planned_at.store(at.as_second(), Ordering::Relaxed);
    }

    pub fn dispatched(&self, at: Timestamp) {
        self.dispatched_at.store(at.as_second(), Ordering::Relaxed);
    }

    /// From now on the process is stopping: not ready for new work.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Seconds since `at` was recorded, `None` if never.
    fn age(at: &AtomicI64, now: Timestamp) -> Option<i64> {
        match at.load(Ordering::Relaxed) {
            0 => None,
            at => Some((now.as_second() - at).max(0)),
        }
    }

    /// Seconds since the last successful plan, if any.
    pub fn plan_age(&self, now: Timestamp) -> Option<i64> {
        Self::age(&self.planned_at, now)
    }

    /// Seconds since the last batch of outcomes was recorded, if any.
    pub fn dispatch_age(&self, now: Timestamp) -> Option<i64> {
        Self::age(&self.dispatched_at, now)
    }
}

/// Whether the process should get work, and what is wrong if not.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// What failed: `database_write`, `disk_full`, `schema`, `not_materialised`, `draining`.
    pub failed: Vec<&'static str>,
    /// `ok`, `unavailable` (an error) or `timeout`.
    pub database: &'static str,
    /// Why the database probe failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_error: Option<String>,
    /// The bytes free on the SQLite file's disk (none for PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_free_bytes: Option<u64>,
    pub last_plan_age_seconds: Option<i64>,
    pub last_dispatch_age_seconds: Option<i64>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.failed.is_empty()
    }
}

impl App {
    /// Asks the database for a write (within [`PROBE_TIMEOUT`]) and that its schema is
    /// current, and looks at the process's own state.
    pub async fn readiness(&self) -> Readiness {
        let now = self.clock.now();
        let mut failed = Vec::new();
        let probe = tokio::time::timeout(PROBE_TIMEOUT, async {
            self.store.write_probe(now).await?;
            self.store.schema_current().await
        })
        .await;
        let (database, database_error) = match probe {
            Ok(Ok(true)) => ("ok", None),
            Ok(Ok(false)) => {
                failed.push("schema");
                ("ok", Some("migrations are missing".to_owned()))
            }
            Ok(Err(error)) => {
                failed.push("database_write");
                ("unavailable", Some(format!("{error:#}")))
            }
            Err(_) => {
                failed.push("database_write");
                (
                    "timeout",
                    Some(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
                )
            }
        };
        let free = self.store.free_bytes();
        if free.is_some_and(|free| free < MIN_FREE_BYTES) {
            failed.push("disk_full");
        }
        if self.health.materialised_at.load(Ordering::Relaxed) == 0 {
            failed.push("not_materialised");
        }
        if self.health.draining.load(Ordering::Relaxed) {
            failed.push("draining");
        }
        Readiness {
            status: if failed.is_empty() { "ok" } else { "unavailable" },
            failed,
            database,
            database_error,
            database_free_bytes: free,
            last_plan_age_seconds: self.health.plan_age(now),
            last_dispatch_age_seconds: self.health.dispatch_age(now),
        }
    }
}
