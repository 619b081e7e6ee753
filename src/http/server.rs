//! Serving the router on the open network: every connection has a time to send its request
//! head, every request a time to be read and answered, and the process a cap on connections —
//! so clients that send slowly or not at all cannot hold it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::settings::ServerSettings;

/// How long connections still open at shutdown get to finish their requests.
const FINISH_AT_SHUTDOWN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown`, then lets the requests in flight finish.
/// Each request knows its peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let request_time = Duration::from_secs(settings.request_timeout_seconds);
    let router = router.layer((
        RequestBodyTimeoutLayer::new(request_time),
        TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, request_time),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_read_timeout_seconds));
    let connections = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, the next connection waits in the kernel's queue until one closes.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&connections).acquire_owned() => permit,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: the connection is lost, not the server.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone().layer(axum::Extension(ConnectInfo(peer))));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(FINISH_AT_SHUTDOWN) => {
            tracing::warn!("connections still open at shutdown were closed");
        }
    }
    Ok(())
}
