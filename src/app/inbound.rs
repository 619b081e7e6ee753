//! Inbound handling: whatever people send arshjul — a reply, a reaction, a command, in any
//! channel — arrives here from the transports in `crate::inbound` as one [`Inbound`] message.
//! One service takes it in once (the inbox), finds the sender in the directory and the item it
//! is about, checks that the sender may act, acts, and says what to answer. Nothing is
//! dropped: what does not count is kept in the inbox with why.

use std::sync::Arc;

use crate::app::App;
use crate::app::actions::Acted;
use crate::app::calls::{Announcing, Answering, Change};
use crate::domain::access::may;
use crate::domain::calls::{Announcement, CallState};
use crate::domain::config::{Config, Language, Person};
use crate::domain::messages::{long_date, title, unit_name};
use crate::domain::occurrence::{ActionOutcome, Actor};
use crate::domain::occurrence::{OccurrenceState, StoredOccurrence};
use crate::domain::planner::notice;
use crate::domain::replies::{Answer, Command, MAX_PAUSE_DAYS, action, interpret};
use crate::domain::replies::{CallCommand, read_command, read_interest, read_selection};
use crate::domain::steps::Step;
use crate::storage::Settled;

/// Who sent a message, as the channel names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Matrix(String),
    Email(String),
    /// A Teams user by Entra object id.
    Teams(String),
}

impl Sender {
    fn as_str(&self) -> &str {
        match self {
            Self::Matrix(id) | Self::Email(id) | Self::Teams(id) => id,
        }
    }

    /// The directory's person behind this sender.
    pub fn person<'a>(&self, config: &'a Config) -> Option<&'a Person> {
        config.directory.people.iter().find(|p| match self {
            Self::Matrix(id) => p.matrix_id.as_deref() == Some(id.as_str()),
            Self::Email(address) => p.email.eq_ignore_ascii_case(address),
            Self::Teams(id) => p
                .teams_user_id
                .as_deref()
                .is_some_and(|mine| mine.eq_ignore_ascii_case(id)),
        })
    }
}

/// How sure arshjul is that a message comes from the person it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticity {
    /// The channel vouches for the sender: Matrix and Teams authenticate their users, and the
    /// municipality's mail server an email with a trusted `dmarc=pass`.
    Vouched,
    /// An email carrying the signed token of a delivery: it may answer that delivery.
    Token,
    /// An email with neither: nothing it says counts, and it is not answered.
    None,
}

/// One message from a person.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// `matrix`, `email`, `teams`.
    pub channel: &'static str,
    /// The channel's id of this message (event id, Message-ID): it is taken in once.
    pub reference: String,
    pub sender: Sender,
    /// The channel's id of the message it answers, when it is a reply or a reaction.
    pub in_reply_to: Option<String>,
    /// The text, or the reaction's key.
    pub text: String,
    /// Where it was said when the channel has places (a Matrix room id): a reply counts only
    /// in the place its message went to.
    pub room: Option<String>,
    /// Whether only the sender reads the answer (an email, a direct Matrix room): only then
    /// is their status listed.
    pub private: bool,
    pub authenticity: Authenticity,
}

/// What became of a message, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub answer: Answer,
    /// The answer in the sender's language (both languages for strangers).
    pub text: String,
    /// Whether the sender may be answered: someone in the directory whose message was
    /// authentic. Anyone else could be a forged address (no backscatter).
    pub answerable: bool,
}

