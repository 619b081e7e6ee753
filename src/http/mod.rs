//! The HTTP interface. Each feature module owns its `router()`; this module only composes them.

mod ack;
mod calls;
mod dashboard;
mod feeds;
mod health;
mod hooks;
mod limits;
mod metrics;
mod page;
mod server;

pub use limits::ClientLimits;
pub use server::serve;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::app::App;

/// The whole HTTP interface. Everything but the health probes and metrics (asked by load
/// balancers and scrapers, not people) is limited per client.
pub fn router(app: Arc<App>, limits: Arc<ClientLimits>) -> Router {
    let limited = Router::new()
        .merge(ack::router())
        .merge(hooks::router())
        .merge(calls::router())
        .merge(feeds::router())
        .merge(dashboard::router())
        .route_layer(axum::middleware::from_fn_with_state(limits, limits::within_limit));
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(limited)
        .layer(axum::middleware::map_response(guarded))
        .with_state(app)
}

/// The SHA-256 (lowercase hex) of the request's `Authorization: Bearer` token, if it has one:
/// tokens are configured, and compared, as their hashes.
fn bearer_sha256(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|token| crate::domain::tokens::sha256_hex(token.trim().as_bytes()))
}

/// Every response's security headers, unless its handler set its own: no script, no framing,
/// no referrer outside the site, no sniffing, and nothing kept in caches — the addresses of
/// acknowledgement pages, call answers and feeds are capabilities, and pages show personal
/// data.
async fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}
