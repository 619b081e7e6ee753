//! The calendar without the daemon: `arshjul calendar` (a year's deadlines), `arshjul simulate`
//! (the planner over a stretch of days) and `arshjul feed` (a calendar feed's address).

use std::process::ExitCode;

use clap::ValueEnum;

use super::{ListFormat, load_for_listing};
use crate::clock::Clock;
use crate::domain::simulation::{Behaviour, Simulated};
use crate::settings::Settings;
use crate::storage::Store;

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

/// `arshjul calendar`: the deadlines of a year.
pub fn calendar(settings: &Settings, args: &CalendarArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
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
        Format::Ics => print!(
            "{}",
            crate::domain::listing::ics("Årshjul – internationellt arbete", &listed, now)
        ),
    }
    Ok(ExitCode::SUCCESS)
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

/// `arshjul simulate`: the real planner over a stretch of days; nothing is sent.
pub fn simulate(settings: &Settings, args: &SimulateArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
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

#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    #[command(flatten)]
    pub scope: FeedScopeArgs,
    /// Replace the feed's address: every earlier one stops working (a link that was shared
    /// too widely, a person who left).
    #[arg(long)]
    pub rotate: bool,
}

/// Whose deadlines a feed shows.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct FeedScopeArgs {
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

/// `arshjul feed`: the address of a calendar feed.
pub async fn feed(settings: &Settings, args: &FeedArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    use crate::domain::feeds::FeedScope;
    let FeedArgs { scope, rotate } = args;
    let Some(config) = load_for_listing(settings, scope.unit.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let scope = match (&scope.person, &scope.unit) {
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
    let links = crate::app::links::Links::new(&settings.links, &store).await?;
    let url = match rotate {
        true => links.rotate_feed(&store, scope, clock.now()).await?,
        false => links.feed_url(scope, clock.now()),
    };
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
