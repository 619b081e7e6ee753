//! The dispatcher, in three parts: `run_until_stopped` owns cancellation, its loop owns
//! sleeping, and `try_next` claims one batch, sends it and records every outcome — so tests
//! drive it to "queue empty" without sleeping.
//!
//! Sending and recording stream: outcomes are recorded as sends complete, side by side with
//! the sends still going — whatever completed while the last group was written is written
//! next, together — and a message holds one of the process's `delivery.concurrency` permits
//! from before it is sent until its outcome is recorded. So a crash (kill -9) repeats at most
//! that many messages — those on the wire or answered but not yet recorded — not the batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::compose::Batch;
use super::retry::backoff;
use crate::app::App;
use crate::channels::{Receipt, SendError};
use crate::domain::calls::channel_named;
use crate::domain::config::Transport;
use crate::domain::planner::idempotency_key;
use crate::domain::routing::Route;
use crate::settings::DeliverySettings;
use crate::storage::{DeliveryOutcome, OutboxRow};

/// What one `try_next` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatched {
    /// Messages sent or attempted (a digest of several deliveries is one message).
    pub messages: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Chat deliveries given up and replaced by email.
    pub fell_back: usize,
}

/// The result of one `try_next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// Nothing was due.
    Idle,
    Dispatched(Dispatched),
}

/// Claims due deliveries and sends them.
pub struct Dispatcher {
    app: Arc<App>,
    settings: DeliverySettings,
    /// Messages sent, or being sent, whose outcomes are not yet recorded: at most
    /// `delivery.concurrency` in the whole process.
    unrecorded: Arc<tokio::sync::Semaphore>,
}

impl Dispatcher {
    /// A dispatcher sending `app`'s outbox through its channels.
    pub fn new(app: Arc<App>, settings: DeliverySettings) -> Self {
        let unrecorded = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
        Self {
            app,
            settings,
            unrecorded,
        }
    }

    /// Dispatches with `delivery.workers` concurrent loops until `shutdown` is cancelled. While
    /// one loop records its batch, another claims and sends the next (claims never overlap).
    /// A batch in flight is finished and recorded first; its sends are bounded by timeouts.
    pub async fn run_until_stopped(self: Arc<Self>, shutdown: CancellationToken) {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.settings.workers.max(1) {
            workers.spawn(Arc::clone(&self).work_until_stopped(shutdown.clone()));
        }
        while workers.join_next().await.is_some() {}
        tracing::info!("dispatcher stopped");
    }

