//! `arshjul announce` and `arshjul calls`: the strategist's EU funding calls from the command
//! line — announce, correct, cancel, record outcomes — and the history of calls, interest and
//! outcomes for the yearly follow-up (table, CSV or JSON).

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};

use crate::app::App;
use crate::app::calls::{Announcing, Change, OutcomeRecorded};
use crate::clock::SystemClock;
use crate::domain::calls::{CallState, Draft, may_announce};
use crate::domain::config::Person;
use crate::domain::occurrence::Actor;
use crate::settings::Settings;
use crate::storage::Outcome;

/// What a call says; every field of `announce`, and those to change for `calls correct`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The call's title.
    #[arg(long)]
    pub title: Option<String>,
    /// Interreg, Erasmus+, LIFE, Horizon Europe, …
    #[arg(long)]
    pub programme: Option<String>,
    /// The call's web page.
    #[arg(long)]
    pub link: Option<String>,
    /// The call's last day, YYYY-MM-DD.
    #[arg(long)]
    pub deadline: Option<String>,
    /// A short description (Markdown).
    #[arg(long)]
    pub description: Option<String>,
    /// Unit ids, comma-separated; default: every unit with an EU contact person.
    #[arg(long, value_delimiter = ',')]
    pub units: Option<Vec<String>>,
    /// Tags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    /// The funder's id of the call; the same id is never announced twice.
    #[arg(long)]
    pub call_id: Option<String>,
}

