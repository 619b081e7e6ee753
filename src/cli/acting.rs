//! Acting from the command line: `arshjul ack` (the registrar's paper submissions), `arshjul
//! start` (KLK starts a revision) and `arshjul mailgate` (one email from a mail server's pipe).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::load_for_listing;
use crate::app::App;
use crate::app::actions::{Acted, Started};
use crate::clock::SystemClock;
use crate::domain::config::Language;
use crate::domain::occurrence::{Action, ActionOutcome, Actor};
use crate::settings::Settings;

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

/// The application as the daemon runs it, for `person` (`--as`) to act in; `None` after
/// printing why not (the configuration does not load, or names no such person).
async fn open_as(settings: &Settings, person: &str, clock: SystemClock) -> anyhow::Result<Option<App>> {
    let Some(config) = load_for_listing(settings, None) else {
        return Ok(None);
    };
    if config.directory.person_named(person).is_none() {
        eprintln!("--as: unknown person \"{person}\"");
        return Ok(None);
    }
    App::open(settings, Arc::new(clock)).await.map(Some)
}

/// `arshjul ack`: records an action as the person named, as the daemon would.
pub async fn ack(settings: &Settings, args: &AckArgs, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let action: Action = match args.action.parse() {
        Ok(action) => action,
        Err(reason) => {
            eprintln!("--action: {reason}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // As the daemon would: the next step is planned and an acknowledgement told at once.
    let Some(app) = open_as(settings, &args.person, clock).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let actor = Actor {
        person: &args.person,
        channel: "cli",
        source: "arshjul ack",
        note: args.note.as_deref(),
    };
    match app.record_action(args.occurrence, action, &actor).await? {
        Some(Acted::Done(ActionOutcome::Recorded { from, to })) => {
            println!("occurrence {}: {from} → {to}", args.occurrence);
            Ok(ExitCode::SUCCESS)
        }
        Some(Acted::Done(ActionOutcome::AlreadyRecorded(state))) => {
            println!("occurrence {} is already {state}; nothing changed", args.occurrence);
            Ok(ExitCode::SUCCESS)
        }
        Some(Acted::Done(ActionOutcome::Refused(state))) => {
            eprintln!("occurrence {} is {state}: cannot {}", args.occurrence, action.as_str());
            Ok(ExitCode::FAILURE)
        }
        Some(Acted::NotAllowed(why)) => {
            eprintln!("--as {}: {}", args.person, why.text(Language::En));
            Ok(ExitCode::FAILURE)
        }
        None => {
            eprintln!("no occurrence {}", args.occurrence);
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The on-demand obligation, e.g. `revidering`.
    pub obligation: String,
    /// The person starting it, by directory id (someone at KLK).
    #[arg(long = "as", value_name = "PERSON")]
    pub person: String,
    /// When it is due, YYYY-MM-DD; the calendar's default when left out.
    #[arg(long)]
    pub due: Option<jiff::civil::Date>,
    /// Why it is started (kept in the audit log).
    #[arg(long)]
    pub note: Option<String>,
}

/// `arshjul start`: starts an on-demand item as the person named, as the dashboard does.
pub async fn start(settings: &Settings, args: &StartArgs, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let Some(app) = open_as(settings, &args.person, clock).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let actor = Actor {
        person: &args.person,
        channel: "cli",
        source: "arshjul start",
        note: args.note.as_deref(),
    };
    match app.start(&args.obligation, args.due, &actor).await? {
        Started::Created(ids) => {
            for occurrence in app.store.occurrences_by_ids(&ids).await? {
                let due = app.config().local_date(occurrence.due_at);
                println!(
                    "started {} for {}, due {due} (occurrence {})",
                    occurrence.obligation, occurrence.unit, occurrence.id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Started::Already => {
            println!("{} was started today already; nothing changed", args.obligation);
            Ok(ExitCode::SUCCESS)
        }
        Started::NotAllowed => {
            eprintln!("--as {}: only KLK starts items on demand", args.person);
            Ok(ExitCode::FAILURE)
        }
        Started::Invalid(reason) => {
            eprintln!("{reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `arshjul mailgate`: takes in one email from standard input and answers its sender.
pub async fn mailgate(settings: &Settings, clock: SystemClock) -> anyhow::Result<ExitCode> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    // One byte more than allowed is enough to know it is too large.
    let limit = u64::try_from(settings.email.max_message_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    std::io::stdin()
        .take(limit)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    if let Some(refusal) = crate::inbound::email::refused_for_size(raw.len(), &settings.email) {
        eprintln!("{refusal}");
        // EX_DATAERR: the MTA returns the message to its sender.
        return Ok(ExitCode::from(65));
    }
    let app = App::open(settings, Arc::new(clock)).await?;
    let app = Arc::new(app);
    let received = crate::inbound::email::receive(&app, &raw).await?;
    match &received {
        crate::inbound::email::Received::Reply(Some(handled)) => {
            println!("{}: {}", handled.answer.outcome(), handled.text);
            if let Err(error) = crate::inbound::email::answer(&app, &raw, handled).await {
                eprintln!("the answer could not be sent: {error}");
            }
        }
        crate::inbound::email::Received::Reply(None) => println!("already taken in"),
        crate::inbound::email::Received::AutoReply => println!("auto_reply: kept, not counted"),
        crate::inbound::email::Received::Bounce { deliveries } if deliveries.is_empty() => {
            println!("bounce_unverified: it names no delivery by a signed token; nothing was marked");
        }
        crate::inbound::email::Received::Bounce { deliveries } => {
            let ids: Vec<String> = deliveries.iter().map(i64::to_string).collect();
            println!("bounce: {}", ids.join(" "));
        }
        crate::inbound::email::Received::Unreadable => {
            eprintln!("not a mail message");
            return Ok(ExitCode::FAILURE);
        }
    }
    app.store.close().await;
    Ok(ExitCode::SUCCESS)
}
