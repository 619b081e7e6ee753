//! Recording what people do: an action on an occurrence, allowed by the one permission rule
//! ([`crate::domain::access::may`]) against the directory in force at that moment, and what
//! follows from it at once.

use jiff::civil::Date;

use super::App;
use crate::domain::access::{NotAllowed, may, may_start};
use crate::domain::occurrence::{Action, ActionOutcome, Actor, OccurrenceState};
use crate::domain::planner::notice;
use crate::domain::steps::Step;

/// What became of a person's attempt to act on an occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// The person may; what recording did.
    Done(ActionOutcome),
    /// The directory in force does not let the person do this; nothing changed.
    NotAllowed(NotAllowed),
}

/// What became of KLK's starting an on-demand item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Created: the ids, one per unit it applies to, planned at once.
    Created(Vec<i64>),
    /// It was started today already.
    Already,
    /// Only KLK starts items on demand.
    NotAllowed,
    /// No such on-demand obligation, or a due date not after today; why.
    Invalid(String),
}

impl App {
    /// Starts on-demand obligation `obligation` (a revision) today as `actor`, due on `due` or
    /// by the calendar's rule, if the directory lets them. Every entry point starts through this.
    pub async fn start(&self, obligation: &str, due: Option<Date>, actor: &Actor<'_>) -> anyhow::Result<Started> {
        let config = self.config();
        if !may_start(&config, actor.person) {
            return Ok(Started::NotAllowed);
        }
        let now = self.clock.now();
        let occurrences = match config.started_occurrences(obligation, config.local_date(now), due) {
            Ok(occurrences) => occurrences,
            Err(reason) => return Ok(Started::Invalid(reason)),
        };
        let created = self.store.start_occurrences(&occurrences, actor, now).await?;
        if created.is_empty() {
            return Ok(Started::Already);
        }
        tracing::info!(
            obligation,
            person = actor.person,
            created = created.len(),
            "started on demand"
        );
        // `plan` logs its own failure, and the minute job tries again.
        let _ = self.plan().await;
        Ok(Started::Created(created))
    }

    /// Records `action` on occurrence `id` as `actor` does, if the directory in force lets
    /// them, and what follows from it: an acknowledgement is told to the responsible person
    /// in the same transaction, and the next step is planned (the manager's acknowledgement
    /// request). `None` when there is no such occurrence. Every entry point acts through this.
    pub async fn record_action(&self, id: i64, action: Action, actor: &Actor<'_>) -> anyhow::Result<Option<Acted>> {
        let Some(occurrence) = self.store.occurrence(id).await? else {
            return Ok(None);
        };
        let config = self.config();
        if let Err(why) = may(&config, actor.person, &occurrence, action) {
            return Ok(Some(Acted::NotAllowed(why)));
        }
        let now = self.clock.now();
        let notices = |to: OccurrenceState| match to {
            OccurrenceState::Acknowledged => {
                notice(&config, &occurrence, &self.routing, Step::Closed, actor.person, now)
            }
            _ => Vec::new(),
        };
        let Some(outcome) = self.store.record_action(id, action, actor, notices, now).await? else {
            return Ok(None);
        };
        if matches!(outcome, ActionOutcome::Recorded { .. }) {
            // `plan` logs its own failure, and the minute job tries again.
            let _ = self.plan().await;
        }
        Ok(Some(Acted::Done(outcome)))
    }
}
