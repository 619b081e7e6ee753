//! Scheduled work as UTC ticks of tokio-cron-scheduler. Jobs only decide and write to the
//! database; local due times are computed in `domain`, never by cron time zones.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::startup::Shared;

/// Checks that `expression`, the setting `key`, is a cron expression the scheduler accepts.
pub fn validate_cron(key: &str, expression: &str) -> anyhow::Result<()> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(drop)
        .with_context(|| {
            format!("{key}: \"{expression}\" is not a cron expression with seconds (sec min hour day month weekday)")
        })
}

/// Starts the scheduler with the materialisation and planning jobs.
pub async fn start(shared: Arc<Shared>, materialise: &str, plan: &str) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await.context("creating the job scheduler")?;
    let materialising = Arc::clone(&shared);
    let job = Job::new_async(materialise, move |_, _| {
        let shared = Arc::clone(&materialising);
        Box::pin(async move {
            // `materialise` logs its own outcome.
            let _ = shared.materialise().await;
        })
    })
    .with_context(|| format!("jobs.materialise: invalid cron expression \"{materialise}\""))?;
    scheduler.add(job).await.context("adding the materialisation job")?;
    let job = Job::new_async(plan, move |_, _| {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            // `plan` logs its own outcome.
            let _ = shared.plan().await;
        })
    })
    .with_context(|| format!("delivery.plan: invalid cron expression \"{plan}\""))?;
    scheduler.add(job).await.context("adding the planning job")?;
    scheduler.start().await.context("starting the job scheduler")?;
    Ok(scheduler)
}
