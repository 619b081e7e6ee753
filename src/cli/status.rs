//! Where things stand: `arshjul status` (every occurrence of a year), `arshjul outbox`
//! (deliveries, retried or cancelled) and `arshjul inbox` (what people sent).

use std::process::ExitCode;

use clap::Subcommand;

use super::{ListFormat, load_for_listing};
use crate::clock::Clock;
use crate::domain::steps::DeliveryState;
use crate::settings::Settings;
use crate::storage::Store;

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

/// One row of `arshjul status`.
#[derive(serde::Serialize)]
struct StatusRow {
    occurrence: i64,
    unit: String,
    obligation: String,
    period: String,
    due: String,
    state: String,
    /// The diarienummer the submission was registered under.
    diarienummer: Option<String>,
    /// The last action: who, what, through which channel, when.
    last_action: Option<String>,
    /// The next message: waiting in the outbox (step, to whom, when), or else the next step the
    /// planner has for it (step, when).
    next_message: Option<String>,
}

/// `arshjul status`.
pub async fn status(settings: &Settings, args: &StatusArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let Some(config) = load_for_listing(settings, args.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let year = args.year.unwrap_or_else(|| config.local_date(clock.now()).year());
    // One moment's picture: never a state without the action that made it.
    let snapshot = store.snapshot().await?;
    let mut last: std::collections::BTreeMap<i64, String> = std::collections::BTreeMap::new();
    for entry in snapshot.audit {
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
    for row in snapshot.pending.into_iter().rev() {
        if let Some(id) = row.occurrence_id {
            next.entry(id)
                .or_insert_with(|| format!("{} to {} {}", row.step, row.recipient, local(row.not_before)));
        }
    }
    let rows: Vec<StatusRow> = snapshot
        .occurrences
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
            diarienummer: o.diarienummer.clone(),
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
                "DNR",
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
                    r.diarienummer.unwrap_or_default(),
                    r.last_action.unwrap_or_default(),
                    r.next_message.unwrap_or_default(),
                ]
            });
            print!("{}", crate::domain::listing::text_table(&header, lines));
        }
    }
    Ok(ExitCode::SUCCESS)
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

/// `arshjul outbox`: lists deliveries, or retries or cancels one.
pub async fn outbox(settings: &Settings, args: OutboxArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
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
                    r.current_error().unwrap_or_default().to_owned(),
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

#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// Only messages with this outcome: recorded, already, refused, not_understood, unreadable,
    /// unknown_sender, paused, requested, status.
    #[arg(long)]
    pub outcome: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `arshjul inbox`.
pub async fn inbox(settings: &Settings, args: &InboxArgs) -> anyhow::Result<ExitCode> {
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
