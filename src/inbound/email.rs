//! Email inbound: one RFC 822 message (from `arshjul mailgate`, which an MTA pipes mail to)
//! read with mail-parser. `From:` alone proves nothing, so a message counts only when it is
//! authentic: it carries a delivery's signed token — in the address it was sent to
//! (`arshjul+TOKEN@…`) or in a quoted Message-ID (In-Reply-To/References) — and that delivery
//! went to the sender; or the municipality's own mail server vouches for the sender (see
//! [`super::authentication`]). Auto-replies (out-of-office) are kept but never count; a bounce
//! marks a delivery dead only when it reaches the delivery's signed return path or quotes its
//! signed Message-ID. Only authentic senders in the directory get an answer, a few an hour.

use std::sync::Arc;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders as _};

use super::authentication::vouched;
use crate::app::App;
use crate::app::inbound::{Authenticity, Handled, Inbound, Sender, handle};
use crate::channels::email::MESSAGE_ID_PREFIX;
use crate::channels::{Notifier as _, Outgoing, Recipient, SendError};
use crate::domain::messages::{answer_subject, short_message};
use crate::domain::routing::Address;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A reply, handled (or seen before: `None`).
    Reply(Option<Handled>),
    /// An automatic answer (out-of-office, vacation): kept, not counted.
    AutoReply,
    /// A delivery report: these deliveries (by id) are marked dead; none when it names none
    /// by a signed token.
    Bounce { deliveries: Vec<i64> },
    /// Not a mail message at all.
    Unreadable,
}

/// How many signed ids of one message are looked at: a reply quotes one message and a bounce
/// returns one; more is someone's attempt to act on (or kill) many deliveries at once.
const MAX_SIGNED_IDS: usize = 4;

/// How many answers one address gets in an hour at most: a flood of mail in someone's name
/// does not become a flood of mail to them.
pub const MAX_ANSWERS_PER_HOUR: usize = 5;

/// Takes in one raw message.
pub async fn receive(app: &Arc<App>, raw: &[u8]) -> anyhow::Result<Received> {
    let now = app.clock.now();
    let Some(message) = MessageParser::default().parse(raw) else {
        keep_unreadable(app, raw, now).await?;
        return Ok(Received::Unreadable);
    };
    let from = sender_address(&message);
    // Without a Message-ID, the message's own bytes name it: the same message twice is one.
    let reference = message.message_id().map_or_else(
        || format!("sha256:{}", crate::domain::tokens::sha256_hex(raw)),
        str::to_owned,
    );
    if is_bounce(&message, &from) {
        let deliveries = bounced_deliveries(app, &message, raw);
        let text = String::from_utf8_lossy(&raw[..raw.len().min(UNREADABLE_KEPT_BYTES)]).into_owned();
        if let Some(id) = app
            .store
            .inbox_receive("email", &reference, &from, excerpt(&text), now)
            .await?
        {
            let settled = if deliveries.is_empty() {
                crate::storage::Settled {
                    outcome: "bounce_unverified",
                    detail: "a delivery report that names no delivery by its signed return path or Message-ID; \
                             nothing was marked",
                    ..Default::default()
                }
            } else {
                app.store.bounce(&deliveries, now).await?;
                crate::storage::Settled {
                    outcome: "bounce",
                    detail: "a delivery report: the message it returns is marked dead",
                    delivery_id: deliveries.first().copied(),
                    ..Default::default()
                }
            };
            app.store.inbox_settle(id, &settled).await?;
        }
        return Ok(Received::Bounce { deliveries });
    }
    let text = excerpt(&message.body_text(0).unwrap_or_default()).to_owned();
    if is_auto_reply(&message) {
        if let Some(id) = app.store.inbox_receive("email", &reference, &from, &text, now).await? {
            let settled = crate::storage::Settled {
                outcome: "auto_reply",
                detail: "an automatic answer (out-of-office or similar); it does not count",
                ..Default::default()
            };
            app.store.inbox_settle(id, &settled).await?;
        }
        return Ok(Received::AutoReply);
    }
    let in_reply_to = signed_delivery(app, &message).await?;
    let domain = from.rsplit_once('@').map(|(_, domain)| domain).unwrap_or_default();
    let headers = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value);
    let authenticity = if vouched(headers, &app.trusted_authserv_id, domain) {
        Authenticity::Vouched
    } else if in_reply_to.is_some() {
        Authenticity::Token
    } else {
        Authenticity::None
    };
    let inbound = Inbound {
        channel: "email",
        reference,
        sender: Sender::Email(from),
        in_reply_to,
        text,
        room: None,
        // The answer goes back to the sender's own address.
        private: true,
        authenticity,
    };
    Ok(Received::Reply(handle(app, &inbound).await?))
}

