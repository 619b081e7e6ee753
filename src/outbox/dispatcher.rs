//! The dispatcher, in three parts: `run_until_stopped` owns cancellation, its loop owns
//! sleeping, and `try_next` claims one batch, sends it and records every outcome — so tests
//! drive it to "queue empty" without sleeping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::retry::backoff;
use crate::app::App;
use crate::channels::{ItemSummary, Outgoing, Receipt, Recipient, SendError};
use crate::domain::calls::{Announcement, Interest, answers_so_far, channel_named};
use crate::domain::config::Transport;
use crate::domain::config::{Config, Language, Person};
use crate::domain::followup;
use crate::domain::messages::{CallEntry, Entry, Format, ItemLink, Rendered, action_for, compose, compose_calls};
use crate::domain::occurrence::{Action, StoredOccurrence};
use crate::domain::planner::idempotency_key;
use crate::domain::routing::{Address, Route};
use crate::domain::steps::{Ask, Reason, Step, Subject};
use crate::settings::DeliverySettings;
use crate::storage::{DeliveryOutcome, InterestRow, OutboxRow, Store};

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
}

impl Dispatcher {
    /// A dispatcher sending `app`'s outbox through its channels.
    pub fn new(app: Arc<App>, settings: DeliverySettings) -> Self {
        Self { app, settings }
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
                let composed = self.compose(&batch, &recipient, &channel, &rows);
                let span = tracing::info_span!(
                    "delivery",
                    delivery = rows[0].id,
                    recipient = recipient.as_str(),
                    channel = channel.as_str(),
                    items = rows.len()
                );
                async move {
                    let started = Instant::now();
                    let result = match composed {
                        Ok(message) => self.app.notifiers.send(&message).await,
                        Err(error) => Err(error),
                    };
                    self.app.metrics.send_took(started.elapsed());
                    (channel, rows, result)
                }
                .instrument(span)
            })
            .collect();
        let results: Vec<_> = futures_util::stream::iter(sends)
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut outcomes = Vec::with_capacity(claimed);
        let mut summary = Dispatched::default();
        for (channel, rows, result) in results {
            summary.messages += 1;
            for row in &rows {
                let outcome = self.outcome(row, &result, now);
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
                self.app.metrics.delivered(&channel, outcome.label(), 1);
                outcomes.push((row.id, outcome));
            }
        }
        store.record(&outcomes, self.app.clock.now()).await?;
        tracing::debug!(?summary, "batch dispatched");
        Ok(DispatchOutcome::Dispatched(summary))
    }

    /// What becomes of `row` after its message's `result`. A chat delivery that fails for
    /// good, or has failed `routing.fallback_to_email_after` times (or the last allowed time),
    /// is replaced by email.
    fn outcome(&self, row: &OutboxRow, result: &Result<Receipt, SendError>, now: Timestamp) -> DeliveryOutcome {
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
                let at = now
                    .checked_add(SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX))
                    .unwrap_or(now);
                DeliveryOutcome::Retry {
                    error: reason.clone(),
                    at,
                }
            }
        }
    }

    /// One message for `recipient` (a person or `#channel`) listing `rows`, or why it cannot
    /// be made (permanent).
    fn compose(
        &self,
        batch: &Batch,
        recipient: &str,
        channel: &str,
        rows: &[OutboxRow],
    ) -> Result<Outgoing, SendError> {
        let (config, now) = (&*batch.config, batch.now);
        let route: Route = channel.parse().map_err(SendError::permanent)?;
        let routing = &self.app.routing;
        let (reader, address, person) = match channel_named(recipient) {
            None => {
                let person = config.directory.person_named(recipient).ok_or_else(|| {
                    SendError::permanent(format!("recipient \"{recipient}\" is no longer in the directory"))
                })?;
                (
                    Recipient::from(person),
                    routing.address(config, person, &route),
                    Some(person),
                )
            }
            Some(name) => {
                let channel = config
                    .directory
                    .channels
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| SendError::permanent(format!("channel \"{name}\" is no longer in the directory")))?;
                let address = routing.channel_address(config, name, route.transport);
                (Recipient::channel(channel), address, None)
            }
        };
        let address = address.map_err(SendError::permanent)?;
        let format = match &address {
            Address::Email(_) => Format::Email,
            Address::MatrixUser(_) | Address::MatrixRoom(_) | Address::MatrixHook(_) => Format::Chat,
            Address::Teams(_) | Address::Webhook => Format::Plain,
        };
        let subject = rows[0].subject().map_err(|e| SendError::permanent(e.to_string()))?;
        let (rendered, items) = match (subject, person) {
            (Subject::Occurrence(_), Some(person)) => self.reminders(batch, person, rows, format)?,
            (Subject::Call(_), _) => self.calls(batch, &reader, person, rows, format)?,
            (Subject::Occurrence(_), None) => {
                return Err(SendError::permanent("reminders go to people, not to channels"));
            }
        };
        // An update of a call follows up the message that announced it there.
        let in_reply_to = match (subject, rows) {
            (Subject::Call(id), [one]) if one.step != Step::Announce.to_string() => batch
                .announced
                .get(&(id, recipient.to_owned(), channel.to_owned()))
                .cloned(),
            _ => None,
        };
        Ok(Outgoing {
            message_key: message_key(rows),
            reply_token: Some(self.app.links.signer.reply_token(rows[0].id)),
            in_reply_to,
            recipient: reader,
            address,
            rendered,
            items,
            composed_at: now,
        })
    }

    /// A reminder (or a digest of several) about occurrences.
    fn reminders(
        &self,
        batch: &Batch,
        person: &Person,
        rows: &[OutboxRow],
        format: Format,
    ) -> Result<(Rendered, Vec<ItemSummary>), SendError> {
        let (config, now) = (&*batch.config, batch.now);
        let mut entries = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.occurrence_id.unwrap_or_default();
            let occurrence = batch
                .occurrences
                .get(&id)
                .ok_or_else(|| SendError::permanent(format!("occurrence {id} does not exist")))?;
            let step: Step = row.step.parse().map_err(SendError::permanent)?;
            let action_url =
                action_for(step).map(|action| self.app.links.url(occurrence.id, &row.recipient, action, now));
            items.push(ItemSummary {
                delivery_id: row.id,
                idempotency_key: row.idempotency_key.clone(),
                occurrence_id: Some(occurrence.id),
                call_id: None,
                obligation: occurrence.obligation.clone(),
                unit: occurrence.unit.clone(),
                period: occurrence.period.clone(),
                due: occurrence.due_at.to_string(),
                step: row.step.clone(),
                action_url: action_url.clone(),
            });
            entries.push(Entry {
                occurrence,
                call: occurrence.announcement_id.and_then(|id| batch.announcements.get(&id)),
                step,
                reason: Reason::parse(&row.reason, config),
                form_url: (occurrence.obligation == followup::OBLIGATION && action_for(step) == Some(Action::Submit))
                    .then(|| self.app.links.page_url(&followup::form_path(occurrence.id))),
                action_url,
            });
        }
        let rendered = compose(config, person, &entries, format)
            .map_err(|e| SendError::permanent(format!("cannot render the message: {e}")))?;
        Ok((rendered, items))
    }

    /// An announcement (or a digest of several) of EU funding calls to `reader`; with links to
    /// answer for their unit when the reader is a `person` (not a channel).
    fn calls(
        &self,
        batch: &Batch,
        reader: &Recipient,
        person: Option<&Person>,
        rows: &[OutboxRow],
        format: Format,
    ) -> Result<(Rendered, Vec<ItemSummary>), SendError> {
        let (config, now) = (&*batch.config, batch.now);
        let personal = person.is_some();
        let mut entries = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.announcement_id.unwrap_or_default();
            let announcement = batch
                .announcements
                .get(&id)
                .ok_or_else(|| SendError::permanent(format!("call {id} does not exist")))?;
            let step: Step = row.step.parse().map_err(SendError::permanent)?;
            let sv = reader.language == Language::Sv;
            let links: Vec<ItemLink> = if personal && step.ask() == Ask::Interest {
                Interest::ALL
                    .into_iter()
                    .map(|interest| ItemLink {
                        label: interest.label(sv).to_owned(),
                        url: self.app.links.call_url(id, &reader.id, interest, now),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            items.push(ItemSummary {
                delivery_id: row.id,
                idempotency_key: row.idempotency_key.clone(),
                occurrence_id: None,
                call_id: Some(id),
                obligation: "eu-call".to_owned(),
                unit: announcement.call.units.join(","),
                period: announcement.call.programme.clone(),
                due: announcement.call.deadline.to_string(),
                step: row.step.clone(),
                action_url: None,
            });
            let note = matches!(step, Step::CallSummary { .. }).then(|| {
                let answers: Vec<(&str, Interest)> = batch
                    .interests
                    .iter()
                    .filter(|i| i.announcement_id == id)
                    .map(|i| (i.unit.as_str(), i.interest))
                    .collect();
                answers_so_far(config, &announcement.call, &answers, sv)
            });
            entries.push(CallEntry {
                announcement,
                step,
                reason: Reason::parse(&row.reason, config),
                links,
                note,
            });
        }
        let rendered = compose_calls(config, &reader.name, reader.language, &entries, format)
            .map_err(|e| SendError::permanent(format!("cannot render the message: {e}")))?;
        Ok((rendered, items))
    }
}

/// A claimed batch of deliveries: the configuration and time it is composed with, and what
/// its deliveries are about.
struct Batch {
    config: Arc<Config>,
    now: Timestamp,
    occurrences: BTreeMap<i64, StoredOccurrence>,
    announcements: BTreeMap<i64, Announcement>,
    /// The messages that announced those calls, by (call, recipient, channel).
    announced: BTreeMap<(i64, String, String), String>,
    /// The units' answers to the calls, when the batch holds a weekly summary.
    interests: Vec<InterestRow>,
}

impl Batch {
    async fn load(store: &Store, rows: &[OutboxRow], config: Arc<Config>, now: Timestamp) -> anyhow::Result<Self> {
        let ids = |of: fn(&OutboxRow) -> Option<i64>| -> Vec<i64> {
            let mut ids: Vec<i64> = rows.iter().filter_map(of).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let occurrences: BTreeMap<i64, StoredOccurrence> = store
            .occurrences_by_ids(&ids(|r| r.occurrence_id))
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let calls = ids(|r| r.announcement_id);
        // Reminders of per-call occurrences name their call.
        let mut wanted = calls.clone();
        wanted.extend(occurrences.values().filter_map(|o| o.announcement_id));
        wanted.sort_unstable();
        wanted.dedup();
        let mut announcements = BTreeMap::new();
        for id in &wanted {
            if let Some(announcement) = store.announcement(*id).await? {
                announcements.insert(*id, announcement);
            }
        }
        Ok(Self {
            config,
            now,
            occurrences,
            announcements,
            announced: store.announcement_messages(&calls).await?,
            // Only weekly summaries show the answers.
            interests: if rows
                .iter()
                .any(|r| matches!(r.step.parse(), Ok(Step::CallSummary { .. })))
            {
                store.interests().await?
            } else {
                Vec::new()
            },
        })
    }
}

/// The stable key of a message: its delivery's key, or for a digest one made from all its
/// deliveries' keys, so that a retry of the same digest is recognised (a Matrix transaction id
/// must not repeat for different content).
fn message_key(rows: &[OutboxRow]) -> String {
    match rows {
        [one] => one.idempotency_key.clone(),
        many => {
            let keys: Vec<&str> = many.iter().map(|r| r.idempotency_key.as_str()).collect();
            let digest = ring::digest::digest(&ring::digest::SHA256, keys.join("\n").as_bytes());
            let hex: String = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("digest-{}-{hex}", many.len())
        }
    }
}
