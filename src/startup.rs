//! The composition root: `Application::build(settings)` opens the [`App`] (configuration,
//! database, channels) and wires the adapters around it — the dispatcher, the jobs, the inbound
//! transports and HTTP; `run_until_stopped(shutdown)` runs them until the token is cancelled.
//! Only the CLI and the tests use it.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::channels::matrix::MatrixNotifier;
use crate::clock::Clock;
use crate::outbox::Dispatcher;
use crate::settings::Settings;

/// A built, not yet running, arshjul daemon.
pub struct Application {
    listener: TcpListener,
    server: crate::settings::ServerSettings,
    /// The Matrix bot, whose rooms are followed for replies.
    matrix_bot: Option<Arc<MatrixNotifier>>,
    /// The email settings, when replies are fetched by IMAP.
    imap: Option<crate::settings::EmailSettings>,
    app: Arc<App>,
    dispatcher: Arc<Dispatcher>,
    materialise_cron: String,
    inbox_retention_days: i64,
    plan_cron: String,
}

impl Application {
    /// Loads the configuration, connects and migrates the database, builds the channels and
    /// binds the HTTP port. Any setting that is wrong stops it here, with the key named.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::jobs::validate_cron("jobs.materialise", &settings.jobs.materialise)?;
        crate::jobs::validate_cron("delivery.plan", &settings.delivery.plan)?;
        settings.check_secrets().context("settings")?;
        if let Some(warning) = settings.database.unencrypted_warning() {
            tracing::warn!("{warning}");
        }
        let app = Arc::new(App::open(&settings, clock).await?);
        let matrix_bot = app.notifiers.matrix.clone();
        let address = settings.server.address();
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding HTTP on {address}"))?;
        let plan_cron = settings.delivery.plan.clone();
        let dispatcher = Arc::new(Dispatcher::new(Arc::clone(&app), settings.delivery));
        let imap = (!settings.email.imap_url.expose().is_empty()).then_some(settings.email);
        Ok(Self {
            listener,
            server: settings.server.clone(),
            matrix_bot,
            imap,
            app,
            dispatcher,
            materialise_cron: settings.jobs.materialise,
            inbox_retention_days: settings.jobs.inbox_retention_days,
            plan_cron,
        })
    }

    /// The port the HTTP server listens on (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The dispatcher, for tests that drive it step by step instead of running the daemon.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// The state shared with handlers and jobs, e.g. to reload on SIGHUP.
    pub fn app(&self) -> Arc<App> {
        Arc::clone(&self.app)
    }

    /// Materialises and plans once, then serves HTTP, runs the jobs and dispatches until
    /// `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // Failures are logged and retried by the jobs; the service still starts.
        let _ = self.app.materialise().await;
        let _ = self.app.plan().await;
        let mut scheduler = crate::jobs::start(
            Arc::clone(&self.app),
            &self.materialise_cron,
            &self.plan_cron,
            self.inbox_retention_days,
        )
        .await?;
        let dispatching = tokio::spawn(self.dispatcher.run_until_stopped(shutdown.clone()));
        let polling = self.imap.map(|email| {
            tokio::spawn(crate::inbound::imap::poll_until_stopped(
                Arc::clone(&self.app),
                email,
                shutdown.clone(),
            ))
        });
        let following = self.matrix_bot.map(|bot| {
            tokio::spawn(crate::inbound::matrix::follow_until_stopped(
                Arc::clone(&self.app),
                bot,
                shutdown.clone(),
            ))
        });
        // From the stop signal on, readiness says so while requests in flight finish.
        let draining = {
            let (app, shutdown) = (Arc::clone(&self.app), shutdown.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                app.health.drain();
            })
        };
        tracing::info!(address = %self.listener.local_addr()?, "arshjul is serving");
        let served = crate::http::serve(
            self.listener,
            crate::http::router(Arc::clone(&self.app), crate::http::ClientLimits::new(&self.server)),
            &self.server,
            shutdown.clone(),
        )
        .await
        .context("serving HTTP");
        // HTTP can also stop on its own (an accept error); stop everything else with it.
        shutdown.cancel();
        scheduler.shutdown().await.context("stopping the job scheduler")?;
        dispatching.await.context("joining the dispatcher")?;
        if let Some(following) = following {
            following.await.context("joining the Matrix follower")?;
        }
        if let Some(polling) = polling {
            polling.await.context("joining the IMAP poller")?;
        }
        draining.await.context("joining the drain signal")?;
        self.app.store.close().await;
        tracing::info!("arshjul stopped");
        served
    }
}
