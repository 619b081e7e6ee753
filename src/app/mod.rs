//! The application: one [`App`] state over the store, the channels and the configuration in
//! force, and the use cases every entry point calls — HTTP handlers, the inbound transports,
//! the jobs, the dispatcher and the CLI. A use case is written once here, so the rules are the
//! same from everywhere.
//!
//! - [`config`]: the configuration in force and its reload.
//! - [`planning`]: materialise occurrences, plan deliveries, enqueue one-off notices.
//! - [`actions`]: record a person's action on an occurrence and what follows from it.
//! - [`calls`]: EU funding calls — announce, correct, cancel, answer.
//! - [`inbound`]: take a message in, match its sender and item, check, act, settle.
//! - [`links`]: the signed links that go into messages.
//! - [`health`]: when the background work last succeeded, and readiness.
//!
//! `app` sees storage, channels and the domain; it imports no adapter (HTTP, the inbound
//! transports, the outbox's dispatcher, jobs, CLI).

pub mod actions;
pub mod calls;
pub mod config;
pub mod health;
pub mod inbound;
pub mod links;
pub mod oidc;
pub mod planning;
pub mod sign_in;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::channels::Notifiers;
use crate::clock::Clock;
use crate::domain::config::Config;
use crate::domain::routing::Routing;
use crate::metrics::Metrics;
use crate::settings::{FilesSettings, Settings};
use crate::storage::Store;
use calls::CallDesk;
use links::Links;

/// The state every entry point shares: the HTTP handlers, the jobs, the dispatcher, the
/// inbound transports and the reload signal.
pub struct App {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub links: Links,
    /// Mails sign-in links within their limits.
    pub sign_in: sign_in::SignInMail,
    /// Signing in through the organisation's OpenID provider, when `[sign_in.oidc]` is set.
    pub oidc: Option<oidc::OidcSignIn>,
    /// Every channel that is set up; the dispatcher sends deliveries through it, the dashboard
    /// its sign-in links, and the inbound transports their answers.
    pub notifiers: Arc<Notifiers>,
    /// Which channels each step goes out on.
    pub routing: Routing,
    /// The key that signs requests from the Teams outgoing webhook, when it is set up.
    pub teams_hook_key: Option<ring::hmac::Key>,
    /// How EU funding calls reach the network.
    pub calls: CallDesk,
    /// The SHA-256 (lowercase hex) of the bearer token `/metrics` asks for, if it asks.
    pub metrics_token_sha256: Option<String>,
    /// The API's bearer tokens: SHA-256 (lowercase hex) → the person they act as.
    pub api_tokens: BTreeMap<String, String>,
    /// The `authserv-id` whose `Authentication-Results` vouch for an email's sender (empty:
    /// none does).
    pub trusted_authserv_id: String,
    /// When materialising, planning and dispatching last succeeded; draining.
    pub health: health::Health,
    files: FilesSettings,
    /// The configuration in force; replaced whole on a successful reload.
    config: RwLock<Arc<Config>>,
    /// A reload that would unconfigure most open occurrences, waiting for its confirmation.
    pending_reload: std::sync::Mutex<Option<(Config, jiff::Timestamp)>>,
}

impl App {
    /// Loads and checks the configuration, builds the channels, connects and migrates the
    /// database: everything but HTTP and the jobs, for the daemon and for commands such as
    /// `mailgate` that act while it runs.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::channels::install_crypto_provider();
        let routing = settings.routing();
        let config = settings
            .files
            .load()
            .and_then(|config| config::checked_routing(&routing, config))
            .and_then(|config| config::checked_templates(config, clock.now()))
            .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
        let notifiers = Notifiers::new(settings)?;
        settings.email.imap_account()?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        let links = Links::new(&settings.links, &store).await?;
        Ok(Self {
            teams_hook_key: settings.teams.outgoing_key()?,
            calls: CallDesk::new(&settings.calls)?,
            api_tokens: settings.api.token_table(&config.directory)?,
            metrics_token_sha256: settings.server.metrics_token_sha256(),
            trusted_authserv_id: settings.email.trusted_authserv_id.trim().to_owned(),
            notifiers: Arc::new(notifiers),
            store,
            clock,
            metrics: Metrics::default(),
            links,
            sign_in: sign_in::SignInMail::new(&settings.sign_in),
            oidc: oidc::OidcSignIn::from_settings(settings)?,
            routing,
            health: health::Health::default(),
            files: settings.files.clone(),
            config: RwLock::new(Arc::new(config)),
            pending_reload: std::sync::Mutex::new(None),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}