impl CallArgs {
    /// `draft` with the fields given here put in.
    fn over(&self, draft: Draft) -> Draft {
        let given = |field: &Option<String>, old: String| field.clone().unwrap_or(old);
        Draft {
            title: given(&self.title, draft.title),
            programme: given(&self.programme, draft.programme),
            link: given(&self.link, draft.link),
            deadline: given(&self.deadline, draft.deadline),
            description: given(&self.description, draft.description),
            units: self.units.clone().unwrap_or(draft.units),
            tags: self.tags.clone().unwrap_or(draft.tags),
            call_id: self.call_id.clone().or(draft.call_id),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct AnnounceArgs {
    /// The strategist announcing (a person id of the directory).
    #[arg(long = "as", value_name = "PERSON")]
    pub person: String,
    #[command(flatten)]
    pub call: CallArgs,
}

#[derive(Debug, clap::Args)]
pub struct CallsArgs {
    #[command(subcommand)]
    pub command: Option<CallsCommand>,
    /// Only calls whose deadline falls in this year.
    #[arg(long)]
    pub year: Option<i16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CallsFormat::Table)]
    pub format: CallsFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CallsFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// Correct an announced call; the network is told.
    Correct {
        id: i64,
        #[arg(long = "as", value_name = "PERSON")]
        person: String,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Cancel an announced call; the network is told and the units' occurrences for it waived.
    Cancel {
        id: i64,
        #[arg(long = "as", value_name = "PERSON")]
        person: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record what came of a unit's application: applied, granted or rejected.
    Outcome {
        id: i64,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        outcome: String,
        /// Granted amount in whole kronor.
        #[arg(long)]
        amount: Option<i64>,
        /// For a grant: when one of the project's reports is due, OBLIGATION=YYYY-MM-DD
        /// (repeatable); the others take the calendar's defaults.
        #[arg(long = "due", value_name = "OBLIGATION=DATE", value_parser = parse_given_due)]
        due: Vec<(String, jiff::civil::Date)>,
        #[arg(long = "as", value_name = "PERSON")]
        person: String,
    },
}

/// `arshjul announce`.
pub async fn announce(settings: &Settings, args: &AnnounceArgs, clock: SystemClock) -> anyhow::Result<ExitCode> {
    let (app, person) = open_as(settings, &args.person, clock).await?;
    let done = app.announce(&person, &args.call.over(Draft::default())).await?;
    Ok(report(done))
}

/// `arshjul calls …`.
pub async fn calls(settings: &Settings, args: &CallsArgs, clock: SystemClock) -> anyhow::Result<ExitCode> {
    match &args.command {
        None => list(settings, args).await,
        Some(CallsCommand::Correct { id, person, call }) => {
            let (app, person) = open_as(settings, person, clock).await?;
            let Some(announcement) = app.store.announcement(*id).await? else {
                eprintln!("there is no call {id}");
                return Ok(ExitCode::FAILURE);
            };
            let change = Change::Correct(call.over(announcement.call.to_draft()));
            let done = app.change_call(&person, *id, &change, &cli_actor(&person)).await?;
            Ok(report(done))
        }
        Some(CallsCommand::Cancel { id, person, reason }) => {
            let (app, person) = open_as(settings, person, clock).await?;
            let change = Change::Cancel { reason: reason.clone() };
            let done = app.change_call(&person, *id, &change, &cli_actor(&person)).await?;
            Ok(report(done))
        }
        Some(CallsCommand::Outcome {
            id,
            unit,
            outcome,
            amount,
            due,
            person,
        }) => {
            let outcome: Outcome = match outcome.parse() {
                Ok(outcome) => outcome,
                Err(reason) => {
                    eprintln!("--outcome: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let (app, person) = open_as(settings, person, clock).await?;
            if let Err(reason) = may_announce(&app.config(), &person) {
                eprintln!("{reason}");
                return Ok(ExitCode::FAILURE);
            }
            let actor = cli_actor(&person);
            let given = due.iter().cloned().collect();
            match app.record_outcome(*id, unit, outcome, *amount, &given, &actor).await? {
                OutcomeRecorded::Recorded { created } => {
                    println!("call {id}, {unit}: {}", outcome.as_str());
                    for occurrence in app.store.occurrences_by_ids(&created).await? {
                        let due = app.config().local_date(occurrence.due_at);
                        println!("  {} due {due} (occurrence {})", occurrence.obligation, occurrence.id);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                OutcomeRecorded::NotAnswered => {
                    eprintln!("{unit} has not answered call {id}; record its interest first");
                    Ok(ExitCode::FAILURE)
                }
                OutcomeRecorded::BadDate(reason) => {
                    eprintln!("--due: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// `--due OBLIGATION=YYYY-MM-DD`.
fn parse_given_due(text: &str) -> Result<(String, jiff::civil::Date), String> {
    let (obligation, date) = text
        .split_once('=')
        .ok_or_else(|| format!("\"{text}\": write OBLIGATION=YYYY-MM-DD"))?;
    let date = date
        .trim()
        .parse()
        .map_err(|_| format!("\"{date}\" is not a date like 2027-09-30"))?;
    Ok((obligation.trim().to_owned(), date))
}

async fn open_as(settings: &Settings, person: &str, clock: SystemClock) -> anyhow::Result<(App, Person)> {
    let app = App::open(settings, Arc::new(clock)).await?;
    let found = app.config().directory.person_named(person).cloned();
    let person = found.ok_or_else(|| anyhow::anyhow!("--as: unknown person \"{person}\""))?;
    Ok((app, person))
}

fn cli_actor(person: &Person) -> Actor<'_> {
    Actor {
        person: person.id.as_str(),
        channel: "cli",
        source: "arshjul calls",
        note: None,
    }
}

fn report(done: Announcing) -> ExitCode {
    match done {
        Announcing::Done(announcement) => {
            let what = match (announcement.state, announcement.revision) {
                (CallState::Cancelled, _) => "cancelled",
                (CallState::Active, 0) => "announced",
                (CallState::Active, _) => "corrected",
            };
            println!("call {} {what}: {}", announcement.id, announcement.call.title);
            ExitCode::SUCCESS
        }
        Announcing::Before(announcement) => {
            println!(
                "call {} was announced before ({}); nothing was sent again",
                announcement.id, announcement.call.title
            );
            ExitCode::SUCCESS
        }
        Announcing::Invalid(errors) => {
            for error in errors {
                eprintln!("--{}: {}", error.field.replace('_', "-"), error.message);
            }
            ExitCode::FAILURE
        }
        Announcing::Refused(reason) => {
            eprintln!("{reason}");
            ExitCode::FAILURE
        }
        Announcing::NoCall => {
            eprintln!("no such call, or it is cancelled");
            ExitCode::FAILURE
        }
    }
}

/// One call and one unit's answer, as exported.
#[derive(Debug, serde::Serialize)]
struct CallRow {
    call: i64,
    title: String,
    programme: String,
    deadline: String,
    state: String,
    unit: String,
    interest: String,
    outcome: String,
    amount: Option<i64>,
    answered_by: String,
}

async fn list(settings: &Settings, args: &CallsArgs) -> anyhow::Result<ExitCode> {
    let store = crate::storage::Store::connect(&settings.database).await?;
    store.migrate().await?;
    let year = args.year;
    let interests = store.interests().await?;
    let mut rows = Vec::new();
    for announcement in store.announcements().await? {
        if year.is_some_and(|y| announcement.call.deadline.year() != y) {
            continue;
        }
        let call = &announcement.call;
        let row = |unit: String, interest: String, outcome: String, amount, answered_by: String| CallRow {
            call: announcement.id,
            title: call.title.clone(),
            programme: call.programme.clone(),
            deadline: call.deadline.to_string(),
            state: announcement.state.as_str().to_owned(),
            unit,
            interest,
            outcome,
            amount,
            answered_by,
        };
        let answers: Vec<_> = interests
            .iter()
            .filter(|i| i.announcement_id == announcement.id)
            .collect();
        if answers.is_empty() {
            rows.push(row(String::new(), String::new(), String::new(), None, String::new()));
        }
        for answer in answers {
            rows.push(row(
                answer.unit.clone(),
                answer.interest.as_str().to_owned(),
                answer.outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
                answer.amount,
                answer.person.clone(),
            ));
        }
    }
    match args.format {
        CallsFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        CallsFormat::Csv => {
            let mut out =
                String::from("call,title,programme,deadline,state,unit,interest,outcome,amount,answered_by\n");
            for r in &rows {
                let fields = [
                    r.call.to_string(),
                    r.title.clone(),
                    r.programme.clone(),
                    r.deadline.clone(),
                    r.state.clone(),
                    r.unit.clone(),
                    r.interest.clone(),
                    r.outcome.clone(),
                    r.amount.map(|a| a.to_string()).unwrap_or_default(),
                    r.answered_by.clone(),
                ];
                out.push_str(
                    &fields
                        .iter()
                        .map(|f| crate::domain::listing::csv_field(f))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            print!("{out}");
        }
        CallsFormat::Table => {
            let header = [
                "CALL", "TITLE", "DEADLINE", "STATE", "UNIT", "INTEREST", "OUTCOME", "AMOUNT",
            ];
            let lines = rows.into_iter().map(|r| {
                vec![
                    r.call.to_string(),
                    r.title,
                    r.deadline,
                    r.state,
                    r.unit,
                    r.interest,
                    r.outcome,
                    r.amount.map(|a| a.to_string()).unwrap_or_default(),
                ]
            });
            print!("{}", crate::domain::listing::text_table(&header, lines));
        }
    }
    Ok(ExitCode::SUCCESS)
}
