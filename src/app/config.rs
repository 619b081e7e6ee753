//! The configuration in force: checked against the routing, and reloaded whole or not at all.

use std::sync::Arc;

use super::App;
use crate::domain::config::{Config, ConfigError, ConfigErrors};
use crate::domain::routing::Routing;

impl App {
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
