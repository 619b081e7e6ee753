//! `GET /healthz`: whether arshjul and its database answer, for load balancers and monitoring.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/healthz", get(health))
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let config = app.config();
    let (status, database) = match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let body = json!({
        "status": if status.is_success() { "ok" } else { "unavailable" },
        "database": database,
        "version": env!("CARGO_PKG_VERSION"),
        "units": config.directory.units.len(),
        "obligations": config.calendar.obligations.len(),
    });
    (status, Json(body)).into_response()
}
