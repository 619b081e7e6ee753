//! Health for load balancers and monitoring: `GET /livez` (the process runs), `GET /readyz`
//! (it should get work: the database takes a write, the schema is current, the first
//! materialisation ran, it is not draining — else 503, naming what failed) and `GET /healthz`
//! (the readiness answer, for what was set up against it). Each answers within two seconds
//! whatever the database does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/livez", get(live))
        .route("/readyz", get(ready))
        .route("/healthz", get(ready))
}

async fn live() -> Response {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).into_response()
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let readiness = app.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        tracing::warn!(failed = ?readiness.failed, error = ?readiness.database_error, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let config = app.config();
    let mut body = json!(readiness);
    body["version"] = json!(env!("CARGO_PKG_VERSION"));
    body["units"] = json!(config.directory.units.len());
    body["obligations"] = json!(config.calendar.obligations.len());
    (status, Json(body)).into_response()
}
