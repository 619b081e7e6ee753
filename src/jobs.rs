//! Scheduled work as UTC ticks of tokio-cron-scheduler. Jobs only decide and write to the
//! database; local due times are computed in `domain`, never by cron time zones.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::startup::Shared;

/// Checks that `expression` is a cron expression the scheduler accepts.
pub fn validate_cron(expression: &str) -> anyhow::Result<()> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(drop)
        .with_context(|| format!("jobs.materialise: \"{expression}\" is not a cron expression with seconds (sec min hour day month weekday)"))
}

/// Starts the scheduler with the materialisation job.
pub async fn start(shared: Arc<Shared>, materialise: &str) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await.context("creating the job scheduler")?;
    let job = Job::new_async(materialise, move |_, _| {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            // `materialise` logs its own outcome.
            let _ = shared.materialise().await;
        })
    })
    .with_context(|| format!("jobs.materialise: invalid cron expression \"{materialise}\""))?;
    scheduler.add(job).await.context("adding the materialisation job")?;
    scheduler.start().await.context("starting the job scheduler")?;
    Ok(scheduler)
}
