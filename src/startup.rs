//! The composition root: `Application::build(settings)` wires configuration, database,
//! channels, jobs and HTTP; `run_until_stopped(shutdown)` runs them until the token is cancelled.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::calls::CallDesk;
use crate::channels::email::EmailNotifier;
use crate::channels::matrix::MatrixNotifier;
use crate::clock::Clock;
use crate::domain::config::{Config, ConfigError, ConfigErrors};
use crate::domain::occurrence::{Action, OccurrenceState, StoredOccurrence};
use crate::domain::occurrence::{ActionOutcome, Actor};
use crate::domain::planner::notice;
use crate::domain::routing::Routing;
use crate::domain::steps::Step;
use crate::links::Links;
use crate::metrics::Metrics;
use crate::outbox::{Dispatcher, Notifiers};
use crate::settings::{FilesSettings, Settings};
use crate::storage::{MaterialiseReport, Store};

/// State shared by the HTTP handlers, the jobs, the dispatcher and the reload signal.
pub struct Shared {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub links: Links,
    /// Which channels each step goes out on.
    pub routing: Routing,
    /// The key that signs requests from the Teams outgoing webhook, when it is set up.
    pub teams_hook_key: Option<ring::hmac::Key>,
    /// How EU funding calls reach the network.
    pub calls: CallDesk,
    /// The API's bearer tokens: SHA-256 (lowercase hex) → the person they act as.
    pub api_tokens: BTreeMap<String, String>,
    /// Sends what is not a delivery of the outbox: the dashboard's sign-in links.
    pub mailer: EmailNotifier,
    files: FilesSettings,
    /// The configuration in force; replaced whole on a successful reload.
    config: RwLock<Arc<Config>>,
}

