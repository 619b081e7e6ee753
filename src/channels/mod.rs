//! Channels deliver composed messages: one `Notifier` per channel, each saying whether a
//! failure is worth retrying. Channels never touch storage; the dispatcher is the only place
//! that sees both.

pub mod email;
pub mod webhook;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::domain::config::Language;
use crate::domain::messages::Rendered;

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

/// Proof of a send: the provider's id for the message, where it gives one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    pub provider_id: Option<String>,
}

/// The person a message goes to.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub email: String,
    pub language: Language,
}

/// One item of a message, as machines see it (the webhook body).
#[derive(Debug, Clone, Serialize)]
pub struct ItemSummary {
    pub delivery_id: i64,
    pub idempotency_key: String,
    pub occurrence_id: i64,
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
    /// Identifies the message (the first delivery's key): Message-ID, webhook id, Matrix txn id.
    pub message_key: String,
    pub recipient: Recipient,
    pub rendered: Rendered,
    pub items: Vec<ItemSummary>,
    /// When the dispatcher composed it (from its clock); the webhook signs this time.
    pub composed_at: jiff::Timestamp,
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
}
