//! The `arshjul` command line. Every command but `serve` works without the daemon running.

mod calls;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::domain::config::{Config, UnitKind};
use crate::domain::occurrence::Action;
use crate::domain::occurrence::{ActionOutcome, Actor};
use crate::domain::simulation::{Behaviour, Simulated};
use crate::domain::steps::DeliveryState;
use crate::outbox::Notifiers;
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
    /// Run the real planner over a stretch of days with a simulated clock; nothing is sent.
    Simulate(SimulateArgs),
    /// List deliveries, or retry or cancel one.
    Outbox(OutboxArgs),
    /// Record an action on an occurrence, as the registrar does for paper submissions.
    Ack(AckArgs),
    /// Where every unit stands: each occurrence falling due in a year, its state, and who last
    /// acted on it, when and through which channel.
    Status(StatusArgs),
    /// What people sent arshjul (replies, reactions, commands), counted or not, newest first.
    Inbox(InboxArgs),
    /// Print the address of a calendar feed (iCalendar) to subscribe to in Outlook or any
    /// calendar program: one person's deadlines, one unit's, or all.
    Feed(FeedArgs),
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
        command: ChannelsCommand,
    },
    /// Measure delivery throughput, latency and memory, and the planner's speed.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    /// Only deliveries in this state: pending, sending, sent, failed, dead, cancelled.
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Put a failed, dead or cancelled delivery back in line, due now.
    Retry { id: i64 },
    /// Put every dead delivery back in line, due now.
    RetryDead,
    /// Withdraw a delivery that has not been sent.
    Cancel { id: i64 },
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The year whose deadlines to show (default: the current year).
    #[arg(long)]
    pub year: Option<i16>,
    /// Only this unit.
    #[arg(long, value_name = "ID")]
    pub unit: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// Only messages with this outcome: recorded, already, refused, not_understood,
    /// unknown_sender, paused, requested, status.
    #[arg(long)]
    pub outcome: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Send one test message and report what the channel answered. NAME is a channel of the
    /// directory (e.g. eu-network: its Matrix room and Teams webhook), or email, matrix, teams
    /// or webhook with --to.
    Test {
        name: String,
        /// The person to send to, by directory id (for email, matrix, teams, webhook).
        #[arg(long, value_name = "PERSON")]
        to: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AckArgs {
    /// The occurrence's id (see `arshjul outbox` or the audit log).
    pub occurrence: i64,
    /// The person acting, by directory id.
    #[arg(long = "as", value_name = "PERSON")]
    pub person: String,
    /// submit, acknowledge or waive.
    #[arg(long)]
    pub action: String,
    /// Why, or the diary number of a paper submission.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// First day (YYYY-MM-DD; default: today).
    #[arg(long)]
    pub from: Option<jiff::civil::Date>,
    /// Last day, included (default: 31 December of the first day's year).
    #[arg(long)]
    pub to: Option<jiff::civil::Date>,
    /// Let everyone submit this many business days after their first reminder, and managers
    /// acknowledge as many business days later, to show how reminders stop.
    #[arg(long, value_name = "N")]
    pub submit_after_days: Option<u16>,
    /// Only deliveries about this unit's occurrences.
    #[arg(long, value_name = "ID")]
    pub unit: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// How `arshjul simulate` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct FeedArgs {
    /// The deadlines of this person's units (and, for KLK's strategist, every review).
    #[arg(long)]
    pub person: Option<String>,
    /// This unit's deadlines.
    #[arg(long)]
    pub unit: Option<String>,
    /// Every deadline of the municipality.
    #[arg(long)]
    pub all: bool,
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
    let clock = SystemClock::from_env().map_err(anyhow::Error::msg)?;
    match command {
        Command::Serve => serve(settings, clock).await,
        Command::Migrate => {
            let store = Store::connect(&settings.database).await?;
            store.migrate().await?;
            println!("migrations applied to {}", settings.database.redacted_url());
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => Ok(check_config(&settings)),
        Command::Status(args) => status(&settings, &args, &clock).await,
        Command::Inbox(args) => inbox(&settings, &args).await,
        Command::Mailgate => mailgate(&settings, clock).await,
        Command::Feed(args) => feed(&settings, &args, &clock).await,
        Command::Announce(args) => calls::announce(&settings, &args, clock).await,
        Command::Calls(args) => calls::calls(&settings, &args, clock).await,
        Command::Report(args) => report::report(&settings, &args, &clock).await,
        Command::Channels {
            command: ChannelsCommand::Test { name, to },
        } => test_channel(&settings, &name, to.as_deref(), &clock).await,
        Command::Calendar(args) => calendar(&settings, &args, &clock),
        Command::Simulate(args) => simulate(&settings, &args, &clock),
        Command::Outbox(args) => outbox(&settings, args, &clock).await,
        Command::Ack(args) => ack(&settings, &args, clock).await,
        Command::Bench(args) => crate::bench::run(settings, &args, clock)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

async fn serve(settings: Settings, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let app = Application::build(settings, Arc::new(clock)).await?;
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
    for (key, cron) in [
        ("jobs.materialise", &settings.jobs.materialise),
        ("delivery.plan", &settings.delivery.plan),
    ] {
        if let Err(error) = crate::jobs::validate_cron(key, cron) {
            eprintln!("settings: {error:#}");
            failed = true;
        }
    }
    for checked in [
        Notifiers::new(settings).map(drop),
        crate::inbound::imap::check(&settings.email),
    ] {
        if let Err(error) = checked {
            eprintln!("settings: {error:#}");
            failed = true;
        }
    }
    let routing = settings.routing();
    match settings.files.load() {
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{error}");
            }
            failed = true;
        }
        Ok(config) => {
            let (errors, warnings) = routing.check(&config);
            for error in &errors {
                eprintln!("settings: {error}");
            }
            failed |= !errors.is_empty();
            if !failed {
                print_summary(settings, &config, &warnings);
            }
        }
    }
    if failed {
        eprintln!("configuration refused");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_summary(settings: &Settings, config: &Config, routing_warnings: &[String]) {
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
    let routing = &settings.routing;
    println!(
        "  channels   {}",
        crate::domain::config::Transport::ALL
            .iter()
            .map(|t| format!("{} {}", t.as_str(), channel_state(settings, *t)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  routing    reminders → {}; escalations → {}; acknowledgements → {}; calls → {} and posted in {}; chat falls back to email after {}",
        routing.reminders.join(" + "),
        routing.escalations.join(" + "),
        routing.acknowledgements.join(" + "),
        routing.announcements.join(" + "),
        match settings.calls.network.as_slice() {
            [] => "no channel".to_owned(),
            names => names.join(" + "),
        },
        match routing.fallback_to_email_after {
            0 => "never".to_owned(),
            n => format!("{n} attempts"),
        }
    );
    let mut warnings = config.warnings();
    warnings.extend(routing_warnings.iter().cloned());
    if !warnings.is_empty() {
        println!("warnings:");
        for warning in warnings {
            println!("  - {warning}");
        }
    }
}

/// One row of `arshjul status`.
#[derive(serde::Serialize)]
struct StatusRow {
    occurrence: i64,
    unit: String,
    obligation: String,
    period: String,
    due: String,
    state: String,
    /// The last action: who, what, through which channel, when.
    last_action: Option<String>,
    /// The next message: waiting in the outbox (step, to whom, when), or else the next step the
    /// planner has for it (step, when).
    next_message: Option<String>,
}

async fn status(settings: &Settings, args: &StatusArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let Some(config) = load_for_listing(settings, args.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let year = args.year.unwrap_or_else(|| config.local_date(clock.now()).year());
    let mut last: std::collections::BTreeMap<i64, String> = std::collections::BTreeMap::new();
    for entry in store.audit_log(None).await? {
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
        if let (Some(id), Some(channel)) = (entry.occurrence_id, detail["channel"].as_str()) {
            let when = config
                .calendar
                .time_zone
                .to_datetime(entry.at)
                .strftime("%Y-%m-%d %H:%M");
            last.insert(id, format!("{} {} by {channel} {when}", entry.action, entry.actor));
        }
    }
    let now = clock.now();
    let local = |at: jiff::Timestamp| config.local_minute(at);
    let mut next: std::collections::BTreeMap<i64, String> = std::collections::BTreeMap::new();
    for row in store
        .outbox(Some(DeliveryState::Pending), usize::MAX)
        .await?
        .into_iter()
        .rev()
    {
        if let Some(id) = row.occurrence_id {
            next.entry(id)
                .or_insert_with(|| format!("{} to {} {}", row.step, row.recipient, local(row.not_before)));
        }
    }
    let rows: Vec<StatusRow> = store
        .occurrences()
        .await?
        .into_iter()
        .filter(|o| config.local_date(o.due_at).year() == year)
        .filter(|o| args.unit.as_deref().is_none_or(|unit| o.unit == unit))
        .map(|o| StatusRow {
            occurrence: o.id,
            due: config
                .calendar
                .time_zone
                .to_datetime(o.due_at)
                .strftime("%Y-%m-%d")
                .to_string(),
            state: o.state.as_str().to_owned(),
            last_action: last.remove(&o.id),
            next_message: next.remove(&o.id).or_else(|| {
                crate::domain::planner::next_step(&config, &o, now).map(|(step, at)| format!("{step} {}", local(at)))
            }),
            unit: o.unit,
            obligation: o.obligation,
            period: o.period,
        })
        .collect();
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        ListFormat::Table => {
            let header = [
                "ID",
                "UNIT",
                "OBLIGATION",
                "PERIOD",
                "DUE",
                "STATE",
                "LAST ACTION",
                "NEXT MESSAGE",
            ];
            let lines = rows.into_iter().map(|r| {
                vec![
                    r.occurrence.to_string(),
                    r.unit,
                    r.obligation,
                    r.period,
                    r.due,
                    r.state,
                    r.last_action.unwrap_or_default(),
                    r.next_message.unwrap_or_default(),
                ]
            });
            print!("{}", crate::domain::listing::text_table(&header, lines));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn feed(settings: &Settings, args: &FeedArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    use crate::domain::feeds::FeedScope;
    let Some(config) = load_for_listing(settings, args.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let scope = match (&args.person, &args.unit) {
        (Some(person), _) if config.directory.person_named(person).is_none() => {
            eprintln!("--person: unknown person \"{person}\"");
            return Ok(ExitCode::FAILURE);
        }
        (Some(person), _) => FeedScope::Person(person.clone()),
        (None, Some(unit)) => FeedScope::Unit(unit.clone()),
        (None, None) => FeedScope::All,
    };
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let links = crate::links::Links::new(&settings.links, &store).await?;
    println!("{}", links.feed_url(scope, clock.now()));
    Ok(ExitCode::SUCCESS)
}

async fn mailgate(settings: &Settings, clock: SystemClock) -> anyhow::Result<ExitCode> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    let (shared, notifiers) = crate::startup::Shared::open(settings, Arc::new(clock)).await?;
    let shared = Arc::new(shared);
    let received = crate::inbound::email::receive(&shared, &raw).await?;
    match &received {
        crate::inbound::email::Received::Reply(Some(handled)) => {
            println!("{}: {}", handled.answer.outcome(), handled.text);
            if let Err(error) = crate::inbound::email::answer(&shared, &notifiers, &raw, &handled.text).await {
                eprintln!("the answer could not be sent: {error}");
            }
        }
        crate::inbound::email::Received::Reply(None) => println!("already taken in"),
        crate::inbound::email::Received::AutoReply => println!("auto_reply: kept, not counted"),
        crate::inbound::email::Received::Bounce { deliveries } => println!("bounce: {}", deliveries.join(" ")),
        crate::inbound::email::Received::Unreadable => {
            eprintln!("not a mail message");
            return Ok(ExitCode::FAILURE);
        }
    }
    shared.store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn inbox(settings: &Settings, args: &InboxArgs) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let messages = store.inbox(args.outcome.as_deref(), args.limit).await?;
    let header = [
        "ID", "RECEIVED", "CHANNEL", "FROM", "PERSON", "ITEM", "TEXT", "OUTCOME", "DETAIL",
    ];
    let rows = messages.into_iter().map(|m| {
        vec![
            m.id.to_string(),
            m.received_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            m.channel,
            m.sender,
            m.person.unwrap_or_default(),
            m.occurrence_id.map(|id| id.to_string()).unwrap_or_default(),
            m.text.lines().next().unwrap_or_default().chars().take(40).collect(),
            m.outcome,
            m.detail.lines().next().unwrap_or_default().to_owned(),
        ]
    });
    print!("{}", crate::domain::listing::text_table(&header, rows));
    Ok(ExitCode::SUCCESS)
}

/// How a channel is set up, in a few words (never a URL or token).
fn channel_state(settings: &Settings, transport: crate::domain::config::Transport) -> String {
    use crate::domain::config::Transport;
    let names = |names: Vec<&String>| match names.len() {
        0 => "off".to_owned(),
        _ => format!(
            "({})",
            names.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
    };
    match transport {
        Transport::Email => match settings.email.transport {
            crate::settings::EmailTransport::File => format!("(files in {})", settings.email.file_dir.display()),
            crate::settings::EmailTransport::Smtp => "(SMTP)".to_owned(),
        },
        Transport::Matrix => {
            let bot = match settings.matrix.homeserver_url.as_str() {
                "" => "no bot".to_owned(),
                url => format!("bot at {url}"),
            };
            format!("({bot}; webhooks {})", names(settings.matrix.webhooks.keys().collect()))
        }
        Transport::Teams => names(settings.teams.webhooks.keys().collect()),
        Transport::Webhook if settings.webhook.url.expose().is_empty() => "off".to_owned(),
        Transport::Webhook => "on".to_owned(),
    }
}

/// Sends a test message to the directory channel `name` (every transport it has), or to the
/// person `to` on the transport `name`, and prints each answer.
async fn test_channel(
    settings: &Settings,
    name: &str,
    to: Option<&str>,
    clock: &dyn Clock,
) -> anyhow::Result<ExitCode> {
    use crate::channels::{Outgoing, Recipient};
    use crate::domain::config::Transport;
    let config = settings
        .files
        .load()
        .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
    let routing = settings.routing();
    let notifiers = Notifiers::new(settings)?;
    let attempts: Vec<(String, Result<crate::domain::routing::Address, String>, Recipient)> =
        match (Transport::named(name), to) {
            (Some(transport), Some(person)) => {
                let person = config
                    .directory
                    .person_named(person)
                    .ok_or_else(|| anyhow::anyhow!("unknown person \"{person}\""))?;
                vec![(
                    format!("{name} to {}", person.id),
                    routing.personal_address(person, transport),
                    Recipient::from(person),
                )]
            }
            (Some(_), None) => anyhow::bail!("say who to send the test to: --to PERSON"),
            (None, _) => {
                let channel = config
                    .directory
                    .channels
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = config.directory.channels.iter().map(|c| c.name.as_str()).collect();
                        anyhow::anyhow!(
                            "unknown channel \"{name}\"; use email, matrix, teams or webhook with --to PERSON, or \
                             one of the directory's channels: {}",
                            known.join(", ")
                        )
                    })?;
                let recipient = Recipient::channel(channel);
                [Transport::Matrix, Transport::Teams]
                    .into_iter()
                    .map(|t| {
                        (
                            format!("{}:{name}", t.as_str()),
                            routing.channel_address(&config, name, t),
                            recipient.clone(),
                        )
                    })
                    .collect()
            }
        };
    let now = clock.now();
    let mut failed = false;
    for (label, address, recipient) in attempts {
        let result = match address {
            Ok(address) => {
                let message = Outgoing {
                    message_key: format!("test-{}", now.as_nanosecond()),
                    rendered: crate::domain::messages::test_message(recipient.language, &label),
                    recipient,
                    address,
                    reply_token: None,
                    in_reply_to: None,
                    items: Vec::new(),
                    composed_at: now,
                };
                notifiers.send(&message).await.map_err(|e| e.to_string())
            }
            Err(reason) => Err(format!("not set up: {reason}")),
        };
        match result {
            Ok(receipt) => {
                let detail = receipt
                    .provider_id
                    .map(|id| {
                        format!(
                            " (id {id}{})",
                            receipt.destination.map(|d| format!(" in {d}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                println!("{label}: sent{detail}");
            }
            Err(reason) => {
                failed = true;
                println!("{label}: FAILED: {reason}");
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn outbox(settings: &Settings, args: OutboxArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let now = clock.now();
    let (id, done, verb) = match args.command {
        Some(OutboxCommand::Retry { id }) => (id, store.retry(id, now).await?, "is due again"),
        Some(OutboxCommand::Cancel { id }) => (id, store.cancel(id, now).await?, "is cancelled"),
        Some(OutboxCommand::RetryDead) => {
            let count = store.retry_dead(now).await?;
            println!("{count} dead deliveries are due again");
            return Ok(ExitCode::SUCCESS);
        }
        None => {
            let state = match args.state.as_deref().map(str::parse::<DeliveryState>).transpose() {
                Ok(state) => state,
                Err(reason) => {
                    eprintln!("--state: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let rows = store.outbox(state, args.limit).await?;
            let table = rows.iter().map(|r| {
                vec![
                    r.id.to_string(),
                    r.state.to_string(),
                    r.not_before.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
                    r.recipient.clone(),
                    r.channel.clone(),
                    r.step.clone(),
                    r.subject().map(|s| s.to_string()).unwrap_or_default(),
                    r.attempts.to_string(),
                    r.last_error.clone().unwrap_or_default(),
                ]
            });
            let header = [
                "ID",
                "STATE",
                "NOT BEFORE",
                "TO",
                "CHANNEL",
                "STEP",
                "OCCURRENCE",
                "ATTEMPTS",
                "LAST ERROR",
            ];
            print!("{}", crate::domain::listing::text_table(&header, table));
            return Ok(ExitCode::SUCCESS);
        }
    };
    if done {
        println!("delivery {id} {verb}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("delivery {id} does not exist or is not in a state that allows that");
        Ok(ExitCode::FAILURE)
    }
}

async fn ack(settings: &Settings, args: &AckArgs, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let action: Action = match args.action.parse() {
        Ok(action) => action,
        Err(reason) => {
            eprintln!("--action: {reason}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let Some(config) = load_for_listing(settings, None) else {
        return Ok(ExitCode::FAILURE);
    };
    if config.directory.person_named(&args.person).is_none() {
        eprintln!("--as: unknown person \"{}\"", args.person);
        return Ok(ExitCode::FAILURE);
    }
    let registrar = config.directory.units.iter().any(|u| {
        u.roles
            .get(&crate::domain::config::Role::Registrar)
            .is_some_and(|a| a.person.as_str() == args.person)
    });
    if action == Action::Waive && !registrar {
        eprintln!(
            "--as: only a registrar may waive an occurrence; \"{}\" is not one",
            args.person
        );
        return Ok(ExitCode::FAILURE);
    }
    // As the daemon would: the next step is planned and an acknowledgement told at once.
    let (shared, _) = crate::startup::Shared::open(settings, Arc::new(clock)).await?;
    let actor = Actor {
        person: &args.person,
        channel: "cli",
        source: "arshjul ack",
        note: args.note.as_deref(),
    };
    match shared.record_action(args.occurrence, action, &actor).await? {
        Some(ActionOutcome::Recorded { from, to }) => {
            println!("occurrence {}: {from} → {to}", args.occurrence);
            Ok(ExitCode::SUCCESS)
        }
        Some(ActionOutcome::AlreadyRecorded(state)) => {
            println!("occurrence {} is already {state}; nothing changed", args.occurrence);
            Ok(ExitCode::SUCCESS)
        }
        Some(ActionOutcome::Refused(state)) => {
            eprintln!("occurrence {} is {state}: cannot {}", args.occurrence, action.as_str());
            Ok(ExitCode::FAILURE)
        }
        None => {
            eprintln!("no occurrence {}", args.occurrence);
            Ok(ExitCode::FAILURE)
        }
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

fn simulate(settings: &Settings, args: &SimulateArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let Some(config) = load_for_listing(settings, args.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let from = args.from.unwrap_or_else(|| config.local_date(clock.now()));
    let to = args
        .to
        .unwrap_or_else(|| jiff::civil::Date::constant(from.year(), 12, 31));
    let behaviour = Behaviour {
        act_after_days: args.submit_after_days,
    };
    let made: Vec<Simulated> = crate::domain::simulation::simulate(&config, &settings.routing(), from, to, behaviour)
        .into_iter()
        .filter(|s| {
            args.unit
                .as_deref()
                .is_none_or(|unit| s.occurrence.unit.as_str() == unit)
        })
        .collect();
    let time_zone = &config.calendar.time_zone;
    let rows = made.iter().map(|s| {
        let d = &s.delivery;
        SimulatedRow {
            when: time_zone
                .to_datetime(d.not_before)
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            recipient: d.recipient.to_string(),
            channel: d.route.to_string(),
            step: d.step.to_string(),
            obligation: s.occurrence.obligation.to_string(),
            unit: s.occurrence.unit.to_string(),
            period: s.occurrence.period.to_string(),
            reason: d.reason.to_string(),
        }
    });
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&rows.collect::<Vec<_>>())?),
        ListFormat::Table => {
            let header = [
                "WHEN",
                "TO",
                "CHANNEL",
                "STEP",
                "OBLIGATION",
                "UNIT",
                "PERIOD",
                "REASON",
            ];
            let rows = rows.map(|r| {
                vec![
                    r.when,
                    r.recipient,
                    r.channel,
                    r.step,
                    r.obligation,
                    r.unit,
                    r.period,
                    r.reason,
                ]
            });
            print!("{}", crate::domain::listing::text_table(&header, rows));
            let messages: std::collections::BTreeSet<_> = made
                .iter()
                .map(|s| (&s.delivery.recipient, &s.delivery.route, s.delivery.not_before))
                .collect();
            println!(
                "{} deliveries in {} messages (one digest per recipient, channel and send window)",
                made.len(),
                messages.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One simulated delivery as printed.
#[derive(serde::Serialize)]
struct SimulatedRow {
    when: String,
    recipient: String,
    channel: String,
    step: String,
    obligation: String,
    unit: String,
    period: String,
    reason: String,
}

fn calendar(settings: &Settings, args: &CalendarArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let Some(config) = load_for_listing(settings, args.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let now = clock.now();
    let year = args.year.unwrap_or_else(|| config.local_date(now).year());
    let occurrences: Vec<_> = config
        .occurrences_due_in(year..=year)
        .into_iter()
        .filter(|o| args.unit.as_deref().is_none_or(|unit| o.unit.as_str() == unit))
        .collect();
    let listed = crate::domain::listing::list(&config, &occurrences);
    match args.format {
        Format::Table => print!("{}", crate::domain::listing::table(&listed)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&listed)?),
        Format::Ics => print!("{}", crate::domain::listing::ics("arshjul", &listed, now)),
    }
    Ok(ExitCode::SUCCESS)
}