impl Shared {
    /// Loads and checks the configuration, builds the channels, connects and migrates the
    /// database: everything but HTTP and the jobs, for the daemon and for commands such as
    /// `mailgate` that act while it runs.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<(Self, Notifiers)> {
        crate::channels::install_crypto_provider();
        let routing = settings.routing();
        let config = settings
            .files
            .load()
            .and_then(|config| checked_routing(&routing, config))
            .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
        let notifiers = Notifiers::new(settings)?;
        crate::inbound::imap::check(&settings.email)?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        let links = Links::new(&settings.links, &store).await?;
        let teams_hook_key = match settings.teams.outgoing_secret.expose() {
            "" => None,
            secret => {
                use base64::Engine as _;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(secret.trim())
                    .map_err(|_| anyhow::anyhow!("teams.outgoing_secret: not the base64 token Teams showed"))?;
                Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key))
            }
        };
        let api_tokens = settings
            .api
            .tokens
            .iter()
            .map(|(name, token)| {
                let hash = token.sha256.trim().to_ascii_lowercase();
                anyhow::ensure!(
                    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                    "api.tokens.{name}.sha256: not a SHA-256 in hex (64 characters 0-9a-f)"
                );
                anyhow::ensure!(
                    config.directory.person_named(&token.person).is_some(),
                    "api.tokens.{name}.person: \"{}\" is not in the directory",
                    token.person
                );
                Ok((hash, token.person.clone()))
            })
            .collect::<anyhow::Result<_>>()?;
        let shared = Self {
            teams_hook_key,
            calls: CallDesk::new(&settings.calls)?,
            api_tokens,
            mailer: EmailNotifier::new(&settings.email)?,
            store,
            clock,
            metrics: Metrics::default(),
            links,
            routing,
            files: settings.files.clone(),
            config: RwLock::new(Arc::new(config)),
        };
        Ok((shared, notifiers))
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Re-reads the directory and the calendar. A configuration that fails validation is
    /// refused, its errors logged, and the running one kept; a valid one takes effect and
    /// occurrences are materialised from it.
    pub async fn reload(&self) -> Result<(), ConfigErrors> {
        let config = self
            .files
            .load()
            .and_then(|config| checked_routing(&self.routing, config))
            .inspect_err(|errors| {
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

    /// Records `action` on occurrence `id` as `actor` does, and what follows from it at once: the
    /// next step is planned (the manager's acknowledgement request), and an acknowledgement is
    /// told to the responsible person.
    pub async fn record_action(
        &self,
        id: i64,
        action: Action,
        actor: &Actor<'_>,
    ) -> anyhow::Result<Option<ActionOutcome>> {
        let now = self.clock.now();
        let outcome = self.store.record_action(id, action, actor, now).await?;
        if let Some(ActionOutcome::Recorded { to, .. }) = &outcome {
            // `plan` logs its own failure, and the minute job tries again.
            let _ = self.plan().await;
            if *to == OccurrenceState::Acknowledged
                && let Some(occurrence) = self.store.occurrence(id).await?
            {
                self.notify(&occurrence, Step::Closed, actor.person).await?;
            }
        }
        Ok(outcome)
    }

    /// Puts a one-off `step` message about `occurrence` in the outbox (see [`notice`]).
    pub async fn notify(&self, occurrence: &StoredOccurrence, step: Step, by: &str) -> anyhow::Result<()> {
        let now = self.clock.now();
        let deliveries = notice(&self.config(), occurrence, &self.routing, step, by, now);
        self.store.enqueue(&deliveries, now).await.map(drop)
    }

    /// Writes the deliveries wanted now to the outbox — reminders, escalations, requests, and
    /// the weekly summaries of EU calls; returns how many were new.
    pub async fn plan(&self) -> anyhow::Result<usize> {
        let outcome = self.plan_now().await;
        match &outcome {
            Ok(0) => tracing::debug!("planned: nothing new"),
            Ok(created) => tracing::info!(created, "deliveries planned"),
            Err(error) => tracing::error!(error = format!("{error:#}"), "planning failed"),
        }
        outcome
    }

    async fn plan_now(&self) -> anyhow::Result<usize> {
        let (config, now) = (self.config(), self.clock.now());
        let planned = self.store.plan(&config, &self.routing, now).await?;
        let announcements = self.store.announcements().await?;
        let summaries = crate::domain::calls::summary_deliveries(&config, &self.routing, &announcements, now);
        Ok(planned + self.store.enqueue(&summaries, now).await?)
    }
}

/// `config` if `routing` can serve it, with what will not reach people logged as warnings.
pub fn checked_routing(routing: &Routing, config: Config) -> Result<Config, ConfigErrors> {
    let (errors, warnings) = routing.check(&config);
    for warning in warnings {
        tracing::warn!(%warning, "routing");
    }
    if errors.is_empty() {
        return Ok(config);
    }
    Err(ConfigErrors(
        errors
            .into_iter()
            .map(|reason| ConfigError {
                file: "settings".into(),
                line: None,
                key: String::new(),
                reason,
            })
            .collect(),
    ))
}

/// A built, not yet running, arshjul daemon.
pub struct Application {
    listener: TcpListener,
    /// The Matrix bot, whose rooms are followed for replies.
    matrix_bot: Option<Arc<MatrixNotifier>>,
    /// The email settings, when replies are fetched by IMAP.
    imap: Option<crate::settings::EmailSettings>,
    notifiers: Arc<Notifiers>,
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
    materialise_cron: String,
    plan_cron: String,
}

impl Application {
    /// Loads the configuration, connects and migrates the database, builds the channels and
    /// binds the HTTP port. Any setting that is wrong stops it here, with the key named.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::jobs::validate_cron("jobs.materialise", &settings.jobs.materialise)?;
        crate::jobs::validate_cron("delivery.plan", &settings.delivery.plan)?;
        let (shared, notifiers) = Shared::open(&settings, clock).await?;
        let matrix_bot = notifiers.matrix.clone();
        let address = settings.server.address();
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding HTTP on {address}"))?;
        let shared = Arc::new(shared);
        let plan_cron = settings.delivery.plan.clone();
        let notifiers = Arc::new(notifiers);
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&shared),
            Arc::clone(&notifiers),
            settings.delivery,
        ));
        let imap = (!settings.email.imap_url.expose().is_empty()).then_some(settings.email);
        Ok(Self {
            listener,
            matrix_bot,
            imap,
            notifiers,
            shared,
            dispatcher,
            materialise_cron: settings.jobs.materialise,
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
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Materialises and plans once, then serves HTTP, runs the jobs and dispatches until
    /// `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // Failures are logged and retried by the jobs; the service still starts.
        let _ = self.shared.materialise().await;
        let _ = self.shared.plan().await;
        let mut scheduler =
            crate::jobs::start(Arc::clone(&self.shared), &self.materialise_cron, &self.plan_cron).await?;
        let dispatching = tokio::spawn(self.dispatcher.run_until_stopped(shutdown.clone()));
        let polling = self.imap.map(|email| {
            tokio::spawn(crate::inbound::imap::poll_until_stopped(
                Arc::clone(&self.shared),
                Arc::clone(&self.notifiers),
                email,
                shutdown.clone(),
            ))
        });
        let following = self.matrix_bot.map(|bot| {
            tokio::spawn(crate::inbound::matrix::follow_until_stopped(
                Arc::clone(&self.shared),
                bot,
                shutdown.clone(),
            ))
        });
        tracing::info!(address = %self.listener.local_addr()?, "arshjul is serving");
        let served = axum::serve(self.listener, crate::http::router(Arc::clone(&self.shared)))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
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
        self.shared.store.close().await;
        tracing::info!("arshjul stopped");
        served
    }
}
