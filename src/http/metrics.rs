//! `GET /metrics`: Prometheus text exposition of deliveries, outbox depth, send latency,
//! actions and refused links.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    match app.store.outbox_depth().await {
        Ok((depth, oldest)) => {
            let age = oldest.map(|at| app.clock.now().as_second() - at.as_second());
            let body = app.metrics.render(&depth, age);
            ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "metrics: cannot read the outbox");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
