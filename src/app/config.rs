//! The configuration in force: checked against the routing, and reloaded whole or not at all.

use std::sync::Arc;

use super::App;
use crate::domain::config::{Config, ConfigError, ConfigErrors};
use crate::domain::occurrence::unconfigured_share;
use crate::domain::routing::Routing;

/// How long a reload that would unconfigure most open occurrences waits for its confirmation
/// (the same files, reloaded again).
const CONFIRM_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// Why a reload was refused.
#[derive(Debug)]
pub enum Refused {
    /// The files do not validate.
    Invalid(ConfigErrors),
    /// They would unconfigure more than half of the open occurrences: reload the same files
    /// again within five minutes to confirm.
    Unconfigures { removed: usize, open: usize },
    /// The occurrences could not be read to count that.
    Store(anyhow::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(errors) => write!(f, "{errors}"),
            Self::Unconfigures { removed, open } => write!(
                f,
                "the new configuration would unconfigure {removed} of the {open} open occurrences; \
                 reload the same files again within {} minutes to confirm",
                CONFIRM_WITHIN.as_mins()
            ),
            Self::Store(error) => write!(f, "{error:#}"),
        }
    }
}

impl App {
    /// Re-reads the directory and the calendar. A configuration that fails validation is
    /// refused, its errors logged, and the running one kept. One that would unconfigure more
    /// than half of the open occurrences is refused the first time, the numbers logged, and
    /// taken when the same files are reloaded again within five minutes. A configuration
    /// taken is in force at once, and occurrences are materialised from it.
    pub async fn reload(&self) -> Result<(), Refused> {
        let config = self
            .files
            .load()
            .and_then(|config| checked_routing(&self.routing, config))
            .and_then(|config| checked_templates(config, self.clock.now()))
            .inspect_err(|errors| {
                for error in &errors.0 {
                    tracing::error!(%error, "reload refused: keeping the running configuration");
                }
            })
            .map_err(Refused::Invalid)?;
        let stored = self.store.occurrences().await.map_err(Refused::Store)?;
        let (removed, open) = unconfigured_share(&config, &stored);
        let now = self.clock.now();
        if removed * 2 > open {
            let mut pending = self
                .pending_reload
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let confirmed = pending
                .as_ref()
                .is_some_and(|(asked, at)| *asked == config && now.duration_since(*at) <= CONFIRM_WITHIN);
            if !confirmed {
                *pending = Some((config, now));
                let refused = Refused::Unconfigures { removed, open };
                tracing::error!(removed, open, "reload refused: {refused}");
                return Err(refused);
            }
            *pending = None;
            tracing::warn!(removed, open, "reload confirmed: occurrences are unconfigured");
        }
        *self.config.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
        tracing::info!("configuration reloaded");
        // `materialise` logs its own failure; the new configuration stays in force either way.
        let _ = self.materialise().await;
        Ok(())
    }
}

/// `config` if `routing` can serve it, with what will not reach people logged as warnings.
/// `config` if every message template renders with sample items (see
/// [`crate::domain::messages::check_templates`]): an operator's template that fails is refused
/// at start and on reload, not when the first message is due.
pub fn checked_templates(config: Config, now: jiff::Timestamp) -> Result<Config, ConfigErrors> {
    let errors = crate::domain::messages::check_templates(&config, now);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

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
