//! Channels deliver composed messages: one `Notifier` per channel, each saying whether a
//! failure is worth retrying, and [`Notifiers`], the registry of those set up. Channels never
//! touch storage; the dispatcher and the application are the places that see both.

pub mod email;
pub mod matrix;
pub mod oauth;
pub mod teams;
pub mod webhook;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::domain::config::{Channel, Language, Person};
use crate::domain::messages::Rendered;
use crate::domain::routing::{Address, hook_key};
use crate::settings::{Secret, Settings};
use email::EmailNotifier;
use matrix::{MatrixHookNotifier, MatrixNotifier};
use teams::TeamsNotifier;
use webhook::WebhookNotifier;

/// The channel registry: one notifier per channel, built once from the settings; those not
/// set up are `None`.
pub struct Notifiers {
    pub email: EmailNotifier,
    pub webhook: Option<WebhookNotifier>,
    pub teams: Option<TeamsNotifier>,
    /// Shared with the Matrix follower, which answers as the same bot.
    pub matrix: Option<Arc<MatrixNotifier>>,
    pub matrix_hooks: Option<MatrixHookNotifier>,
}

impl Notifiers {
    /// Every channel the settings set up; a wrong setting is an error naming its key.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            email: EmailNotifier::new(&settings.email)?,
            webhook: if settings.webhook.url.expose().is_empty() {
                None
            } else {
                Some(WebhookNotifier::new(&settings.webhook)?)
            },
            teams: TeamsNotifier::new(&settings.teams)?,
            matrix: MatrixNotifier::new(&settings.matrix)?.map(Arc::new),
            matrix_hooks: MatrixHookNotifier::new(&settings.matrix)?,
        })
    }

    /// Sends `message` with the notifier its address needs.
    pub async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        fn set_up<'a, T>(notifier: &'a Option<T>, channel: &str) -> Result<&'a T, SendError> {
            notifier
                .as_ref()
                .ok_or_else(|| SendError::permanent(format!("the {channel} channel is not set up")))
        }
        match &message.address {
            Address::Email(_) => self.email.send(message).await,
            Address::Webhook => set_up(&self.webhook, "webhook")?.send(message).await,
            Address::Teams(_) => set_up(&self.teams, "Teams")?.send(message).await,
            Address::MatrixUser(_) | Address::MatrixRoom(_) => set_up(&self.matrix, "Matrix")?.send(message).await,
            Address::MatrixHook(_) => set_up(&self.matrix_hooks, "Matrix webhook")?.send(message).await,
        }
    }
}

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A passing fault (timeout, 5xx, 429, SMTP 4xx); `retry_after` when the peer said when.
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Trying again will not help (bad address, 4xx, SMTP 5xx).
    #[error("{reason}")]
    Permanent { reason: String },
}

impl SendError {
    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent { reason: reason.into() }
    }
}

/// Proof of a send: the provider's id for the message and where it went, where it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// E.g. the Matrix event id.
    pub provider_id: Option<String>,
    /// E.g. the Matrix room id.
    pub destination: Option<String>,
}

/// The person a message is for.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub email: String,
    pub language: Language,
    /// Mentioned when the message goes to a Matrix room.
    pub matrix_id: Option<String>,
}

impl Recipient {
    /// The readers of a directory channel, named by what the channel is (its description, or
    /// else its name): no one to mention, Swedish.
    pub fn channel(channel: &Channel) -> Self {
        Self {
            id: channel.name.clone(),
            name: match channel.description.trim() {
                "" => channel.name.clone(),
                description => description.to_owned(),
            },
            email: String::new(),
            language: Language::Sv,
            matrix_id: None,
        }
    }
}

impl From<&Person> for Recipient {
    fn from(person: &Person) -> Self {
        Self {
            id: person.id.to_string(),
            name: person.name.clone(),
            email: person.email.clone(),
            language: person.language,
            matrix_id: person.matrix_id.clone(),
        }
    }
}

/// One item of a message, as machines see it (the webhook body).
#[derive(Debug, Clone, Serialize)]
pub struct ItemSummary {
    pub delivery_id: i64,
    pub idempotency_key: String,
    /// What it is about: an occurrence, or an EU funding call (then `obligation` is `eu-call`,
    /// `period` the programme and `due` the call's deadline).
    pub occurrence_id: Option<i64>,
    pub call_id: Option<i64>,
    pub obligation: String,
    pub unit: String,
    pub period: String,
    /// RFC 3339, UTC.
    pub due: String,
    pub step: String,
    pub action_url: Option<String>,
}

