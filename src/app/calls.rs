//! The EU funding calls service: the strategist announces, corrects and cancels calls, and the
//! units answer them. The CLI, the HTTP API, chat commands, replies and signed links all come
//! here, so the rules — who may, what is sent, what is created — are the same from everywhere.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Time;

use crate::app::App;
use crate::domain::calls::{self, Announcement, CallRefusal, CallState, Draft, FieldError, Interest, may_announce};
use crate::domain::config::{Config, Person};
use crate::domain::occurrence::Actor;
use crate::domain::steps::Step;
use crate::settings::CallsSettings;
use crate::storage::{Announced, CallChange, InterestRecorded, Outcome};

/// When calls reach the contact persons (the network's channels: `Routing::network`).
#[derive(Debug, Clone)]
pub struct CallDesk {
    /// When contact persons get the day's calls (local time).
    pub digest_time: Time,
}

impl CallDesk {
    /// The desk the settings describe; a wrong setting is an error naming its key.
    pub fn new(settings: &CallsSettings) -> anyhow::Result<Self> {
        let digest_time = settings.digest_time.parse::<Time>().map_err(|_| {
            anyhow::anyhow!(
                "calls.digest_time: \"{}\" is not a time like 15:00",
                settings.digest_time
            )
        })?;
        Ok(Self { digest_time })
    }

    /// When a call announced at `now` reaches the contact persons: the next digest time,
    /// moved into a send window.
    pub fn reaches_contacts_at(&self, config: &Config, now: Timestamp) -> Timestamp {
        config.next_send_time(self.personal_time(config, now))
    }

    /// The next time at or after `now` that contact persons get calls.
    fn personal_time(&self, config: &Config, now: Timestamp) -> Timestamp {
        let zone = &config.calendar.time_zone;
        let local = zone.to_datetime(now);
        let day = if local.time() <= self.digest_time {
            local.date()
        } else {
            local.date().tomorrow().unwrap_or(local.date())
        };
        zone.to_timestamp(day.to_datetime(self.digest_time)).unwrap_or(now)
    }
}

/// What became of an announcement, a correction or a cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcing {
    /// Stored and on its way to the network.
    Done(Announcement),
    /// The same call (this one) was announced before; nothing was sent again.
    Before(Announcement),
    /// Wrong input, field by field.
    Invalid(Vec<FieldError>),
    /// The person may not do this, and why.
    Refused(CallRefusal),
    /// No such call (or it is cancelled).
    NoCall,
}

/// What a change to a call asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The call as it should read now.
    Correct(Draft),
    Cancel {
        reason: Option<String>,
    },
}

/// What became of a unit's answer to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answering {
    /// Recorded for these units (ids); `created` occurrences for those that apply.
    Recorded { units: Vec<String>, created: usize },
    /// The units had said so already.
    Already { units: Vec<String> },
    /// The person answers for no unit the call is for, or the call is closed; why.
    Refused(CallRefusal),
}

/// What became of an outcome recorded for a unit's application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeRecorded {
    /// Recorded; for a grant, the ids of the project's occurrences created.
    Recorded { created: Vec<i64> },
    /// The unit had not answered the call.
    NotAnswered,
    /// A date given with the grant is wrong; why, naming the obligation.
    BadDate(String),
}

impl App {
    /// Records `outcome` (with the granted `amount`) for `unit`'s application to call `id`.
    /// A grant gives the unit the project's reporting obligations, due on the dates `given`
    /// for them or by the calendar's defaults from today; they are planned at once.
    pub async fn record_outcome(
        &self,
        id: i64,
        unit: &str,
        outcome: Outcome,
        amount: Option<i64>,
        given: &BTreeMap<String, jiff::civil::Date>,
        actor: &Actor<'_>,
    ) -> anyhow::Result<OutcomeRecorded> {
        let config = self.config();
        let now = self.clock.now();
        let occurrences = match (outcome, config.directory.unit_named(unit)) {
            (Outcome::Granted, Some(owner)) => {
                match config.project_occurrences(id, config.local_date(now), owner, given) {
                    Ok(occurrences) => occurrences,
                    Err(reason) => return Ok(OutcomeRecorded::BadDate(reason)),
                }
            }
            _ => Vec::new(),
        };
        let Some(created) = self
            .store
            .record_outcome(id, unit, (outcome, amount), actor, &occurrences, now)
            .await?
        else {
            return Ok(OutcomeRecorded::NotAnswered);
        };
        if !created.is_empty() {
            // `plan` logs its own failure, and the minute job tries again.
            let _ = self.plan().await;
        }
        tracing::info!(
            call = id,
            unit,
            outcome = outcome.as_str(),
            created = created.len(),
            "outcome recorded"
        );
        Ok(OutcomeRecorded::Recorded { created })
    }

