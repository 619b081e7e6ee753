//! A generic signed webhook: each message is POSTed as JSON with an HMAC-SHA256 signature over
//! timestamp and body, for municipalities that route reminders to other tools.

use std::time::Duration;

use ring::hmac;
use serde_json::json;

use super::{Notifier, Outgoing, Receipt, SendError, classify_status};
use crate::settings::WebhookSettings;

/// Header carrying the Unix time the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Arshjul-Timestamp";
/// Header carrying `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub const SIGNATURE_HEADER: &str = "X-Arshjul-Signature";

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
        let url = reqwest::Url::parse(settings.url.expose())
            .map_err(|e| anyhow::anyhow!("webhook.url: not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("webhook.url: must be an http:// or https:// URL");
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_seconds))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| anyhow::anyhow!("webhook: cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
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
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
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
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&self.key, timestamp, &body))
            .body(body)
            .send()
            .await
            // Without the URL: it may carry a token.
            .map_err(|e| SendError::retryable(describe(&e)))?;
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        classify_status(response.status().as_u16(), retry_after)?;
        Ok(Receipt::default())
    }
}

/// A transport error without the URL (which is a secret).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("webhook {kind}")
}