/// Takes `message` in and acts on it; `None` when it was taken in before (nothing is done
/// twice).
pub async fn handle(app: &Arc<App>, message: &Inbound) -> anyhow::Result<Option<Handled>> {
    let store = &app.store;
    let now = app.clock.now();
    let Some(inbox_id) = store
        .inbox_receive(
            message.channel,
            &message.reference,
            message.sender.as_str(),
            &message.text,
            now,
        )
        .await?
    else {
        return Ok(None);
    };
    let config = app.config();
    let person = message.sender.person(&config);
    // A reply is matched to the message it answers (every delivery of a digest) only where
    // that message went.
    let in_its_room = |d: &crate::storage::OutboxRow| {
        message.room.is_none() || d.destination.is_none() || d.destination == message.room
    };
    let mut sent_together = match &message.in_reply_to {
        Some(id) => store.deliveries_by_provider_id(id).await?,
        None => Vec::new(),
    };
    sent_together.retain(in_its_room);
    // A bare "2" or "alla" answers the question "which one?" asked last, about its digest.
    let picks_only = read_selection(&message.text).is_some_and(|(_, said)| said.is_empty());
    let question = match person {
        Some(person) if picks_only => {
            let since = now - jiff::SignedDuration::from_hours(QUESTION_HOURS);
            store
                .pending_question(person.id.as_str(), message.channel, since)
                .await?
        }
        _ => None,
    };
    if let (true, Some(id)) = (sent_together.is_empty(), question.as_ref().and_then(|q| q.delivery_id)) {
        sent_together = match store.delivery(id).await?.filter(in_its_room) {
            Some(asked) => match &asked.provider_id {
                Some(provider_id) => store.deliveries_by_provider_id(provider_id).await?,
                None => vec![asked],
            },
            None => Vec::new(),
        };
    }
    let delivery = sent_together.first().cloned();
    let items = delivery
        .as_ref()
        .map(|delivery| digest_items(delivery, &sent_together))
        .unwrap_or_default();
    let call_command = read_command(&message.text);
    let call_id = delivery.as_ref().and_then(|d| d.announcement_id);
    let reply = interpret(&message.text, config.local_date(now));
    let occurrence_id = reply.occurrence.or(delivery.as_ref().and_then(|d| d.occurrence_id));
    let occurrence = match occurrence_id {
        Some(id) => store.occurrence(id).await?,
        None => None,
    };
    // A command naming an item or a call could be sent by anyone; a token answers its own delivery.
    let names_something = call_command.is_some() || reply.occurrence.is_some();
    let answer = match person {
        None => Answer::UnknownSender,
        Some(_) if message.authenticity == Authenticity::None => Answer::Unauthenticated,
        Some(_) if names_something && message.authenticity != Authenticity::Vouched => Answer::NeedsVouching,
        // An email reply counts only from the address its reminder went to.
        Some(person)
            if message.channel == "email" && delivery.as_ref().is_some_and(|d| d.recipient != person.id.as_str()) =>
        {
            Answer::FromAnotherAddress
        }
        Some(person) if call_command.is_some() || call_id.is_some() => {
            let actor = Actor {
                person: person.id.as_str(),
                channel: message.channel,
                source: &message.reference,
                note: None,
            };
            match (&call_command, call_id) {
                (Some(command), _) => call_command_answer(app, person, command, &actor).await?,
                (None, Some(id)) => interest_answer(app, person, id, &message.text, &actor).await?,
                (None, None) => Answer::NotUnderstood,
            }
        }
        // Someone's open items are for them alone, not for a room or a channel.
        Some(_) if reply.command == Command::Status && !message.private => Answer::StatusInPrivate,
        Some(person) if items.len() > 1 && reply.command != Command::Status => {
            let actor = Actor {
                person: person.id.as_str(),
                channel: message.channel,
                source: &message.reference,
                note: None,
            };
            let asked = question.as_ref().map(|q| q.text.as_str());
            digest_answer(app, &config, person, &items, &message.text, asked, actor).await?
        }
        Some(person) => {
            let asked = delivery
                .as_ref()
                .and_then(|d| d.step.parse::<Step>().ok())
                .map(Step::ask);
            let actor = Actor {
                person: person.id.as_str(),
                channel: message.channel,
                source: &message.reference,
                note: None,
            };
            act(app, &config, person, &reply.command, asked, occurrence.as_ref(), actor).await?
        }
    };
    let language = person.map_or(Language::Sv, |p| p.language);
    let text = answer.text(language);
    store
        .inbox_settle(
            inbox_id,
            &Settled {
                person: person.map(|p| p.id.as_str()),
                delivery_id: delivery.as_ref().map(|d| d.id),
                occurrence_id: occurrence.as_ref().map(|o| o.id),
                outcome: answer.outcome(),
                detail: &text,
            },
        )
        .await?;
    tracing::info!(
        channel = message.channel,
        sender = message.sender.as_str(),
        outcome = answer.outcome(),
        "inbound message"
    );
    // A token of someone else's delivery does not show who sent the message.
    let answerable =
        person.is_some() && message.authenticity != Authenticity::None && answer != Answer::FromAnotherAddress;
    Ok(Some(Handled {
        answer,
        text,
        answerable,
    }))
}

