//! Planning: occurrences materialised from the configuration and the deliveries the planner
//! wants written to the outbox. (One-off notices are written with the decision that causes
//! them: see `record_action` and the waiver decisions in `inbound`.)

use super::App;
use crate::storage::MaterialiseReport;

impl App {
    /// Brings the stored occurrences in line with the configuration in force, now.
    pub async fn materialise(&self) -> anyhow::Result<MaterialiseReport> {
        let now = self.clock.now();
        let outcome = self.store.materialise(&self.config(), now).await;
        match &outcome {
            Ok(report) => {
                self.health.materialised(now);
                tracing::info!(
                    created = report.created,
                    rescheduled = report.rescheduled,
                    unconfigured = report.unconfigured,
                    reconfigured = report.reconfigured,
                    "occurrences materialised"
                );
            }
            Err(error) => tracing::error!(error = format!("{error:#}"), "materialisation failed"),
        }
        outcome
    }

    /// Forgets inbound messages older than `retention_days` (none when it is 0), logging how
    /// many.
    pub async fn forget_old_inbox(&self, retention_days: i64) -> anyhow::Result<u64> {
        if retention_days <= 0 {
            return Ok(0);
        }
        let before = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * retention_days))
            .unwrap_or(jiff::Timestamp::MIN);
        let forgotten = self.store.forget_inbox_before(before).await;
        match &forgotten {
            Ok(count) => tracing::info!(count, retention_days, "old inbound messages forgotten"),
            Err(error) => tracing::error!(error = format!("{error:#}"), "forgetting old inbound messages failed"),
        }
        forgotten
    }

    /// Writes the deliveries wanted now to the outbox — reminders, escalations, requests, and
    /// the weekly summaries of EU calls; returns how many were new.
    pub async fn plan(&self) -> anyhow::Result<usize> {
        let outcome = self.plan_now().await;
        if outcome.is_ok() {
            self.health.planned(self.clock.now());
        }
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
