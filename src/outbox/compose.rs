//! Composing: a claimed batch of deliveries, with what they are about read once, becomes one
//! message per recipient and channel — a reminder or digest of reminders, or an announcement
//! of EU calls — rendered in the recipient's language for the channel's format.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::app::App;
use crate::channels::{DeliveryTokens, ItemSummary, Outgoing, Recipient, SendError};
use crate::domain::calls::{Announcement, Interest, answers_so_far, channel_named};
use crate::domain::config::{Config, Language, Person};
use crate::domain::followup;
use crate::domain::messages::{
    CallEntry, CallReader, Entry, Format, ItemLink, Rendered, action_for, compose, compose_calls,
};
use crate::domain::occurrence::{Action, StoredOccurrence};
use crate::domain::routing::{Address, Route};
use crate::domain::steps::{Ask, Reason, Step, Subject};
use crate::storage::{InterestRow, OutboxRow, Store};

/// A claimed batch of deliveries: the configuration and time it is composed with, and what
/// its deliveries are about.
pub(super) struct Batch {
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
    pub(super) async fn load(
        store: &Store,
        rows: &[OutboxRow],
        config: Arc<Config>,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
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

impl Batch {
    /// One message for `recipient` (a person or `#channel`) listing `rows`, or why it cannot
    /// be made (permanent).
    pub(super) fn compose(
        &self,
        app: &App,
        recipient: &str,
        channel: &str,
        rows: &[OutboxRow],
    ) -> Result<Outgoing, SendError> {
        let (config, now) = (&*self.config, self.now);
        let route: Route = channel.parse().map_err(SendError::permanent)?;
        let routing = &app.routing;
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
            (Subject::Occurrence(_), Some(person)) => self.reminders(app, person, rows, format)?,
            (Subject::Call(_), _) => self.calls(app, &reader, person, rows, format)?,
            (Subject::Occurrence(_), None) => {
                return Err(SendError::permanent("reminders go to people, not to channels"));
            }
        };
        // An update of a call follows up the message that announced it there.
        let in_reply_to = match (subject, rows) {
            (Subject::Call(id), [one]) if one.step != Step::Announce.to_string() => self
                .announced
                .get(&(id, recipient.to_owned(), channel.to_owned()))
                .cloned(),
            _ => None,
        };
        Ok(Outgoing {
            message_key: message_key(rows),
            tokens: Some(DeliveryTokens {
                reply: app.links.signer.reply_token(rows[0].id, now),
                bounce: app.links.signer.bounce_token(rows[0].id, now),
            }),
            in_reply_to,
            thread: Vec::new(),
            auto_reply: false,
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
        app: &App,
        person: &Person,
        rows: &[OutboxRow],
        format: Format,
    ) -> Result<(Rendered, Vec<ItemSummary>), SendError> {
        let (config, now) = (&*self.config, self.now);
        let mut entries = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.occurrence_id.unwrap_or_default();
            let occurrence = self
                .occurrences
                .get(&id)
                .ok_or_else(|| SendError::permanent(format!("occurrence {id} does not exist")))?;
            let step: Step = row.step.parse().map_err(SendError::permanent)?;
            let action_url = action_for(step).map(|action| app.links.url(occurrence.id, &row.recipient, action, now));
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
                call: occurrence.announcement_id.and_then(|id| self.announcements.get(&id)),
                step,
                reason: Reason::parse(&row.reason, config),
                form_url: (occurrence.obligation == followup::OBLIGATION && action_for(step) == Some(Action::Submit))
                    .then(|| app.links.page_url(&followup::form_path(occurrence.id))),
                // A manager asked to acknowledge can read what was submitted: the follow-up
                // form, or the item's page with its replies and notes.
                view_url: (action_for(step) == Some(Action::Acknowledge)).then(|| {
                    app.links.page_url(&if occurrence.obligation == followup::OBLIGATION {
                        followup::form_path(occurrence.id)
                    } else {
                        format!("/dashboard/occurrences/{}", occurrence.id)
                    })
                }),
                action_url,
            });
        }
        let rendered = compose(config, person, &entries, format, now)
            .map_err(|e| SendError::permanent(format!("cannot render the message: {e}")))?;
        Ok((rendered, items))
    }

    /// An announcement (or a digest of several) of EU funding calls to `reader`; with links to
    /// answer for their unit when the reader is a `person` (not a channel).
    fn calls(
        &self,
        app: &App,
        reader: &Recipient,
        person: Option<&Person>,
        rows: &[OutboxRow],
        format: Format,
    ) -> Result<(Rendered, Vec<ItemSummary>), SendError> {
        let (config, now) = (&*self.config, self.now);
        let personal = person.is_some();
        let mut entries = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.announcement_id.unwrap_or_default();
            let announcement = self
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
                        url: app.links.call_url(id, &reader.id, interest, now),
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
                let answers: Vec<(&str, Interest)> = self
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
        let to = match person {
            Some(person) => CallReader::Person(person),
            None => CallReader::Channel(&reader.name),
        };
        let rendered = compose_calls(config, to, reader.language, &entries, format)
            .map_err(|e| SendError::permanent(format!("cannot render the message: {e}")))?;
        Ok((rendered, items))
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
