//! Matrix inbound: the bot follows its rooms with `/sync`. Replies to its reminders, reactions
//! to them, anything said in a direct room with it, and `!arshjul` commands anywhere become
//! [`Inbound`] messages; the bot answers each with a reply. The sync position (`next_batch`) is
//! kept in the database after each batch, so a restart resumes where it stopped; a batch seen
//! twice is absorbed by the inbox. The first sync only takes the position: history is not read.
//! Invitations from people in the directory are accepted, others ignored.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::app::inbound::{Authenticity, Inbound, Sender, handle};
use crate::channels::matrix::MatrixNotifier;

/// Where the sync position is kept.
const NEXT_BATCH: &str = "matrix_next_batch";

/// How long one sync waits for news.
const LONG_POLL_MS: u64 = 30_000;

/// Follows the bot's rooms until `shutdown`, waiting a little after a failure.
pub async fn follow_until_stopped(app: Arc<App>, bot: Arc<MatrixNotifier>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let pause = tokio::select! {
            () = shutdown.cancelled() => break,
            synced = sync_once(&app, &bot, LONG_POLL_MS) => match synced {
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "Matrix sync failed; trying again shortly");
                    Duration::from_secs(5)
                }
            },
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("Matrix follower stopped");
}

/// One sync: takes every new message addressed to the bot, acts and answers, then keeps the
/// new position. Returns how many messages it took in.
pub async fn sync_once(app: &Arc<App>, bot: &MatrixNotifier, timeout_ms: u64) -> anyhow::Result<usize> {
    let me = bot.user_id().await?.to_owned();
    let since = app.store.meta(NEXT_BATCH).await?;
    let first = since.is_none();
    let batch = bot.sync(since.as_deref(), if first { 0 } else { timeout_ms }).await?;
    let mut taken = 0;
    accept_invitations(app, bot, &batch).await;
    if !first {
        let direct = direct_rooms(&batch, app).await?;
        let rooms = batch["rooms"]["join"].as_object().cloned().unwrap_or_default();
        for (room, joined) in &rooms {
            for event in joined["timeline"]["events"].as_array().into_iter().flatten() {
                let Some(message) = inbound(event, &me, room, direct.contains(room), app).await? else {
                    continue;
                };
                if let Some(handled) = handle(app, &message).await? {
                    taken += 1;
                    answer(bot, room, &message, &handled.text).await;
                }
            }
        }
    }
    if let Some(next) = batch["next_batch"].as_str() {
        app.store.set_meta(NEXT_BATCH, next).await?;
    }
    Ok(taken)
}

/// The message `event` carries for arshjul, if it is addressed to it: a reaction to one of its
/// messages, a reply to one, anything in a direct room, or an `!arshjul` command.
async fn inbound(
    event: &Value,
    me: &str,
    room: &str,
    in_direct_room: bool,
    app: &Arc<App>,
) -> anyhow::Result<Option<Inbound>> {
    let (Some(sender), Some(id)) = (event["sender"].as_str(), event["event_id"].as_str()) else {
        return Ok(None);
    };
    if sender == me {
        return Ok(None);
    }
    let content = &event["content"];
    let relation = &content["m.relates_to"];
    let (text, in_reply_to) = match event["type"].as_str() {
        Some("m.reaction") if relation["rel_type"] == "m.annotation" => {
            let target = relation["event_id"].as_str();
            if !ours(app, target).await? {
                return Ok(None);
            }
            (relation["key"].as_str().unwrap_or_default().to_owned(), target)
        }
        Some("m.room.message") => {
            let body = without_reply_fallback(content["body"].as_str().unwrap_or_default());
            let target = relation["m.in_reply_to"]["event_id"].as_str();
            let addressed = in_direct_room || body.trim_start().starts_with("!arshjul") || ours(app, target).await?;
            if !addressed {
                return Ok(None);
            }
            (body, target)
        }
        _ => return Ok(None),
    };
    Ok(Some(Inbound {
        channel: "matrix",
        reference: id.to_owned(),
        sender: Sender::Matrix(sender.to_owned()),
        in_reply_to: in_reply_to.map(str::to_owned),
        text,
        room: Some(room.to_owned()),
        private: in_direct_room,
        // The homeserver authenticates its users.
        authenticity: Authenticity::Vouched,
    }))
}

/// Whether `target` is the id of a message arshjul sent.
async fn ours(app: &App, target: Option<&str>) -> anyhow::Result<bool> {
    match target {
        Some(target) => Ok(app.store.delivery_by_provider_id(target).await?.is_some()),
        None => Ok(false),
    }
}

/// A reply's body without the quote of the message it answers, which older clients put first.
fn without_reply_fallback(body: &str) -> String {
    let mut lines = body.lines().peekable();
    if lines.peek().is_some_and(|l| l.starts_with("> ")) {
        while lines.next_if(|l| l.starts_with('>')).is_some() {}
    }
    lines.collect::<Vec<_>>().join("\n")
}

/// The rooms the bot keeps as direct rooms (its `m.direct` account data), from this batch or,
/// when the batch does not carry it, from the rooms its deliveries went to.
async fn direct_rooms(batch: &Value, app: &Arc<App>) -> anyhow::Result<BTreeSet<String>> {
    let mut rooms: BTreeSet<String> = batch["account_data"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "m.direct")
        .flat_map(|e| e["content"].as_object().cloned().unwrap_or_default())
        .flat_map(|(_, ids)| ids.as_array().cloned().unwrap_or_default())
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    rooms.extend(app.store.direct_destinations().await?);
    Ok(rooms)
}

/// Accepts invitations from people in the directory; others are left alone (and logged).
async fn accept_invitations(app: &Arc<App>, bot: &MatrixNotifier, batch: &Value) {
    let config = app.config();
    let invites = batch["rooms"]["invite"].as_object().cloned().unwrap_or_default();
    for (room, invite) in invites {
        let inviter = invite["invite_state"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["type"] == "m.room.member" && e["content"]["membership"] == "invite")
            .and_then(|e| e["sender"].as_str())
            .unwrap_or_default()
            .to_owned();
        let known = config
            .directory
            .people
            .iter()
            .any(|p| p.matrix_id.as_deref() == Some(inviter.as_str()));
        if !known {
            tracing::info!(%room, %inviter, "ignoring an invitation from someone not in the directory");
            continue;
        }
        match bot.join(&room).await {
            Ok(_) => tracing::info!(%room, %inviter, "joined a room on invitation"),
            Err(error) => tracing::warn!(%room, %inviter, %error, "cannot join a room"),
        }
    }
}

/// Answers `message` in `room` with a reply to it. The transaction id comes from the message's
/// event id, so answering again after a restart does not post twice.
async fn answer(bot: &MatrixNotifier, room: &str, message: &Inbound, text: &str) {
    let Sender::Matrix(sender) = &message.sender else {
        return;
    };
    let content = json!({
        "msgtype": "m.notice",
        "body": text,
        "m.relates_to": {"m.in_reply_to": {"event_id": message.reference}},
        "m.mentions": {"user_ids": [sender]},
    });
    if let Err(error) = bot.post(room, &format!("answer-{}", message.reference), &content).await {
        tracing::warn!(%room, %error, "cannot answer on Matrix");
    }
}
