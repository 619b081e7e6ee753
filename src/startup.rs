//! The composition root: `Application::build(settings)` wires configuration, database, jobs
//! and HTTP; `run_until_stopped(shutdown)` runs them until the token is cancelled.

use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::domain::config::{Config, ConfigErrors};
use crate::settings::{FilesSettings, Settings};
use crate::storage::{MaterialiseReport, Store};

/// State shared by the HTTP handlers, the jobs and the reload signal.
pub struct Shared {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    files: FilesSettings,
    /// The configuration in force; replaced whole on a successful reload.
    config: RwLock<Arc<Config>>,
}

impl Shared {
    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Re-reads the directory and the calendar. A configuration that fails validation is
    /// refused, its errors logged, and the running one kept; a valid one takes effect and
    /// occurrences are materialised from it.
    pub async fn reload(&self) -> Result<(), ConfigErrors> {
        let config = self.files.load().inspect_err(|errors| {
            for error in &errors.0 {
                tracing::error!(%error, "reload refused: keeping the running configuration");
            }
        })?;
        *self.config.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
        tracing::info!("configuration reloaded");
        // `materialise` logs its own failure; the new configuration stays in force either way.
        let _ = self.materialise().await;
        Ok(())
    }

    /// Brings the stored occurrences in line with the configuration in force, now.
    pub async fn materialise(&self) -> anyhow::Result<MaterialiseReport> {
        let outcome = self.store.materialise(&self.config(), self.clock.now()).await;
        match &outcome {
            Ok(report) => tracing::info!(
                created = report.created,
                rescheduled = report.rescheduled,
                unconfigured = report.unconfigured,
                reconfigured = report.reconfigured,
                "occurrences materialised"
            ),
            Err(error) => tracing::error!(error = format!("{error:#}"), "materialisation failed"),
        }
        outcome
    }
}

/// A built, not yet running, arshjul daemon.
pub struct Application {
    listener: TcpListener,
    shared: Arc<Shared>,
    materialise_cron: String,
}

impl Application {
    /// Loads the configuration, connects and migrates the database, and binds the HTTP port.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let config = settings
            .files
            .load()
            .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
        crate::jobs::validate_cron(&settings.jobs.materialise)?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        let address = settings.server.address();
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding HTTP on {address}"))?;
        let shared = Arc::new(Shared {
            store,
            clock,
            files: settings.files,
            config: RwLock::new(Arc::new(config)),
        });
        Ok(Self {
            listener,
            shared,
            materialise_cron: settings.jobs.materialise,
        })
    }

    /// The port the HTTP server listens on (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The state shared with handlers and jobs, e.g. to reload on SIGHUP.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Materialises once, then serves HTTP and runs the jobs until `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // A failure is logged and retried by the daily job; the service still starts.
        let _ = self.shared.materialise().await;
        let mut scheduler = crate::jobs::start(Arc::clone(&self.shared), &self.materialise_cron).await?;
        tracing::info!(address = %self.listener.local_addr()?, "arshjul is serving");
        let served = axum::serve(self.listener, crate::http::router(Arc::clone(&self.shared)))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("serving HTTP");
        scheduler.shutdown().await.context("stopping the job scheduler")?;
        self.shared.store.close().await;
        tracing::info!("arshjul stopped");
        served
    }
}