/// A composed message for one recipient on one channel: a digest of one or more deliveries.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Identifies the message — the delivery's key, or one derived from every key of a digest —
    /// and is the same on every retry: Message-ID, webhook id, Matrix transaction id.
    pub message_key: String,
    pub recipient: Recipient,
    /// Where it goes.
    pub address: Address,
    /// Name the delivery in an email's reply address, Message-ID and envelope sender.
    pub tokens: Option<DeliveryTokens>,
    /// The channel's id of an earlier message this one follows up (a Matrix event, a
    /// Message-ID), if any.
    pub in_reply_to: Option<String>,
    /// The ids of the thread before `in_reply_to`, oldest first (an email's References), so
    /// that a reply to this message still names the reminder the thread began with.
    pub thread: Vec<String>,
    /// An answer to what a person sent (RFC 3834 `auto-replied`), not a message arshjul starts.
    pub auto_reply: bool,
    pub rendered: Rendered,
    pub items: Vec<ItemSummary>,
    /// When the dispatcher composed it (from its clock); the webhook signs this time.
    pub composed_at: jiff::Timestamp,
}

/// The signed tokens of a delivery (see `LinkSigner::reply_token` and `bounce_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTokens {
    /// In the reply address (`arshjul+TOKEN@…`) and the Message-ID.
    pub reply: String,
    /// In the envelope sender, where bounces go.
    pub bounce: String,
}

/// Something that can deliver a message.
pub trait Notifier: Send + Sync {
    /// Sends `message`; the error says whether to retry.
    fn send(&self, message: &Outgoing) -> impl Future<Output = Result<Receipt, SendError>> + Send;
}

/// The one classification of HTTP answers for every HTTP channel: 2xx sent; 408, 429 and
/// 5xx retryable (429 and 503 with the peer's `Retry-After` seconds); other statuses permanent.
pub fn classify_status(status: u16, retry_after: Option<&str>) -> Result<(), SendError> {
    let after = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(SendError::Retryable {
            reason: format!("HTTP {status}"),
            retry_after: after,
        }),
        _ => Err(SendError::permanent(format!("HTTP {status}"))),
    }
}

/// Installs the process-wide TLS crypto provider that every HTTP channel needs (rustls with
/// ring). Called once at start; calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client for one channel, with its request timeout.
pub(crate) fn http_client(channel: &str, timeout_seconds: u64) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_seconds))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| anyhow::anyhow!("{channel}: cannot build the HTTP client: {e}"))
}

/// A URL a channel posts to, checked: http or https, and https unless the host is on this
/// machine. The error names `key`, never the value (which may carry a token).
pub fn check_url(key: &str, value: &str) -> Result<reqwest::Url, String> {
    if value.is_empty() {
        return Err(format!("{key}: missing"));
    }
    let url = reqwest::Url::parse(value).map_err(|e| format!("{key}: not a valid URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!("{key}: must be https:// (plain http only to this machine)")),
        _ => Err(format!("{key}: must be an https:// URL")),
    }
}

/// The URLs of named webhooks under `section`, checked, by [`hook_key`].
pub(crate) fn hook_urls<'a>(
    section: &str,
    hooks: impl IntoIterator<Item = (&'a String, &'a Secret)>,
) -> anyhow::Result<HashMap<String, reqwest::Url>> {
    hooks
        .into_iter()
        .map(|(name, url)| {
            let url = check_url(&format!("{section}.{name}.url"), url.expose()).map_err(anyhow::Error::msg)?;
            Ok((hook_key(name), url))
        })
        .collect()
}

/// POSTs a JSON `body` to `url` and classifies the answer. Errors never contain the URL, which
/// is a secret for webhooks; `channel` names the channel instead.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    channel: &str,
) -> Result<reqwest::Response, SendError> {
    let response = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::retryable(describe(channel, &e)))?;
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok());
    classify_status(response.status().as_u16(), retry_after)?;
    Ok(response)
}

/// A transport error without its URL.
pub(crate) fn describe(channel: &str, error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("{channel} {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified_once_for_every_channel() {
        assert_eq!(classify_status(200, None), Ok(()));
        assert_eq!(classify_status(202, None), Ok(()));
        for status in [408, 500, 502, 503] {
            assert!(
                matches!(classify_status(status, None), Err(SendError::Retryable { .. })),
                "{status}"
            );
        }
        assert_eq!(
            classify_status(429, Some("12")),
            Err(SendError::Retryable {
                reason: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(12))
            })
        );
        for status in [400, 401, 403, 404, 410, 413] {
            assert!(
                matches!(classify_status(status, None), Err(SendError::Permanent { .. })),
                "{status}"
            );
        }
    }

    #[test]
    fn channel_urls_must_be_https_unless_local() {
        assert!(check_url("k", "https://prod-01.westeurope.logic.azure.com/workflows/x").is_ok());
        assert!(check_url("k", "http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("k", "http://[::1]:9000/hook").is_ok());
        assert_eq!(
            check_url("teams.webhooks.x.url", "http://teams.example.org/hook?sig=hemligt"),
            Err("teams.webhooks.x.url: must be https:// (plain http only to this machine)".into())
        );
        assert_eq!(check_url("k", ""), Err("k: missing".into()));
        let error = check_url("k", "not a url sig=hemligt").unwrap_err();
        assert!(error.starts_with("k: not a valid URL") && !error.contains("hemligt"));
    }
}
