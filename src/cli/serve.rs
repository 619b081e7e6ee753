//! `arshjul serve` and `arshjul migrate`: the daemon, stopped by SIGTERM or Ctrl-C, reloaded on
//! SIGHUP.

use std::process::ExitCode;
use std::sync::Arc;

use crate::clock::SystemClock;
use crate::settings::Settings;
use crate::startup::Application;
use crate::storage::Store;
use tokio_util::sync::CancellationToken;

/// `arshjul migrate`.
pub async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    println!("migrations applied to {}", settings.database.redacted_url());
    Ok(ExitCode::SUCCESS)
}

/// `arshjul serve`.
pub async fn serve(settings: Settings, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let application = Application::build(settings, Arc::new(clock)).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    tokio::spawn(reload_on_hangup(application.app()));
    application.run_until_stopped(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => signal.recv().await.map_or((), drop),
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("interrupted; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
    shutdown.cancel();
}

/// Reloads the directory and calendar on every SIGHUP.
async fn reload_on_hangup(app: Arc<crate::app::App>) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading the configuration");
                // A refused reload has logged its errors; the running configuration stays.
                let _ = app.reload().await;
            }
        }
        Err(error) => tracing::error!(%error, "cannot listen for SIGHUP; reload is unavailable"),
    }
}