/// How long a question "which one?" waits for its answer.
const QUESTION_HOURS: i64 = 7 * 24;

/// One item of a digest: its occurrence, and what the digest asked about it.
struct DigestItem {
    occurrence: i64,
    asked: Option<crate::domain::steps::Ask>,
}

/// The items of the message `delivery` went out in (`sent_together`, in the digest's order):
/// one per occurrence, one for a message that is no digest.
fn digest_items(delivery: &crate::storage::OutboxRow, sent_together: &[crate::storage::OutboxRow]) -> Vec<DigestItem> {
    let mut items: Vec<DigestItem> = Vec::new();
    for row in sent_together.iter().filter(|row| row.recipient == delivery.recipient) {
        if let Some(occurrence) = row.occurrence_id.filter(|id| items.iter().all(|i| i.occurrence != *id)) {
            let asked = row.step.parse::<Step>().ok().map(Step::ask);
            items.push(DigestItem { occurrence, asked });
        }
    }
    items
}

/// A reply to a digest: acts on the items it picks ("alla klara", "klart för båda", "1 och
/// 3") and says what became of each; asks which when it does not say ("klart"). A bare pick
/// ("2") answers that question: `asked` is the reply it asked about.
async fn digest_answer(
    app: &Arc<App>,
    config: &Config,
    person: &Person,
    items: &[DigestItem],
    text: &str,
    asked: Option<&str>,
    actor: Actor<'_>,
) -> anyhow::Result<Answer> {
    let today = config.local_date(app.clock.now());
    let Some((selection, said)) = read_selection(text) else {
        if interpret(text, today).command == Command::NotUnderstood {
            return Ok(Answer::NotUnderstood);
        }
        let mut names = Vec::new();
        for item in items {
            if let Some(occurrence) = app.store.occurrence(item.occurrence).await? {
                names.push(item_name(config, &occurrence, person.language));
            }
        }
        return Ok(Answer::WhichOne { items: names });
    };
    let Some(said) = Some(said.as_str()).filter(|s| !s.is_empty()).or(asked) else {
        // "alla" alone, and nothing was asked: all what?
        return Ok(Answer::NotUnderstood);
    };
    let command = interpret(said, today).command;
    let mut answers = Vec::new();
    for (number, item) in (1..).zip(items).filter(|(number, _)| selection.picks(*number)) {
        let occurrence = app.store.occurrence(item.occurrence).await?;
        let answer = act(
            app,
            config,
            person,
            &command,
            item.asked,
            occurrence.as_ref(),
            actor.clone(),
        )
        .await?;
        answers.push((number, answer));
    }
    Ok(if answers.is_empty() {
        Answer::NoItem
    } else {
        Answer::Several(answers)
    })
}

/// An item as people name it: "Uppföljning – Tekniska förvaltningen 2027".
fn item_name(config: &Config, occurrence: &StoredOccurrence, language: Language) -> String {
    format!(
        "{} – {} {}",
        title(config, occurrence, language),
        unit_name(config, occurrence, language),
        occurrence.period
    )
}

