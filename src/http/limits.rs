//! Who a request comes from, and how many requests a minute one client may make to the public
//! endpoints that do work: a keyed GCRA limiter (governor); beyond it, 429 with Retry-After.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::settings::ServerSettings;

/// Clients whose state the limiter keeps before it forgets those that are back to full.
const REMEMBERED_CLIENTS: usize = 10_000;

/// The limit per client, and how clients are told apart.
pub struct ClientLimits {
    limiter: RateLimiter<String, HashMapStateStore<String>, DefaultClock>,
    address_header: String,
}

impl ClientLimits {
    /// The limits `settings` give, with no client seen yet.
    pub fn new(settings: &ServerSettings) -> Arc<Self> {
        let per_minute = NonZeroU32::new(settings.requests_per_minute_per_client).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self {
            limiter: RateLimiter::hashmap(Quota::per_minute(per_minute)),
            address_header: settings.client_address_header.clone(),
        })
    }

    /// Who asks: the connection's peer, or the last entry of the proxy's header when
    /// `server.client_address_header` names one (the entry the proxy added; the ones before it
    /// are the client's word).
    fn client(&self, headers: &HeaderMap, peer: SocketAddr) -> String {
        let forwarded = (!self.address_header.is_empty())
            .then(|| headers.get(self.address_header.as_str()))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .map(str::trim)
            .filter(|address| !address.is_empty());
        forwarded.map_or_else(|| peer.ip().to_string(), str::to_owned)
    }
}

/// The client a request comes from, as `within_limit` found it.
#[derive(Debug, Clone)]
pub struct Client(pub String);

/// Middleware: the request goes on, knowing its [`Client`], if the client is within the
/// limit; else 429 with Retry-After.
pub async fn within_limit(
    State(limits): State<Arc<ClientLimits>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = limits.client(request.headers(), peer);
    if limits.limiter.len() > REMEMBERED_CLIENTS {
        limits.limiter.retain_recent();
    }
    match limits.limiter.check_key(&client) {
        Ok(()) => {
            request.extensions_mut().insert(Client(client));
            next.run(request).await
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(%client, "a client over the request limit");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                "too many requests; try again later\n",
            )
                .into_response()
        }
    }
}