/// The address in `From:`, or empty.
fn sender_address(message: &Message<'_>) -> String {
    message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_owned()
}

/// Answers the sender of `raw` with `handled`'s text, threaded under their message, when
/// they may be answered: a person in the directory whose mail was authentic, who has not had
/// [`MAX_ANSWERS_PER_HOUR`] answers this hour. Nobody else is ever mailed (no backscatter).
pub async fn answer(app: &App, raw: &[u8], handled: &Handled) -> Result<(), SendError> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(());
    };
    let from = sender_address(&message);
    let config = app.config();
    let Some(person) = Sender::Email(from.clone())
        .person(&config)
        .filter(|_| handled.answerable)
    else {
        return Ok(());
    };
    let since = app.clock.now() - jiff::SignedDuration::from_hours(1);
    let recent = app
        .store
        .inbox_count_from("email", &from, since)
        .await
        .map_err(|e| SendError::retryable(format!("counting recent messages: {e:#}")))?;
    if recent > MAX_ANSWERS_PER_HOUR {
        tracing::warn!(sender = %from, recent, "not answering: too many messages from this address this hour");
        return Ok(());
    }
    let language = person.language;
    let outgoing = Outgoing {
        message_key: format!("answer-{}", message.message_id().unwrap_or("unknown")),
        rendered: short_message(language, answer_subject(language), &handled.text),
        recipient: Recipient::from(person),
        // The directory's address, not the header's spelling of it.
        address: Address::Email(person.email.clone()),
        tokens: None,
        in_reply_to: message.message_id().map(|id| format!("<{id}>")),
        thread: text_list(message.references())
            .iter()
            .map(|id| format!("<{id}>"))
            .collect(),
        auto_reply: true,
        items: Vec::new(),
        composed_at: app.clock.now(),
    };
    app.notifiers.email.send(&outgoing).await.map(drop)
}

/// The Message-ID of the delivery a reply answers, when the reply carries that delivery's
/// signed token: in the address it was sent to, or in a Message-ID of arshjul's it quotes
/// (In-Reply-To, References). An id without a valid token names nothing.
async fn signed_delivery(app: &Arc<App>, message: &Message<'_>) -> anyhow::Result<Option<String>> {
    let recipients = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|list| list.iter())
        .filter_map(|a| a.address());
    let signer = &app.links.signer;
    let from_addresses = recipients.filter_map(|a| signer.verify_reply_token(plus_token(a)?));
    let mut quoted = text_list(message.in_reply_to());
    quoted.extend(text_list(message.references()));
    let from_ids = quoted
        .iter()
        .filter_map(|id| signer.verify_reply_token(message_id_token(id)?));
    for id in from_addresses.chain(from_ids).take(MAX_SIGNED_IDS) {
        if let Some(provider_id) = app.store.delivery(id).await?.and_then(|d| d.provider_id) {
            return Ok(Some(provider_id));
        }
    }
    Ok(None)
}

/// The `+TOKEN` of an address's local part.
fn plus_token(address: &str) -> Option<&str> {
    let (local, _) = address.rsplit_once('@')?;
    local.split_once('+').map(|(_, token)| token)
}