/// Carries out a call command of the strategist's.
async fn call_command_answer(
    app: &Arc<App>,
    person: &Person,
    command: &CallCommand,
    actor: &Actor<'_>,
) -> anyhow::Result<Answer> {
    let done = match command {
        CallCommand::Announce(draft) => app.announce(person, draft).await?,
        CallCommand::Cancel { id, reason } => {
            let change = Change::Cancel { reason: reason.clone() };
            app.change_call(person, *id, &change, actor).await?
        }
    };
    Ok(match done {
        Announcing::Done(announcement) if matches!(command, CallCommand::Announce(_)) => {
            let config = app.config();
            let at = app.calls.reaches_contacts_at(&config, announcement.created_at);
            Answer::Announced {
                call: call_name(&announcement),
                reaches: crate::domain::messages::long_date(&config, at, person.language),
            }
        }
        Announcing::Done(announcement) => Answer::CallChanged {
            call: call_name(&announcement),
            cancelled: announcement.state == CallState::Cancelled,
        },
        Announcing::Before(announcement) => Answer::AnnouncedBefore {
            call: call_name(&announcement),
        },
        Announcing::Invalid(errors) => Answer::Refused {
            reason: errors
                .iter()
                .map(|e| e.text(person.language))
                .collect::<Vec<_>>()
                .join("; "),
        },
        Announcing::Refused(why) => Answer::Refused {
            reason: why.text(person.language),
        },
        Announcing::NoCall => Answer::NoCall,
    })
}

/// Records the interest a reply to call `id` expresses.
async fn interest_answer(
    app: &Arc<App>,
    person: &Person,
    id: i64,
    text: &str,
    actor: &Actor<'_>,
) -> anyhow::Result<Answer> {
    let Some(interest) = read_interest(text) else {
        return Ok(Answer::NotAnAnswerToCall);
    };
    let call = match app.store.announcement(id).await? {
        Some(announcement) => call_name(&announcement),
        None => return Ok(Answer::NoItem),
    };
    Ok(match app.answer_call(person, id, interest, actor).await? {
        Answering::Recorded { units, created } => Answer::Interest {
            interest,
            call,
            units: crate::domain::messages::unit_names(&app.config(), &units, person.language),
            created,
        },
        Answering::Already { .. } => Answer::Already { item: call },
        Answering::Refused(why) => Answer::Refused {
            reason: why.text(person.language),
        },
    })
}

/// A call as people name it: `#12 "Title"`.
fn call_name(announcement: &Announcement) -> String {
    format!("#{} ”{}”", announcement.id, announcement.call.title)
}

