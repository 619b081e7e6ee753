//! `POST /hooks/teams`: a Teams outgoing webhook. People @mention arshjul in a Teams channel
//! ("@arshjul klar 42", "@arshjul status"); Teams posts the message signed with HMAC-SHA256 of
//! the raw body under the webhook's security token, and shows the answer we give within its
//! five seconds. Unsigned, forged or stale requests get 401 and are counted.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::inbound::{Inbound, Sender, handle};
use crate::startup::Shared;

/// How far a request's timestamp may lie from our clock: older ones are replays.
const MAX_SKEW_SECONDS: i64 = 300;

/// The routes of this module.
pub fn router() -> Router<Arc<Shared>> {
    Router::new().route("/hooks/teams", post(teams))
}

async fn teams(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = &shared.teams_hook_key else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let refuse = |reason: &'static str| {
        shared.metrics.rejected_hook(reason);
        tracing::warn!(reason, "refused a Teams webhook request");
        (StatusCode::UNAUTHORIZED, reason).into_response()
    };
    let signature = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("HMAC "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.trim()).ok());
    let Some(signature) = signature else {
        return refuse("unsigned");
    };
    if ring::hmac::verify(key, &body, &signature).is_err() {
        return refuse("forged");
    }
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let sent_at = activity["timestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let now = shared.clock.now();
    if sent_at.is_none_or(|at| (now.as_second() - at.as_second()).abs() > MAX_SKEW_SECONDS) {
        return refuse("stale");
    }
    let (Some(id), Some(sender)) = (activity["id"].as_str(), activity["from"]["aadObjectId"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "no activity id or sender").into_response();
    };
    let message = Inbound {
        channel: "teams",
        reference: id.to_owned(),
        sender: Sender::Teams(sender.to_owned()),
        in_reply_to: None,
        // Everything said to the bot is a command: "klar 42" names its item like "!arshjul klar 42".
        text: format!("!arshjul {}", plain_text(activity["text"].as_str().unwrap_or_default())),
    };
    let text = match handle(&shared, &message).await {
        Ok(Some(handled)) => handled.text,
        Ok(None) => "Redan mottaget. / Already received.".to_owned(),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "handling a Teams message failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    axum::Json(json!({"type": "message", "text": text})).into_response()
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
    let mut text = String::new();
    let mut in_tag = false;
    for c in without_mentions.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&nbsp;", " ").replace("&amp;", "&").trim().to_owned()
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
    }
}
