//! Email inbound: one RFC 822 message (from `arshjul mailgate`, which an MTA pipes mail to)
//! read with mail-parser. A reply names its delivery by the signed token in the address it was
//! sent to (`arshjul+TOKEN@…`) or by In-Reply-To/References; it counts only from the address
//! the delivery went to. Auto-replies (out-of-office) are kept but never count; a bounce of one
//! of arshjul's messages marks its deliveries dead. The sender gets a short answer by email.

use std::sync::Arc;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders as _};

use crate::app::App;
use crate::app::inbound::{Handled, Inbound, Sender, handle};
use crate::channels::{Notifier as _, Outgoing, Recipient, SendError};
use crate::domain::config::Language;
use crate::domain::messages::short_message;
use crate::domain::routing::Address;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A reply, handled (or seen before: `None`).
    Reply(Option<Handled>),
    /// An automatic answer (out-of-office, vacation): kept, not counted.
    AutoReply,
    /// A delivery report: these deliveries are marked dead.
    Bounce { deliveries: Vec<String> },
    /// Not a mail message at all.
    Unreadable,
}

/// Takes in one raw message.
pub async fn receive(app: &Arc<App>, raw: &[u8]) -> anyhow::Result<Received> {
    let now = app.clock.now();
    let Some(message) = MessageParser::default().parse(raw) else {
        keep_unreadable(app, raw, now).await?;
        return Ok(Received::Unreadable);
    };
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_owned();
    // Without a Message-ID, the message's own bytes name it: the same message twice is one.
    let reference = message.message_id().map_or_else(
        || format!("sha256:{}", crate::domain::tokens::sha256_hex(raw)),
        str::to_owned,
    );
    if is_bounce(&message, &from) {
        let deliveries = bounced_deliveries(raw);
        let text = format!("bounce for {}", deliveries.join(" "));
        if let Some(id) = app.store.inbox_receive("email", &reference, &from, &text, now).await? {
            app.store.bounce(&deliveries, now).await?;
            let settled = crate::storage::Settled {
                outcome: "bounce",
                detail: "a delivery report: the deliveries it names are dead",
                ..Default::default()
            };
            app.store.inbox_settle(id, &settled).await?;
        }
        return Ok(Received::Bounce { deliveries });
    }
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
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
    let in_reply_to = delivery_reference(app, &message).await?;
    let inbound = Inbound {
        channel: "email",
        reference,
        sender: Sender::Email(from),
        in_reply_to,
        text,
        room: None,
        // The answer goes back to the sender's own address.
        private: true,
    };
    Ok(Received::Reply(handle(app, &inbound).await?))
}

/// Sends `text` to the sender of `raw` as an answer (threaded under their message).
pub async fn answer(app: &App, raw: &[u8], text: &str) -> Result<(), SendError> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(());
    };
    let Some(from) = message.from().and_then(|a| a.first()).and_then(|a| a.address()) else {
        return Ok(());
    };
    let config = app.config();
    let person = Sender::Email(from.to_owned()).person(&config).cloned();
    let language = person.as_ref().map_or(Language::Sv, |p| p.language);
    let subject = format!("Re: {}", message.subject().unwrap_or("arshjul"));
    let recipient = person.as_ref().map_or_else(
        || Recipient {
            id: from.to_owned(),
            name: from.to_owned(),
            email: from.to_owned(),
            language,
            matrix_id: None,
        },
        Recipient::from,
    );
    let outgoing = Outgoing {
        message_key: format!("answer-{}", message.message_id().unwrap_or("unknown")),
        rendered: short_message(language, &subject, text),
        recipient,
        address: Address::Email(from.to_owned()),
        reply_token: None,
        in_reply_to: None,
        items: Vec::new(),
        composed_at: app.clock.now(),
    };
    app.notifiers.email.send(&outgoing).await.map(drop)
}

/// The Message-ID of the delivery a reply answers: from the token in the address it was sent
/// to, else from In-Reply-To or References.
async fn delivery_reference(app: &Arc<App>, message: &Message<'_>) -> anyhow::Result<Option<String>> {
    let recipients = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|list| list.iter())
        .filter_map(|a| a.address());
    for address in recipients {
        let token = address
            .split_once('@')
            .and_then(|(local, _)| local.split_once('+'))
            .map(|(_, token)| token);
        if let Some(id) = token.and_then(|t| app.links.signer.verify_reply_token(t))
            && let Some(provider_id) = app.store.delivery(id).await?.and_then(|d| d.provider_id)
        {
            return Ok(Some(provider_id));
        }
    }
    let mut ids = text_list(message.in_reply_to());
    ids.extend(text_list(message.references()));
    for id in ids {
        let id = format!("<{}>", id.trim_matches(|c| c == '<' || c == '>'));
        if app.store.delivery_by_provider_id(&id).await?.is_some() {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn text_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(text) => vec![text.to_string()],
        HeaderValue::TextList(list) => list.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

/// RFC 3834 and the de-facto headers of vacation responders.
/// How much of a message that cannot be read is kept in the inbox.
const UNREADABLE_KEPT_BYTES: usize = 64 * 1024;

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

/// The delivery keys named in a bounce: the X-Arshjul-Deliveries header of the returned
/// message, which reports quote.
fn bounced_deliveries(raw: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .lines()
        .filter_map(|line| line.strip_prefix("X-Arshjul-Deliveries:"))
        .flat_map(|keys| keys.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}
