//! Scheduled work as UTC ticks of tokio-cron-scheduler. Jobs only decide and write to the
//! database; local due times are computed in `domain`, never by cron time zones.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::App;

/// Checks that `expression`, the setting `key`, is a cron expression the scheduler accepts.
pub fn validate_cron(key: &str, expression: &str) -> anyhow::Result<()> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(drop)
        .with_context(|| {
            format!("{key}: \"{expression}\" is not a cron expression with seconds (sec min hour day month weekday)")
        })
}

/// Starts the scheduler with the materialisation and planning jobs.
pub async fn start(
    app: Arc<App>,
    materialise: &str,
    plan: &str,
    inbox_retention_days: i64,
) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await.context("creating the job scheduler")?;
    // Both jobs log their own outcome.
    add(
        &scheduler,
        "jobs.materialise",
        materialise,
        Arc::clone(&app),
        move |app| async move {
            let _ = app.materialise().await;
            let _ = app.forget_old_inbox(inbox_retention_days).await;
        },
    )
    .await?;
    add(&scheduler, "delivery.plan", plan, app, |app| async move {
        let _ = app.plan().await;
    })
    .await?;
    scheduler.start().await.context("starting the job scheduler")?;
    Ok(scheduler)
}

/// Adds a job that runs `work` on the schedule `cron` (the setting `key`).
async fn add<F, Fut>(scheduler: &JobScheduler, key: &str, cron: &str, app: Arc<App>, work: F) -> anyhow::Result<()>
where
    F: Fn(Arc<App>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let work = Arc::new(work);
    let job = Job::new_async(cron, move |_, _| {
        let (app, work) = (Arc::clone(&app), Arc::clone(&work));
        Box::pin(async move { work(app).await })
    })
    .with_context(|| format!("{key}: invalid cron expression \"{cron}\""))?;
    scheduler
        .add(job)
        .await
        .with_context(|| format!("adding the job for {key}"))?;
    Ok(())
}
