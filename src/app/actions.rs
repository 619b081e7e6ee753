//! Recording what people do: an action on an occurrence, allowed by the one permission rule
//! ([`crate::domain::access::may`]) against the directory in force at that moment, and what
//! follows from it at once.

use super::App;
use crate::domain::access::{NotAllowed, may};
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

impl App {
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
