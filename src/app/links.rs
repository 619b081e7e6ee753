//! Making the signed links that go into messages: the adapter around `domain::tokens` that
//! knows the public address, the secret's source and how long links live.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};

use crate::domain::calls::Interest;
use crate::domain::feeds::FeedScope;
use crate::domain::occurrence::Action;
use crate::domain::tokens::{CallLinkClaims, FeedClaims, LinkClaims, LinkError, LinkSigner, SignInClaims};
use crate::settings::LinksSettings;
use crate::storage::Store;

/// Issues and checks the links of one installation.
pub struct Links {
    pub signer: LinkSigner,
    base_url: String,
    valid_for: SignedDuration,
}

impl Links {
    /// Links with the configured secret, or the one generated and kept in the database.
    pub async fn new(settings: &LinksSettings, store: &Store) -> anyhow::Result<Self> {
        let secret = match settings.secret.expose() {
            "" => store.meta_or_insert("link_secret", &generate_secret()?).await?,
            configured => configured.to_owned(),
        };
        let revoked_before = match settings.revoked_before.trim() {
            "" => None,
            text => Some(
                text.parse::<Timestamp>()
                    .map_err(|e| anyhow::anyhow!("links.revoked_before: \"{text}\" is not an RFC 3339 instant: {e}"))?,
            ),
        };
        Ok(Self {
            signer: LinkSigner::new(secret.as_bytes(), revoked_before),
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            valid_for: SignedDuration::from_hours(24 * i64::from(settings.valid_days)),
        })
    }

    /// The link that lets `person` take `action` on occurrence `occurrence_id`, made at `now`.
    pub fn url(&self, occurrence_id: i64, person: &str, action: Action, now: Timestamp) -> String {
        let claims = LinkClaims {
            occurrence_id,
            person: person.to_owned(),
            action,
            issued: now.as_second(),
            expires: now.checked_add(self.valid_for).unwrap_or(now).as_second(),
        };
        format!("{}/ack/{}", self.base_url, self.signer.sign(&claims))
    }

    /// The calendar feed of `scope`, as a subscription URL made at `now`.
    pub fn feed_url(&self, scope: FeedScope, now: Timestamp) -> String {
        let claims = FeedClaims {
            scope,
            issued: now.as_second(),
        };
        format!("{}/calendar/{}.ics", self.base_url, self.signer.sign(&claims))
    }

    /// Rotates the feed of `scope` at `now`: every subscription link to it made before stops
    /// working. Returns the new link.
    pub async fn rotate_feed(&self, store: &Store, scope: FeedScope, now: Timestamp) -> anyhow::Result<String> {
        store.rotate_feed(&scope.key(), now).await?;
        Ok(self.feed_url(scope, now))
    }

    /// The claims of a calendar feed's `token` at `now`: genuine, not revoked, and made since
    /// its scope's feed was last rotated. The outer error is the store's.
    pub async fn feed_claims(
        &self,
        store: &Store,
        token: &str,
        now: Timestamp,
    ) -> anyhow::Result<Result<FeedClaims, LinkError>> {
        let claims: FeedClaims = match self.signer.verify(token, now) {
            Ok(claims) => claims,
            Err(error) => return Ok(Err(error)),
        };
        let rotated_at = store.feed_rotated_at(&claims.scope.key()).await?;
        Ok(match rotated_at {
            Some(rotated_at) if claims.issued < rotated_at => Err(LinkError::Revoked),
            _ => Ok(claims),
        })
    }

    /// The link that lets `person` answer `interest` to call `call_id` for their unit.
    pub fn call_url(&self, call_id: i64, person: &str, interest: Interest, now: Timestamp) -> String {
        let claims = CallLinkClaims {
            call_id,
            person: person.to_owned(),
            interest,
            issued: now.as_second(),
            expires: now.checked_add(self.valid_for).unwrap_or(now).as_second(),
        };
        format!("{}/calls/answer/{}", self.base_url, self.signer.sign(&claims))
    }

    /// A single-use link that signs `person` in to the dashboard and takes them to `next`;
    /// it works for [`SIGN_IN_MINUTES`] from `now`.
    pub fn sign_in_url(&self, person: &str, next: &str, now: Timestamp) -> anyhow::Result<String> {
        let claims = SignInClaims {
            person: person.to_owned(),
            nonce: random_token()?,
            next: next.to_owned(),
            issued: now.as_second(),
            expires: now.as_second() + SIGN_IN_MINUTES * 60,
        };
        Ok(format!("{}/sign-in/{}", self.base_url, self.signer.sign(&claims)))
    }

    /// The absolute address of a path of this installation, such as `/dashboard`.
    pub fn page_url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Whether people reach arshjul over TLS, so that cookies may be marked Secure.
    pub fn over_tls(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// How long a sign-in link works.
pub const SIGN_IN_MINUTES: i64 = 15;

/// 32 random bytes from the operating system, URL-safe base64: session ids, nonces, CSRF tokens.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// 32 random bytes from the operating system, base64-encoded.
fn generate_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed; set links.secret explicitly"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
