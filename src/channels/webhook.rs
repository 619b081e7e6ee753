//! A generic signed webhook: each message is POSTed as JSON with an HMAC-SHA256 signature over
//! timestamp and body, for municipalities that route reminders to other tools.

use reqwest::header::{HeaderMap, HeaderValue};
use ring::hmac;
use serde_json::json;

use super::{Notifier, Outgoing, Receipt, SendError, check_url, http_client, post_json};
use crate::settings::WebhookSettings;

/// Header carrying the Unix time the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Arshjul-Timestamp";
/// Header carrying `sha256=<hex>` of HMAC-SHA256(secret, `"<timestamp>.<body>"`).
pub const SIGNATURE_HEADER: &str = "X-Arshjul-Signature";
/// Header carrying the message's key, the same on every retry: a receiver deduplicates on it
/// (a repeat follows a timeout or a crash between sending and recording).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Posts messages to one URL over a pooled keep-alive client.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: reqwest::Url,
    key: hmac::Key,
}

impl WebhookNotifier {
    /// A notifier for the configured URL and secret.
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Self> {
        // The URL is a secret: the error names the key, not the value.
        let url = check_url("webhook.url", settings.url.expose()).map_err(anyhow::Error::msg)?;
        Ok(Self {
            client: http_client("webhook", settings.timeout_seconds)?,
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, settings.secret.expose().as_bytes()),
        })
    }

    /// The signature header value for `body` at `timestamp`.
    pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
        sign(&hmac::Key::new(hmac::HMAC_SHA256, key), timestamp, body)
    }
}

fn sign(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(key, &signed);
    format!("sha256={}", crate::domain::tokens::hex(tag.as_ref()))
}

impl Notifier for WebhookNotifier {
    async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let body = json!({
            "id": message.message_key,
            "recipient": message.recipient,
            "subject": message.rendered.subject,
            "text": message.rendered.text,
            "items": message.items,
        });
        let body = serde_json::to_vec(&body).map_err(|e| SendError::permanent(format!("encoding: {e}")))?;
        let timestamp = message.composed_at.as_second();
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, sign(&self.key, timestamp, &body)),
            (IDEMPOTENCY_HEADER, message.message_key.clone()),
        ] {
            headers.insert(
                name,
                HeaderValue::from_str(&value).map_err(|e| SendError::permanent(e.to_string()))?,
            );
        }
        post_json(&self.client, &self.url, headers, body, "webhook").await?;
        Ok(Receipt::default())
    }
}
