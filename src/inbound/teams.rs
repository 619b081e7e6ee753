//! The Teams outgoing webhook as a transport: people @mention arshjul in a Teams channel
//! ("@arshjul klar 42", "@arshjul status"); Teams posts the activity signed with HMAC-SHA256 of
//! the raw body under the webhook's security token. [`read`] checks the signature and the
//! timestamp and turns the activity into an [`Inbound`] message; `http::hooks` serves it.

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::Value;

use crate::app::inbound::{Authenticity, Inbound, Sender};

/// How far a request's timestamp may lie from our clock: older ones are replays.
const MAX_SKEW_SECONDS: i64 = 300;

/// Why a request is not taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: HMAC …` header.
    Unsigned,
    /// The signature does not match the body.
    Forged,
    /// Its timestamp is missing or too far from ours: a replay.
    Stale,
    /// Signed, but not an activity we can read (the reason says what is missing).
    Unreadable(&'static str),
}

impl Refused {
    /// The reason as counted in `arshjul_rejected_hooks_total{reason}` and answered.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Forged => "forged",
            Self::Stale => "stale",
            Self::Unreadable(reason) => reason,
        }
    }

    /// Whether the request failed authentication (rather than being malformed).
    pub fn is_unauthenticated(self) -> bool {
        !matches!(self, Self::Unreadable(_))
    }
}

/// The message in a request signed with `key` whose `Authorization` header is `authorization`,
/// received at `now`.
pub fn read(
    key: &ring::hmac::Key,
    authorization: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<Inbound, Refused> {
    let signature = authorization
        .and_then(|v| v.strip_prefix("HMAC "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.trim()).ok())
        .ok_or(Refused::Unsigned)?;
    ring::hmac::verify(key, body, &signature).map_err(|_| Refused::Forged)?;
    let activity = serde_json::from_slice::<Value>(body).map_err(|_| Refused::Unreadable("not JSON"))?;
    let sent_at = activity["timestamp"].as_str().and_then(|t| t.parse::<Timestamp>().ok());
    if sent_at.is_none_or(|at| (now.as_second() - at.as_second()).abs() > MAX_SKEW_SECONDS) {
        return Err(Refused::Stale);
    }
    let (Some(id), Some(sender)) = (activity["id"].as_str(), activity["from"]["aadObjectId"].as_str()) else {
        return Err(Refused::Unreadable("no activity id or sender"));
    };
    Ok(Inbound {
        channel: "teams",
        reference: id.to_owned(),
        sender: Sender::Teams(sender.to_owned()),
        in_reply_to: None,
        // Everything said to the bot is a command: "klar 42" names its item like "!arshjul klar 42".
        text: format!("!arshjul {}", plain_text(activity["text"].as_str().unwrap_or_default())),
        room: None,
        // The answer appears in the channel's thread, for everyone in it.
        private: false,
        authenticity: Authenticity::Vouched,
    })
}

/// The text of a Teams message without the @mention of the bot and without markup.
fn plain_text(html: &str) -> String {
    let without_mentions = html
        .split("<at>")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once("</at>").map_or("", |(_, rest)| rest)
            }
        })
        .collect::<String>();
    mail_parser::decoders::html::html_to_text(&without_mentions)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_and_markup_are_not_part_of_the_command() {
        assert_eq!(plain_text("<at>arshjul</at> klar 42"), "klar 42");
        assert_eq!(plain_text("<p><at>arshjul</at>&nbsp;kvittera 7</p>"), "kvittera 7");
        assert_eq!(plain_text("status"), "status");
        assert_eq!(plain_text("<at>unclosed"), "");
        assert_eq!(plain_text("klar &amp; tack"), "klar & tack");
    }
}
