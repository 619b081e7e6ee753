//! The `arshjul` binary: settings → telemetry → command.

use std::process::ExitCode;

use clap::Parser as _;

use arshjul::cli::{Cli, Command};
use arshjul::settings::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    // Whatever arshjul writes — the database with the key that signs every link, mail files
    // with live links, the inbox — only its own user reads: directories 0700, files 0600.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    arshjul::channels::install_crypto_provider();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // Only the daemon logs; the other commands print their results for a person.
    if matches!(cli.command, Command::Serve | Command::Migrate)
        && let Err(error) = arshjul::telemetry::init(&settings.log)
    {
        eprintln!("{error:#}");
        return ExitCode::FAILURE;
    }
    match arshjul::cli::run(cli.command, settings).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "arshjul failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
