//! The `arshjul` command line. Every command but `serve` works without the daemon running.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::domain::config::{Config, UnitKind};
use crate::settings::Settings;
use crate::startup::Application;
use crate::storage::Store;

/// Keeps the governance calendar of the municipality's international and EU work.
#[derive(Debug, Parser)]
#[command(name = "arshjul", version)]
pub struct Cli {
    /// A settings file layered over the built-in defaults (see config/default.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP, scheduled materialisation, reload on SIGHUP.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Validate settings, directory and calendar; print a summary or every error.
    CheckConfig,
    /// List the deadlines of a year.
    Calendar(CalendarArgs),
}

#[derive(Debug, clap::Args)]
pub struct CalendarArgs {
    /// The year whose deadlines to list (default: the current year).
    #[arg(long)]
    pub year: Option<i16>,
    /// Only this unit's deadlines.
    #[arg(long, value_name = "ID")]
    pub unit: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// How `arshjul calendar` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ics,
}

/// Runs one command; the exit code says whether it succeeded.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = Store::connect(&settings.database).await?;
            store.migrate().await?;
            println!("migrations applied to {}", settings.database.redacted_url());
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => Ok(check_config(&settings)),
        Command::Calendar(args) => calendar(&settings, &args, &SystemClock),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    tokio::spawn(reload_on_hangup(app.shared()));
    app.run_until_stopped(shutdown).await?;
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
async fn reload_on_hangup(shared: Arc<crate::startup::Shared>) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading the configuration");
                // A refused reload has logged its errors; the running configuration stays.
                let _ = shared.reload().await;
            }
        }
        Err(error) => tracing::error!(%error, "cannot listen for SIGHUP; reload is unavailable"),
    }
}

fn check_config(settings: &Settings) -> ExitCode {
    let mut failed = false;
    if let Err(error) = crate::jobs::validate_cron(&settings.jobs.materialise) {
        eprintln!("settings: {error:#}");
        failed = true;
    }
    match settings.files.load() {
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{error}");
            }
            failed = true;
        }
        Ok(config) if !failed => print_summary(settings, &config),
        Ok(_) => {}
    }
    if failed {
        eprintln!("configuration refused");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_summary(settings: &Settings, config: &Config) {
    let directory = &config.directory;
    let count = |kind: UnitKind| directory.units.iter().filter(|u| u.kind == kind).count();
    println!("configuration OK");
    println!(
        "  directory  {}: {} units ({} committees, {} departments, {} companies), {} people, {} channels",
        settings.files.directory.display(),
        directory.units.len(),
        count(UnitKind::Namnd),
        count(UnitKind::Forvaltning),
        count(UnitKind::Bolag),
        directory.people.len(),
        directory.channels.len()
    );
    let calendar = &config.calendar;
    println!(
        "  calendar   {}: {} obligations, deadlines at {} {}",
        settings.files.calendar.display(),
        calendar.obligations.len(),
        calendar.due_time.strftime("%H:%M"),
        calendar.time_zone_name
    );
    println!("  database   {}", settings.database.redacted_url());
    println!("  http       {}", settings.server.address());
    let warnings = config.warnings();
    if !warnings.is_empty() {
        println!("warnings:");
        for warning in warnings {
            println!("  - {warning}");
        }
    }
}

fn calendar(settings: &Settings, args: &CalendarArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let config = match settings.files.load() {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(unit) = args
        .unit
        .as_deref()
        .filter(|id| config.directory.units.iter().all(|u| u.id.as_str() != *id))
    {
        eprintln!("unknown unit \"{unit}\"; `arshjul check-config` lists the directory");
        return Ok(ExitCode::FAILURE);
    }
    let now = clock.now();
    let year = args.year.unwrap_or_else(|| config.local_date(now).year());
    let occurrences: Vec<_> = config
        .occurrences_due_in(year..=year)
        .into_iter()
        .filter(|o| args.unit.as_deref().is_none_or(|unit| o.unit.as_str() == unit))
        .collect();
    let listed = crate::listing::list(&config, &occurrences);
    match args.format {
        Format::Table => print!("{}", crate::listing::table(&listed)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&listed)?),
        Format::Ics => print!("{}", crate::listing::ics(&listed, now)),
    }
    Ok(ExitCode::SUCCESS)
}
