//! OAuth 2.0 towards an identity provider (Entra ID): the HTTP that the `oauth2` and
//! `openidconnect` crates send through our own reqwest, and the client-credentials tokens with
//! which SMTP and IMAP authenticate (SASL XOAUTH2) when `[email.oauth2]` is set.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse as _, TokenUrl};
use tokio::sync::Mutex;

use crate::settings::{MailOAuthSettings, Secret};

/// The HTTP client through which the `oauth2` and `openidconnect` crates talk to an identity
/// provider: a request timeout, and no redirects followed (a token endpoint that redirects is
/// not followed with a client's secret).
pub struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    /// A client for the provider named by the setting `key`.
    pub fn new(key: &str, timeout_seconds: u64) -> anyhow::Result<Self> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Self)
            .map_err(|e| anyhow::anyhow!("{key}: cannot build the HTTP client: {e}"))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for ProviderHttp {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

async fn send(client: &reqwest::Client, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let response = client.execute(reqwest::Request::try_from(request)?).await?;
    let (status, headers) = (response.status(), response.headers().clone());
    let mut answer = http::Response::new(response.bytes().await?.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// Why no mail token could be had: the message names the setting to look at and never holds
/// the secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(String);

/// The client-credentials tokens of `[email.oauth2]`: fetched when first needed, kept, and
/// fetched anew before they expire or when a mail server refused one.
pub struct MailTokens {
    client_id: ClientId,
    client_secret: ClientSecret,
    token_url: TokenUrl,
    scope: String,
    http: ProviderHttp,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// How long before its expiry a token is renewed: five minutes, or half its lifetime when that
/// is shorter.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 2).min(Duration::from_secs(300))
}

/// The lifetime assumed of a token whose response gives none.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(600);

impl MailTokens {
    /// The token source `settings` describe; `None` when `email.oauth2.token_url` is empty.
    pub fn new(settings: &MailOAuthSettings, timeout_seconds: u64) -> anyhow::Result<Option<Self>> {
        if settings.token_url.is_empty() {
            return Ok(None);
        }
        let url = super::check_url("email.oauth2.token_url", &settings.token_url).map_err(anyhow::Error::msg)?;
        for (key, value) in [
            ("email.oauth2.client_id", settings.client_id.as_str()),
            ("email.oauth2.client_secret", settings.client_secret.expose()),
            ("email.oauth2.scope", settings.scope.as_str()),
        ] {
            anyhow::ensure!(!value.is_empty(), "{key}: missing (email.oauth2.token_url is set)");
        }
        Ok(Some(Self {
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: ClientSecret::new(settings.client_secret.expose().to_owned()),
            token_url: TokenUrl::from_url(url),
            scope: settings.scope.clone(),
            http: ProviderHttp::new("email.oauth2.token_url", timeout_seconds)?,
            cached: Mutex::new(None),
        }))
    }

    /// Whether a token can be had, for `check-config` and `channels test email`: what was
    /// reached, never the token.
    pub async fn check(&self) -> Result<String, TokenError> {
        self.token()
            .await
            .map(|_| format!("email.oauth2: a token from {}", self.token_url.as_str()))
    }

    /// A token that is not about to expire: the kept one, or a new one.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(kept) = cached.as_ref().filter(|kept| Instant::now() < kept.renew_at) {
            return Ok(kept.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// A new token in place of `refused`, which a mail server did not take (revoked, or the
    /// provider's keys rolled over); when another task already replaced it, that one.
    pub async fn renewed(&self, refused: &Secret) -> Result<Secret, TokenError> {
        {
            let mut cached = self.cached.lock().await;
            if cached
                .as_ref()
                .is_some_and(|kept| kept.token.expose() == refused.expose())
            {
                *cached = None;
            }
        }
        self.token().await
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let client = BasicClient::new(self.client_id.clone())
            .set_client_secret(self.client_secret.clone())
            .set_token_uri(self.token_url.clone());
        let asked = Instant::now();
        let response = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.scope.clone()))
            .request_async(&self.http)
            .await
            .map_err(|error| TokenError(refusal(&error)))?;
        let lifetime = response.expires_in().unwrap_or(UNSTATED_LIFETIME);
        tracing::info!(lifetime_seconds = lifetime.as_secs(), "mail token fetched");
        Ok(Cached {
            token: Secret::new(response.access_token().secret().clone()),
            renew_at: asked + lifetime - renewal_margin(lifetime),
        })
    }
}

/// What went wrong fetching a token, naming the setting an administrator should look at.
fn refusal<E: std::error::Error>(
    error: &RequestTokenError<E, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let key = match response.error() {
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                    "email.oauth2.client_secret (or client_id)"
                }
                BasicErrorResponseType::InvalidScope => "email.oauth2.scope",
                _ => "email.oauth2",
            };
            let description = response
                .error_description()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!(
                "{key}: the token endpoint refused the request ({}{description})",
                response.error()
            )
        }
        RequestTokenError::Request(error) => {
            format!("email.oauth2.token_url: the token endpoint cannot be reached: {error}")
        }
        RequestTokenError::Parse(error, _) => {
            format!("email.oauth2.token_url: the answer is not a token response: {error}")
        }
        RequestTokenError::Other(error) => format!("email.oauth2.token_url: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_five_minutes_before_expiry_or_halfway() {
        assert_eq!(renewal_margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert_eq!(renewal_margin(Duration::from_secs(120)), Duration::from_secs(60));
    }
}
