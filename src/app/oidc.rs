//! Signing in through the organisation's OpenID provider (Entra ID): the authorization-code
//! flow with PKCE (S256), `state` and `nonce`. A sign-in begun here is kept in memory until its
//! callback, for at most ten minutes, and can be finished once, in the browser that began it;
//! the ID token's signature (the provider's JWKS), issuer, audience, nonce and expiry are
//! checked by `openidconnect`. The provider's metadata is read when first needed and again
//! hourly (its signing keys roll over), so a provider that is down at start delays nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use tokio::sync::Mutex;

use crate::channels::oauth::ProviderHttp;
use crate::domain::config::{Config, Person};
use crate::domain::tokens::sha256_hex;
use crate::settings::{OidcClaim, OidcSettings, Settings};

/// How long a sign-in begun may wait for its callback.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Sign-ins waiting for their callback at most; beyond that, new ones are refused until some
/// finish or expire (a flood of begun sign-ins takes no more memory).
const MAX_PENDING: usize = 10_000;
/// How long the provider's metadata and keys are used before they are read again.
const METADATA_FOR: Duration = Duration::from_secs(3600);
/// Seconds before a request to the provider is given up.
const PROVIDER_TIMEOUT_SECONDS: u64 = 10;

/// Entra's claims beyond the standard ones: its object id of the person.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct EntraClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oid: Option<String>,
}

impl AdditionalClaims for EntraClaims {}

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        EntraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type ProviderClient = Client<
    EntraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider as its metadata describes it.
struct Provider {
    client: ProviderClient,
    end_session: Option<String>,
    read_at: Instant,
}

/// A sign-in begun and not yet finished.
struct Pending {
    /// SHA-256 of the browser's cookie: only the browser that began it can finish it.
    browser: String,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    next: String,
    begun: Instant,
}

/// Why a sign-in through the provider did not succeed; each is logged, and the visitor sees
/// the sign-in page with [`Refusal::label`].
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The callback names no sign-in waiting here: used already, expired, or never begun.
    #[error("no sign-in waits for this state (used, expired or forged)")]
    UnknownState,
    /// The callback came to another browser than the one that began the sign-in.
    #[error("the sign-in was begun in another browser")]
    OtherBrowser,
    /// The provider reported an error (the person cancelled, or was refused there).
    #[error("the provider answered with an error: {0}")]
    Provider(String),
    /// The code exchange failed, or the ID token did not verify.
    #[error("{0}")]
    Token(String),
    /// The ID token names nobody in the directory with a role.
    #[error("the ID token's {0} names nobody in the directory with a role")]
    NoAccess(&'static str),
    /// The provider cannot be reached, or too many sign-ins are waiting.
    #[error("{0}")]
    Unavailable(String),
}

impl Refusal {
    /// The sign-in page's reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::UnknownState | Self::OtherBrowser => "oidc_state",
            Self::Provider(_) | Self::Token(_) => "oidc_failed",
            Self::NoAccess(_) => "no_access",
            Self::Unavailable(_) => "oidc_unavailable",
        }
    }
}

/// A signed-in person, and where they were going.
pub struct SignedIn {
    pub person: String,
    pub next: String,
}

/// Sign-in through the provider of `[sign_in.oidc]`.
pub struct OidcSignIn {
    settings: OidcSettings,
    redirect: RedirectUrl,
    http: ProviderHttp,
    provider: Mutex<Option<Provider>>,
    pending: std::sync::Mutex<HashMap<String, Pending>>,
}