/// Carries out `command` of `person` on `occurrence`.
async fn act(
    app: &Arc<App>,
    config: &Config,
    person: &Person,
    command: &Command,
    asked: Option<crate::domain::steps::Ask>,
    occurrence: Option<&StoredOccurrence>,
    actor: Actor<'_>,
) -> anyhow::Result<Answer> {
    let store = &app.store;
    let now = app.clock.now();
    if *command == Command::Status {
        return Ok(Answer::Status {
            lines: status_lines(app, config, person).await?,
        });
    }
    if *command == Command::NotUnderstood {
        return Ok(Answer::NotUnderstood);
    }
    let Some(occurrence) = occurrence else {
        return Ok(Answer::NoItem);
    };
    let item = item_name(config, occurrence, person.language);
    let note = match command {
        Command::Done { note } | Command::Submit { note } | Command::Acknowledge { note } => note.clone(),
        Command::Waive { reason } | Command::Refuse { reason } => reason.clone(),
        Command::NotApplicable { reason } => Some(reason.clone()),
        _ => None,
    };
    let actor = Actor {
        note: note.as_deref(),
        ..actor
    };
    if let Some(action) = action(command, asked, occurrence.state) {
        return Ok(match app.record_action(occurrence.id, action, &actor).await? {
            Some(Acted::Done(ActionOutcome::Recorded { .. })) => Answer::Recorded { action, item },
            Some(Acted::Done(ActionOutcome::AlreadyRecorded(_))) => Answer::Already { item },
            Some(Acted::Done(ActionOutcome::Refused(state))) => Answer::Refused {
                reason: format!("{item}: {}", state.label(person.language)),
            },
            Some(Acted::NotAllowed(why)) => Answer::NotAllowed(why),
            None => Answer::NoItem,
        });
    }
    let submit = crate::domain::occurrence::Action::Submit;
    let until = match command {
        Command::Snooze { days } => config.local_date(now).checked_add(jiff::Span::new().days(*days)).ok(),
        Command::WillDoBy { date } => Some(*date),
        Command::NotApplicable { .. } => {
            if let Err(why) = may(config, person.id.as_str(), occurrence, submit) {
                return Ok(Answer::NotAllowed(why));
            }
            let notices = notice(config, occurrence, &app.routing, Step::WaiveRequest, actor.person, now);
            store
                .waiver_decision(occurrence.id, "waive-request", &actor, &notices, now)
                .await?;
            return Ok(Answer::Requested { item });
        }
        Command::Refuse { .. } => {
            let waive = crate::domain::occurrence::Action::Waive;
            if let Err(why) = may(config, person.id.as_str(), occurrence, waive) {
                return Ok(Answer::NotAllowed(why));
            }
            store
                .waiver_decision(occurrence.id, "waive-refused", &actor, &[], now)
                .await?;
            return Ok(Answer::RefusedRequest { item });
        }
        // A bare "ok" to no particular request.
        _ => return Ok(Answer::NoItem),
    };
    if let Err(why) = may(config, person.id.as_str(), occurrence, submit) {
        return Ok(Answer::NotAllowed(why));
    }
    let today = config.local_date(now);
    if until.is_some_and(|date| {
        today
            .until(date)
            .is_ok_and(|span| span.get_days() > i32::from(MAX_PAUSE_DAYS))
    }) {
        return Ok(Answer::PauseTooLong {
            max_days: MAX_PAUSE_DAYS,
        });
    }
    // Reminders resume when the send window opens on that day (or the next business day).
    let start_of = |date: jiff::civil::Date| {
        config
            .calendar
            .time_zone
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
    };
    let Some(until) = until
        .and_then(|date| start_of(date).ok())
        .map(|at| config.next_send_time(at))
    else {
        return Ok(Answer::PauseTooLong {
            max_days: MAX_PAUSE_DAYS,
        });
    };
    if occurrence.state != OccurrenceState::Open || !store.pause(occurrence.id, until, &actor, now).await? {
        return Ok(Answer::Refused {
            reason: format!("{item}: {}", occurrence.state.label(person.language)),
        });
    }
    Ok(Answer::Paused {
        item,
        until: long_date(config, until, person.language),
    })
}

/// The open and submitted items of units where `person` holds a role, one line each.
async fn status_lines(app: &Arc<App>, config: &Config, person: &Person) -> anyhow::Result<Vec<String>> {
    let units: Vec<&str> = config
        .directory
        .units
        .iter()
        .filter(|u| {
            u.roles
                .values()
                .any(|a| a.person == person.id || a.deputy.as_ref() == Some(&person.id))
        })
        .map(|u| u.id.as_str())
        .collect();
    let mut lines = Vec::new();
    for occurrence in app.store.occurrences().await? {
        let open = matches!(occurrence.state, OccurrenceState::Open | OccurrenceState::Submitted);
        if open && occurrence.configured && units.contains(&occurrence.unit.as_str()) {
            lines.push(format!(
                "#{} {} – {} {}: {} ({})",
                occurrence.id,
                title(config, &occurrence, person.language),
                unit_name(config, &occurrence, person.language),
                occurrence.period,
                long_date(config, occurrence.due_at, person.language),
                occurrence.state.as_str()
            ));
        }
    }
    Ok(lines)
}
