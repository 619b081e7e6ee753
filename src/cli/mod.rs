//! The `arshjul` command line. Every command but `serve` works without the daemon running.

mod acting;
mod bench;
mod calendar;
mod calls;
mod channels;
mod check;
mod report;
mod serve;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::clock::SystemClock;
use crate::domain::config::Config;
use crate::settings::Settings;

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
    Calendar(calendar::CalendarArgs),
    /// Run the real planner over a stretch of days with a simulated clock; nothing is sent.
    Simulate(calendar::SimulateArgs),
    /// List deliveries, or retry or cancel one.
    Outbox(status::OutboxArgs),
    /// Record an action on an occurrence, as the registrar does for paper submissions.
    Ack(acting::AckArgs),
    /// Start an on-demand item now, as KLK: a revision of the guidelines "vid behov".
    Start(acting::StartArgs),
    /// Where every unit stands: each occurrence falling due in a year, its state, and who last
    /// acted on it, when and through which channel.
    Status(status::StatusArgs),
    /// What people sent arshjul (replies, reactions, commands), counted or not, newest first.
    Inbox(status::InboxArgs),
    /// Print the address of a calendar feed (iCalendar) to subscribe to in Outlook or any
    /// calendar program: one person's deadlines, one unit's, or all.
    Feed(calendar::FeedArgs),
    /// Announce an EU funding call to the EU network, as the strategist.
    Announce(calls::AnnounceArgs),
    /// EU funding calls with each unit's interest and outcome; or correct, cancel, record an
    /// outcome.
    Calls(calls::CallsArgs),
    /// KLK's yearly compilation of every unit's follow-up: activities, money, goals and who
    /// submitted on time, as Markdown, CSV or HTML.
    Report(report::ReportArgs),
    /// Read one email from standard input (as a mail server's pipe delivers it), act on it,
    /// and answer its sender by email.
    Mailgate,
    /// Try the channels reminders go out on.
    Channels {
        #[command(subcommand)]
        command: channels::ChannelsCommand,
    },
    /// Measure delivery throughput, latency and memory, and the planner's speed.
    Bench(bench::BenchArgs),
}

/// How `arshjul status` and `arshjul simulate` print.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// Runs one command; the exit code says whether it succeeded.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let clock = SystemClock::from_env().map_err(anyhow::Error::msg)?;
    match command {
        Command::Serve => serve::serve(settings, clock).await,
        Command::Migrate => serve::migrate(&settings).await,
        Command::CheckConfig => Ok(check::check_config(&settings, &clock).await),
        Command::Status(args) => status::status(&settings, &args, &clock).await,
        Command::Inbox(args) => status::inbox(&settings, &args).await,
        Command::Outbox(args) => status::outbox(&settings, args, &clock).await,
        Command::Mailgate => acting::mailgate(&settings, clock).await,
        Command::Ack(args) => acting::ack(&settings, &args, clock).await,
        Command::Start(args) => acting::start(&settings, &args, clock).await,
        Command::Feed(args) => calendar::feed(&settings, &args, &clock).await,
        Command::Calendar(args) => calendar::calendar(&settings, &args, &clock),
        Command::Simulate(args) => calendar::simulate(&settings, &args, &clock),
        Command::Announce(args) => calls::announce(&settings, &args, clock).await,
        Command::Calls(args) => calls::calls(&settings, &args, clock).await,
        Command::Report(args) => report::report(&settings, &args, &clock).await,
        Command::Channels {
            command: channels::ChannelsCommand::Test { name, to },
        } => channels::test_channel(&settings, &name, to.as_deref(), &clock).await,
        Command::Bench(args) => bench::run(settings, &args, clock).await.map(|()| ExitCode::SUCCESS),
    }
}

/// The configuration, with `unit` checked against it; `None` after printing why not.
fn load_for_listing(settings: &Settings, unit: Option<&str>) -> Option<Config> {
    let config = settings.files.load().map_err(|errors| eprintln!("{errors}")).ok()?;
    if let Some(unit) = unit.filter(|id| config.directory.units.iter().all(|u| u.id.as_str() != *id)) {
        eprintln!("unknown unit \"{unit}\"; `arshjul check-config` lists the directory");
        return None;
    }
    Some(config)
}