    /// One loop: claim, send, record; sleep when nothing is due.
    async fn work_until_stopped(self: Arc<Self>, shutdown: CancellationToken) {
        let idle = Duration::from_millis(self.settings.poll_milliseconds);
        while !shutdown.is_cancelled() {
            let pause = match self.try_next().await {
                Ok(DispatchOutcome::Dispatched(_)) => continue,
                Ok(DispatchOutcome::Idle) => idle,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "dispatching failed; trying again shortly");
                    idle.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Claims one batch of due deliveries, sends one message per recipient and channel, and
    /// records what became of every delivery.
    pub async fn try_next(&self) -> anyhow::Result<DispatchOutcome> {
        let store = &self.app.store;
        let now = self.app.clock.now();
        let lease = SignedDuration::from_secs(i64::try_from(self.settings.lease_seconds).unwrap_or(i64::MAX));
        let rows = store.claim(now, lease, self.settings.batch_size).await?;
        if rows.is_empty() {
            return Ok(DispatchOutcome::Idle);
        }
        let batch = Batch::load(store, &rows, self.app.config(), now).await?;
        let claimed = rows.len();
        // Reminders and calls go in separate messages: they read differently.
        let mut groups: BTreeMap<(String, String, bool), Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            groups
                .entry((
                    row.recipient.clone(),
                    row.channel.clone(),
                    row.announcement_id.is_some(),
                ))
                .or_default()
                .push(row);
        }
        let sends: Vec<_> = groups
            .into_iter()
            .map(|((recipient, channel, _), rows)| {
                let composed = batch.compose(&self.app, &recipient, &channel, &rows);
                let span = tracing::info_span!(
                    "delivery",
                    delivery = rows[0].id,
                    recipient = recipient.as_str(),
                    channel = channel.as_str(),
                    items = rows.len()
                );
                let unrecorded = Arc::clone(&self.unrecorded);
                async move {
                    // Held until the outcome is recorded (the semaphore is never closed).
                    let permit = unrecorded.acquire_owned().await.ok();
                    let started = Instant::now();
                    let result = match composed {
                        Ok(message) => self.app.notifiers.send(&message).await,
                        Err(error) => Err(error),
                    };
                    self.app.metrics.send_took(started.elapsed());
                    // A retry is counted from when the peer answered, not from the claim.
                    let answered = self.app.clock.now();
                    Sent {
                        channel,
                        rows,
                        result,
                        answered,
                        _permit: permit,
                    }
                }
                .instrument(span)
            })
            .collect();
        // Sending and recording run side by side: each outcome goes to the recorder as its send
        // completes, and the recorder writes whatever has arrived while it wrote the last group
        // (one statement for many on a busy dispatcher, one at a time on a quiet one).
        let (completed, mut arrived) = tokio::sync::mpsc::unbounded_channel::<Sent>();
        let concurrency = self.settings.concurrency.max(1);
        let sending = async move {
            futures_util::stream::iter(sends)
                // Once recording has failed, nothing more is sent: it could not be recorded.
                .take_while(|_| std::future::ready(!completed.is_closed()))
                .for_each_concurrent(concurrency, |send| async {
                    // Refused only once the recorder gave up; the send is repeated later.
                    let _ = completed.send(send.await);
                })
                .await;
            // Dropping `completed` here ends the recorder once it has written the rest.
        };
        let recording = async move {
            let mut summary = Dispatched::default();
            while let Some(first) = arrived.recv().await {
                let mut group = vec![first];
                while let Ok(sent) = arrived.try_recv() {
                    group.push(sent);
                }
                self.record(&group, &mut summary).await?;
            }
            anyhow::Ok(summary)
        };
        let ((), summary) = tokio::join!(sending, recording);
        let summary = summary?;
        tracing::debug!(?summary, claimed, "batch dispatched");
        Ok(DispatchOutcome::Dispatched(summary))
    }

    /// Records the outcomes of `group`, the messages whose sends completed together.
    async fn record(&self, group: &[Sent], summary: &mut Dispatched) -> anyhow::Result<()> {
        let mut outcomes = Vec::new();
        for Sent {
            channel,
            rows,
            result,
            answered,
            ..
        } in group
        {
            summary.messages += 1;
            for row in rows {
                let outcome = self.outcome(row, result, *answered);
                match &outcome {
                    DeliveryOutcome::Sent { .. } => summary.sent += 1,
                    DeliveryOutcome::Retry { .. } => summary.retried += 1,
                    DeliveryOutcome::FallBack { error, .. } => {
                        summary.fell_back += 1;
                        tracing::warn!(delivery = row.id, recipient = %row.recipient, %channel, %error, "chat delivery failed; falling back to email");
                    }
                    DeliveryOutcome::Dead { error } => {
                        summary.dead += 1;
                        tracing::warn!(delivery = row.id, recipient = %row.recipient, %channel, %error, "delivery is dead");
                    }
                }
                self.app.metrics.delivered(channel, outcome.label(), 1);
                outcomes.push((row.id, outcome));
            }
        }
        self.app.store.record(&outcomes, self.app.clock.now()).await?;
        self.app.health.dispatched(self.app.clock.now());
        Ok(())
    }

    /// What becomes of `row` after its message's `result`, which came at `answered`. A chat
    /// delivery that fails for good, or has failed `routing.fallback_to_email_after` times (or
    /// the last allowed time), is replaced by email.
    fn outcome(&self, row: &OutboxRow, result: &Result<Receipt, SendError>, answered: Timestamp) -> DeliveryOutcome {
        let max_attempts = i64::from(self.settings.max_attempts);
        let fallback_after = i64::from(self.app.routing.fallback_to_email_after);
        // A channel post has nobody to email instead.
        let chat = row.channel.parse::<Route>().is_ok_and(|r| r.transport.is_chat())
            && channel_named(&row.recipient).is_none();
        let falls_back = |error: &SendError| {
            chat && fallback_after > 0
                && (matches!(error, SendError::Permanent { .. }) || row.attempts >= fallback_after.min(max_attempts))
        };
        match result {
            Ok(receipt) => DeliveryOutcome::Sent {
                provider_id: receipt.provider_id.clone(),
                destination: receipt.destination.clone(),
            },
            Err(error) if falls_back(error) => DeliveryOutcome::FallBack {
                error: format!("sent by email instead after {} attempts: {error}", row.attempts),
                email_key: match row.subject() {
                    Ok(subject) => idempotency_key(subject, &row.step, &row.recipient, Transport::Email.as_str()),
                    Err(error) => {
                        return DeliveryOutcome::Dead {
                            error: error.to_string(),
                        };
                    }
                },
            },
            Err(SendError::Permanent { reason }) => DeliveryOutcome::Dead { error: reason.clone() },
            Err(SendError::Retryable { reason, .. }) if row.attempts >= max_attempts => DeliveryOutcome::Dead {
                error: format!("gave up after {} attempts: {reason}", row.attempts),
            },
            Err(SendError::Retryable { reason, retry_after }) => {
                let wait = retry_after.unwrap_or_else(|| {
                    backoff(
                        u32::try_from(row.attempts).unwrap_or(u32::MAX),
                        Duration::from_secs(self.settings.backoff_seconds),
                        Duration::from_secs(self.settings.backoff_max_seconds),
                        fastrand::f64(),
                    )
                });
                DeliveryOutcome::Retry {
                    error: reason.clone(),
                    at: retry_at(answered, wait),
                }
            }
        }
    }
}

/// When to try again, `wait` after `answered`, rounded up to the whole second the outbox
/// stores: never earlier than the peer asked.
fn retry_at(answered: Timestamp, wait: Duration) -> Timestamp {
    let at = answered
        .checked_add(SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX);
    let second = at.as_second() + i64::from(at.subsec_nanosecond() > 0);
    Timestamp::from_second(second).unwrap_or(at)
}

/// One message's send: what it carried, what came of it and when, and its permit.
struct Sent {
    channel: String,
    rows: Vec<OutboxRow>,
    result: Result<Receipt, SendError>,
    answered: Timestamp,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}