    /// Announces the call `draft` describes, as `person`.
    pub async fn announce(&self, person: &Person, draft: &Draft) -> anyhow::Result<Announcing> {
        let config = self.config();
        if let Err(reason) = may_announce(&config, person) {
            return Ok(Announcing::Refused(reason));
        }
        let now = self.clock.now();
        let call = match draft.validate(&config, config.local_date(now)) {
            Ok(call) => call,
            Err(errors) => return Ok(Announcing::Invalid(errors)),
        };
        let personal_at = self.calls.personal_time(&config, now);
        let announced = self
            .store
            .announce(&call, person.id.as_str(), now, |announcement| {
                calls::deliveries(&config, &self.routing, announcement, Step::Announce, now, personal_at)
            })
            .await?;
        Ok(match announced {
            Announced::New(announcement) => {
                tracing::info!(call = announcement.id, by = %person.id, "call announced");
                Announcing::Done(announcement)
            }
            Announced::Before(announcement) => Announcing::Before(announcement),
        })
    }

    /// Corrects or cancels call `id` as `actor`; the same people and channels are told.
    pub async fn change_call(
        &self,
        person: &Person,
        id: i64,
        change: &Change,
        actor: &Actor<'_>,
    ) -> anyhow::Result<Announcing> {
        let config = self.config();
        if let Err(reason) = may_announce(&config, person) {
            return Ok(Announcing::Refused(reason));
        }
        let now = self.clock.now();
        let (change, rescheduled) = match change {
            Change::Cancel { reason } => (CallChange::Cancel { reason: reason.clone() }, Vec::new()),
            Change::Correct(draft) => {
                let call = match draft.validate(&config, config.local_date(now)) {
                    Ok(call) => call,
                    Err(errors) => return Ok(Announcing::Invalid(errors)),
                };
                let applying: Vec<String> = self
                    .store
                    .interests()
                    .await?
                    .into_iter()
                    .filter(|i| i.announcement_id == id && i.interest == Interest::Applying)
                    .map(|i| i.unit)
                    .collect();
                let rescheduled = applying
                    .iter()
                    .filter_map(|unit| config.directory.unit_named(unit))
                    .flat_map(|unit| config.call_occurrences(id, call.deadline, unit))
                    .collect();
                (CallChange::Correct(call), rescheduled)
            }
        };
        let personal_at = self.calls.personal_time(&config, now);
        let changed = self
            .store
            .change_call(id, &change, actor, now, &rescheduled, |announcement| {
                let step = match announcement.state {
                    CallState::Cancelled => Step::CallCancelled,
                    CallState::Active => Step::CallUpdate(announcement.revision),
                };
                calls::deliveries(&config, &self.routing, announcement, step, now, personal_at)
            })
            .await?;
        Ok(changed.map_or(Announcing::NoCall, Announcing::Done))
    }

    /// Records `interest` in call `id` for the units `person` answers for. Units that apply
    /// get the calendar's per-call occurrences, planned at once.
    pub async fn answer_call(
        &self,
        person: &Person,
        id: i64,
        interest: Interest,
        actor: &Actor<'_>,
    ) -> anyhow::Result<Answering> {
        let config = self.config();
        let Some(announcement) = self.store.announcement(id).await? else {
            return Ok(Answering::Refused(CallRefusal::NoSuchCall(id)));
        };
        if announcement.state == CallState::Cancelled {
            return Ok(Answering::Refused(CallRefusal::Cancelled(id)));
        }
        let units = announcement.call.units_answered_by(&config, person);
        if units.is_empty() {
            return Ok(Answering::Refused(CallRefusal::AnswersForNoUnit {
                name: person.name.clone(),
            }));
        }
        let now = self.clock.now();
        let mut recorded = Vec::new();
        let mut created = 0;
        for unit in &units {
            let occurrences = config.call_occurrences(id, announcement.call.deadline, unit);
            match self
                .store
                .record_interest(id, unit.id.as_str(), interest, actor, &occurrences, now)
                .await?
            {
                InterestRecorded::Recorded { created: new } => {
                    created += new.len();
                    recorded.push(unit.id.to_string());
                }
                InterestRecorded::Already => {}
            }
        }
        if recorded.is_empty() {
            return Ok(Answering::Already {
                units: units.iter().map(|u| u.id.to_string()).collect(),
            });
        }
        if created > 0 {
            // `plan` logs its own failure, and the minute job tries again.
            let _ = self.plan().await;
        }
        tracing::info!(call = id, interest = interest.as_str(), units = ?recorded, created, "interest recorded");
        Ok(Answering::Recorded {
            units: recorded,
            created,
        })
    }
}