impl OidcSignIn {
    /// The sign-in of `[sign_in.oidc]`, calling back to `/sign-in/oidc/callback` under
    /// `links.base_url`; `None` when `sign_in.oidc.issuer` is empty. Refused when neither it nor
    /// emailed links would let anyone sign in.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        anyhow::ensure!(
            settings.sign_in.email_links || !settings.sign_in.oidc.issuer.is_empty(),
            "sign_in.email_links is false and sign_in.oidc.issuer is empty: nobody could sign in to the dashboard"
        );
        let callback = format!(
            "{}/sign-in/oidc/callback",
            settings.links.base_url.trim_end_matches('/')
        );
        Self::new(&settings.sign_in.oidc, &callback)
    }

    fn new(settings: &OidcSettings, callback_url: &str) -> anyhow::Result<Option<Self>> {
        if settings.issuer.is_empty() {
            return Ok(None);
        }
        crate::channels::check_url("sign_in.oidc.issuer", &settings.issuer).map_err(anyhow::Error::msg)?;
        for (key, value) in [
            ("sign_in.oidc.client_id", settings.client_id.as_str()),
            ("sign_in.oidc.client_secret", settings.client_secret.expose()),
        ] {
            anyhow::ensure!(!value.is_empty(), "{key}: missing (sign_in.oidc.issuer is set)");
        }
        let redirect = RedirectUrl::new(callback_url.to_owned())
            .map_err(|e| anyhow::anyhow!("links.base_url: the sign-in callback {callback_url} is not a URL: {e}"))?;
        Ok(Some(Self {
            settings: settings.clone(),
            redirect,
            http: ProviderHttp::new("sign_in.oidc.issuer", PROVIDER_TIMEOUT_SECONDS)?,
            provider: Mutex::new(None),
            pending: std::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// The provider's name for the sign-in button.
    pub fn provider_name(&self) -> &str {
        &self.settings.provider_name
    }

    /// Reads the provider's metadata when it is not at hand or is an hour old; `f` gets the
    /// provider.
    async fn with_provider<T>(&self, f: impl FnOnce(&Provider) -> T) -> Result<T, Refusal> {
        let mut kept = self.provider.lock().await;
        let provider = match kept.take().filter(|p| p.read_at.elapsed() <= METADATA_FOR) {
            Some(provider) => provider,
            None => self.discover().await?,
        };
        Ok(f(kept.insert(provider)))
    }

    async fn discover(&self) -> Result<Provider, Refusal> {
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| Refusal::Unavailable(format!("sign_in.oidc.issuer: not a URL: {e}")))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                Refusal::Unavailable(format!(
                    "sign_in.oidc.issuer: cannot read the provider's metadata from {}: {}",
                    self.settings.issuer,
                    error_chain(&e)
                ))
            })?;
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|url| url.url().to_string());
        let client = ProviderClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone());
        tracing::info!(issuer = %self.settings.issuer, "OpenID provider metadata read");
        Ok(Provider {
            client,
            end_session,
            read_at: Instant::now(),
        })
    }

    /// Whether the provider's metadata can be read, for `check-config`.
    pub async fn check(&self) -> Result<String, Refusal> {
        self.with_provider(|_| format!("sign_in.oidc: the provider's metadata from {}", self.settings.issuer))
            .await
    }

    /// The provider's end-session URL (RP-initiated logout), when it has one.
    pub async fn end_session_url(&self) -> Option<String> {
        self.with_provider(|p| {
            let mut url = url::Url::parse(p.end_session.as_deref()?).ok()?;
            url.query_pairs_mut().append_pair("client_id", &self.settings.client_id);
            Some(url.to_string())
        })
        .await
        .ok()
        .flatten()
    }

    /// Begins a sign-in that returns to `next` in the browser holding `browser_cookie`: the
    /// provider's authorization URL (with PKCE, `state` and `nonce`) to send it to.
    pub async fn begin(&self, next: &str, browser_cookie: &str) -> Result<String, Refusal> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self
            .settings
            .scopes
            .iter()
            .filter(|s| *s != "openid")
            .cloned()
            .map(Scope::new);
        let (url, state, nonce) = self
            .with_provider(|p| {
                p.client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        CsrfToken::new_random,
                        Nonce::new_random,
                    )
                    .add_scopes(scopes)
                    .set_pkce_challenge(challenge)
                    .url()
            })
            .await?;
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.retain(|_, p| p.begun.elapsed() < PENDING_FOR);
        if pending.len() >= MAX_PENDING {
            return Err(Refusal::Unavailable(format!(
                "{MAX_PENDING} sign-ins are waiting for the provider; no more are begun until some finish"
            )));
        }
        pending.insert(
            sha256_hex(state.secret().as_bytes()),
            Pending {
                browser: sha256_hex(browser_cookie.as_bytes()),
                nonce,
                verifier,
                next: next.to_owned(),
                begun: Instant::now(),
            },
        );
        Ok(url.to_string())
    }

    /// Finishes the sign-in whose `state` came back with `code` to the browser holding
    /// `browser_cookie`: once, within ten minutes, with an ID token that verifies and names
    /// a person of `config` with a role.
    pub async fn finish(
        &self,
        config: &Config,
        state: &str,
        code: &str,
        browser_cookie: Option<&str>,
    ) -> Result<SignedIn, Refusal> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&sha256_hex(state.as_bytes()))
            .filter(|p| p.begun.elapsed() < PENDING_FOR)
            .ok_or(Refusal::UnknownState)?;
        if browser_cookie.is_none_or(|cookie| sha256_hex(cookie.as_bytes()) != pending.browser) {
            return Err(Refusal::OtherBrowser);
        }
        let (client, http) = (self.with_provider(|p| p.client.clone()).await?, &self.http);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Refusal::Token(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(pending.verifier)
            .request_async(http)
            .await
            .map_err(|e| Refusal::Token(format!("exchanging the code failed: {}", error_chain(&e))))?;
        let id_token = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| Refusal::Token("the token response has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &pending.nonce)
            .map_err(|e| Refusal::Token(format!("the ID token does not verify: {e}")))?;
        let people = &config.directory.people;
        let (claim, person) = match self.settings.claim {
            OidcClaim::Email => (
                "email",
                claims
                    .email()
                    .and_then(|email| people.iter().find(|p| p.email.eq_ignore_ascii_case(email))),
            ),
            OidcClaim::Oid => (
                "oid",
                claims.additional_claims().oid.as_deref().and_then(|oid| {
                    people
                        .iter()
                        .find(|p| p.entra_object_id().is_some_and(|known| known.eq_ignore_ascii_case(oid)))
                }),
            ),
        };
        let person = person
            .filter(|p: &&Person| crate::domain::access::Viewer::of(config, p.id.as_str()).is_some())
            .ok_or(Refusal::NoAccess(claim))?;
        Ok(SignedIn {
            person: person.id.as_str().to_owned(),
            next: pending.next,
        })
    }
}

/// An error with its causes, for the log and `check-config`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
