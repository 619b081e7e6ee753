//! The HTTP interface. Each feature module owns its `router()`; this module only composes them.

mod ack;
mod calls;
mod dashboard;
mod feeds;
mod health;
mod hooks;
mod metrics;
mod page;

use std::sync::Arc;

use axum::Router;

use crate::app::App;

/// The whole HTTP interface.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(ack::router())
        .merge(hooks::router())
        .merge(calls::router())
        .merge(feeds::router())
        .merge(dashboard::router())
        .with_state(app)
}
