//! Planning: occurrences materialised from the configuration, the deliveries the planner
//! wants written to the outbox, and one-off notices that a decision causes.

use super::App;
use crate::domain::occurrence::StoredOccurrence;
use crate::domain::planner::notice;
use crate::domain::steps::Step;
use crate::storage::MaterialiseReport;

impl App {
    /// Brings the stored occurrences in line with the configuration in force, now.
    pub async fn materialise(&self) -> anyhow::Result<MaterialiseReport> {
        let outcome = self.store.materialise(&self.config(), self.clock.now()).await;
        match &outcome {
            Ok(report) => tracing::info!(
                created = report.created,
                rescheduled = report.rescheduled,
                unconfigured = report.unconfigured,
                reconfigured = report.reconfigured,
                "occurrences materialised"
            ),
            Err(error) => tracing::error!(error = format!("{error:#}"), "materialisation failed"),
        }
        outcome
    }

    /// Puts a one-off `step` message about `occurrence` in the outbox (see [`notice`]).
    pub async fn notify(&self, occurrence: &StoredOccurrence, step: Step, by: &str) -> anyhow::Result<()> {
        let now = self.clock.now();
        let deliveries = notice(&self.config(), occurrence, &self.routing, step, by, now);
        self.store.enqueue(&deliveries, now).await.map(drop)
    }

    /// Writes the deliveries wanted now to the outbox — reminders, escalations, requests, and
    /// the weekly summaries of EU calls; returns how many were new.
    pub async fn plan(&self) -> anyhow::Result<usize> {
        let outcome = self.plan_now().await;
        match &outcome {
            Ok(0) => tracing::debug!("planned: nothing new"),
            Ok(created) => tracing::info!(created, "deliveries planned"),
            Err(error) => tracing::error!(error = format!("{error:#}"), "planning failed"),
        }
        outcome
    }

    async fn plan_now(&self) -> anyhow::Result<usize> {
        let (config, now) = (self.config(), self.clock.now());
        let routing = &self.routing;
        let planned = self
            .store
            .plan(now, |occurrences| {
                crate::domain::planner::plan(&config, occurrences, now, routing)
            })
            .await?;
        let announcements = self.store.announcements().await?;
        let summaries = crate::domain::calls::summary_deliveries(&config, routing, &announcements, now);
        Ok(planned + self.store.enqueue(&summaries, now).await?)
    }
}
