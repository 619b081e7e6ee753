//! Recording what people do: an action on an occurrence, and what follows from it at once.

use super::App;
use crate::domain::occurrence::{Action, ActionOutcome, Actor, OccurrenceState};
use crate::domain::steps::Step;

impl App {
    /// Records `action` on occurrence `id` as `actor` does, and what follows from it at once: the
    /// next step is planned (the manager's acknowledgement request), and an acknowledgement is
    /// told to the responsible person.
    pub async fn record_action(
        &self,
        id: i64,
        action: Action,
        actor: &Actor<'_>,
    ) -> anyhow::Result<Option<ActionOutcome>> {
        let now = self.clock.now();
        let outcome = self.store.record_action(id, action, actor, now).await?;
        if let Some(ActionOutcome::Recorded { to, .. }) = &outcome {
            // `plan` logs its own failure, and the minute job tries again.
            let _ = self.plan().await;
            if *to == OccurrenceState::Acknowledged
                && let Some(occurrence) = self.store.occurrence(id).await?
            {
                self.notify(&occurrence, Step::Closed, actor.person).await?;
            }
        }
        Ok(outcome)
    }
}
