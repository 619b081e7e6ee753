//! `GET /metrics`: Prometheus text exposition of deliveries, outbox depth, send latency,
//! actions and refused links.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::app::health::PROBE_TIMEOUT;
use crate::metrics::{OutboxGauges, Scrape};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(app): State<Arc<App>>, headers: axum::http::HeaderMap) -> Response {
    if let Some(expected) = &app.metrics_token_sha256
        && super::bearer_sha256(&headers).as_ref() != Some(expected)
    {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send Authorization: Bearer with server.metrics_token\n",
        )
            .into_response();
    }
    let now = app.clock.now();
    // The database's part is left out (and `arshjul_database_up` is 0) when it does not
    // answer in time: a scrape never hangs.
    let outbox = match tokio::time::timeout(PROBE_TIMEOUT, app.store.outbox_depth()).await {
        Ok(Ok((depth, oldest))) => Some((depth, oldest.map(|at| now.as_second() - at.as_second()))),
        Ok(Err(error)) => {
            tracing::error!(error = format!("{error:#}"), "metrics: cannot read the outbox");
            None
        }
        Err(_) => {
            tracing::error!("metrics: the database did not answer in time");
            None
        }
    };
    let scrape = Scrape {
        outbox: outbox.as_ref().map(|(depth, oldest)| OutboxGauges {
            depth,
            oldest_waiting_seconds: *oldest,
        }),
        plan_age: app.health.plan_age(now),
        dispatch_age: app.health.dispatch_age(now),
    };
    let body = app.metrics.render(&scrape);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}