/// The reply token in one of arshjul's Message-IDs (`<r.TOKEN@domain>`).
fn message_id_token(id: &str) -> Option<&str> {
    let id = id.trim().trim_matches(|c| c == '<' || c == '>');
    let (local, _) = id.rsplit_once('@')?;
    local.strip_prefix(MESSAGE_ID_PREFIX)
}

fn text_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(text) => vec![text.to_string()],
        HeaderValue::TextList(list) => list.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

/// How much of a message's text the inbox keeps (of one that cannot be read: its bytes).
const UNREADABLE_KEPT_BYTES: usize = 64 * 1024;

/// At most the first 64 KiB of `text`, cut at a character: what the inbox keeps and the reply
/// is read from (a command or a reply is at the top; a quoted thread or a pasted report below).
fn excerpt(text: &str) -> &str {
    let mut end = text.len().min(UNREADABLE_KEPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Why a message of `size` bytes is not taken in, if it is too large.
pub fn refused_for_size(size: usize, settings: &crate::settings::EmailSettings) -> Option<String> {
    (size > settings.max_message_bytes).then(|| {
        format!(
            "a message of {size} bytes is larger than email.max_message_bytes ({}); refused unread",
            settings.max_message_bytes
        )
    })
}

/// Keeps what could not be read as mail in the inbox (its first 64 KiB, as text), so that
/// nothing is dropped; the same bytes again are kept once.
async fn keep_unreadable(app: &App, raw: &[u8], now: jiff::Timestamp) -> anyhow::Result<()> {
    let reference = format!("unreadable:{}", crate::domain::tokens::sha256_hex(raw));
    let text = String::from_utf8_lossy(&raw[..raw.len().min(UNREADABLE_KEPT_BYTES)]);
    if let Some(id) = app.store.inbox_receive("email", &reference, "", &text, now).await? {
        let detail = format!(
            "not a mail message ({} bytes); kept as received{}",
            raw.len(),
            if raw.len() > UNREADABLE_KEPT_BYTES {
                ", its first 64 KiB"
            } else {
                ""
            }
        );
        let settled = crate::storage::Settled {
            outcome: "unreadable",
            detail: &detail,
            ..Default::default()
        };
        app.store.inbox_settle(id, &settled).await?;
    }
    Ok(())
}

/// RFC 3834 and the de-facto headers of vacation responders.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("X-Auto-Response-Suppress").is_some_and(|_| header("Auto-Submitted").is_some())
        || header("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"))
}

/// A delivery status report, or a message from the mailer daemon with an empty return path.
fn is_bounce(message: &Message<'_>, from: &str) -> bool {
    let report = message.is_content_type("multipart", "report");
    let null_sender = message.header_raw("Return-Path").is_some_and(|v| v.trim() == "<>");
    let daemon = from.to_ascii_lowercase().starts_with("mailer-daemon");
    report || (null_sender && daemon)
}

/// The deliveries a bounce names by a signed token: the return path it was sent to
/// (`arshjul+bID-TAG@…`, in the envelope recipient headers the mail server adds or in `To:`),
/// or arshjul's Message-IDs quoted in the returned headers. At most
/// [`MAX_SIGNED_IDS`].
fn bounced_deliveries(app: &App, message: &Message<'_>, raw: &[u8]) -> Vec<i64> {
    let signer = &app.links.signer;
    let envelope = message
        .headers_raw()
        .filter(|(name, _)| {
            ["Delivered-To", "X-Original-To", "Envelope-To", "To"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        })
        .flat_map(|(_, value)| value.split([',', '<', '>', ' ', '\r', '\n']))
        .filter_map(|address| signer.verify_bounce_token(plus_token(address.trim())?));
    let text = String::from_utf8_lossy(raw);
    let quoted = text
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("Message-ID").then_some(value)
        })
        .filter_map(|id| signer.verify_reply_token(message_id_token(id)?));
    let mut ids: Vec<i64> = envelope.chain(quoted).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(MAX_SIGNED_IDS);
    ids
}
