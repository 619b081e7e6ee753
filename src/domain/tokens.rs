//! Signed links: an expiring, HMAC-SHA256-signed token that names an occurrence, a person and
//! an action. Whoever holds the link may take that one action as that person; nothing else.
//!
//! Each kind of token ([`Purpose`]) is signed with its own key, derived from the one secret by
//! HKDF with the purpose's label: a token made for one purpose is forged for every other,
//! whatever its fields say.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use ring::{hkdf, hmac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::calls::Interest;
use super::feeds::FeedScope;

use super::occurrence::Action;

/// What a link allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(rename = "o")]
    pub occurrence_id: i64,
    #[serde(rename = "p")]
    pub person: String,
    #[serde(rename = "a")]
    pub action: Action,
    /// When the link was made (seconds since the epoch).
    #[serde(rename = "i")]
    pub issued: i64,
    /// When the link stops working (seconds since the epoch).
    #[serde(rename = "e")]
    pub expires: i64,
}

/// What a link to answer an EU funding call allows: `person` answers `interest` for their unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLinkClaims {
    #[serde(rename = "c")]
    pub call_id: i64,
    #[serde(rename = "p")]
    pub person: String,
    #[serde(rename = "n")]
    pub interest: Interest,
    #[serde(rename = "i")]
    pub issued: i64,
    #[serde(rename = "e")]
    pub expires: i64,
}

/// What a calendar subscription may read: the deadlines of `scope`. It does not expire (a
/// calendar program keeps the URL); `links.revoked_before` revokes it like any link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedClaims {
    #[serde(rename = "s")]
    pub scope: FeedScope,
    #[serde(rename = "i")]
    pub issued: i64,
}

impl Claims for FeedClaims {
    const PURPOSE: Purpose = Purpose::Feed;

    fn issued(&self) -> i64 {
        self.issued
    }

    fn expires(&self) -> i64 {
        i64::MAX
    }
}

/// What a signed token is for; each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    // The discriminants index `LinkSigner::keys`, in the order of `Purpose::ALL`.
    /// An action on an occurrence ([`LinkClaims`]).
    Action,
    /// An answer to an EU funding call ([`CallLinkClaims`]).
    CallAnswer,
    /// A calendar subscription ([`FeedClaims`]).
    Feed,
    /// Signing in to the dashboard ([`SignInClaims`]).
    SignIn,
    /// A delivery's reply address and Message-ID.
    Reply,
    /// A delivery's envelope sender, where bounces go.
    Bounce,
}

impl Purpose {
    const ALL: [Self; 6] = [
        Self::Action,
        Self::CallAnswer,
        Self::Feed,
        Self::SignIn,
        Self::Reply,
        Self::Bounce,
    ];

    /// The HKDF label its key is derived with.
    fn label(self) -> &'static [u8] {
        match self {
            Self::Action => b"arshjul token v2: action",
            Self::CallAnswer => b"arshjul token v2: call answer",
            Self::Feed => b"arshjul token v2: feed",
            Self::SignIn => b"arshjul token v2: sign-in",
            Self::Reply => b"arshjul token v2: reply",
            Self::Bounce => b"arshjul token v2: bounce",
        }
    }
}

/// The claims of a signed token: what it is for, when it was made and when it stops working.
pub trait Claims {
    /// The purpose whose key signs these claims.
    const PURPOSE: Purpose;
    /// Seconds since the epoch.
    fn issued(&self) -> i64;
    /// Seconds since the epoch.
    fn expires(&self) -> i64;
}

/// What a sign-in link allows: `person` signs in once, before it expires, and lands on `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInClaims {
    #[serde(rename = "p")]
    pub person: String,
    /// Makes the link single use: the store remembers the nonces used.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The dashboard path to go to after signing in.
    #[serde(rename = "t")]
    pub next: String,
    #[serde(rename = "i")]
    pub issued: i64,
    #[serde(rename = "e")]
    pub expires: i64,
}

impl Claims for SignInClaims {
    const PURPOSE: Purpose = Purpose::SignIn;

    fn issued(&self) -> i64 {
        self.issued
    }

    fn expires(&self) -> i64 {
        self.expires
    }
}

impl Claims for LinkClaims {
    const PURPOSE: Purpose = Purpose::Action;

    fn issued(&self) -> i64 {
        self.issued
    }

    fn expires(&self) -> i64 {
        self.expires
    }
}

impl Claims for CallLinkClaims {
    const PURPOSE: Purpose = Purpose::CallAnswer;

    fn issued(&self) -> i64 {
        self.issued
    }

    fn expires(&self) -> i64 {
        self.expires
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not an arshjul link")]
    Malformed,
    #[error("the link's signature does not match: it was changed or made elsewhere")]
    Forged,
    #[error("the link has expired")]
    Expired,
    #[error("the link was revoked")]
    Revoked,
}

impl LinkError {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Forged => "forged",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// Signs and verifies links with one secret, a key per purpose derived from it.
pub struct LinkSigner {
    /// One key per [`Purpose`], indexed by it.
    keys: [hmac::Key; Purpose::ALL.len()],
    /// Tokens made before this instant are refused (set to revoke every older one).
    revoked_before: Option<Timestamp>,
}

const VERSION: &str = "v2";

impl LinkSigner {
    /// A signer with `secret`; tokens issued before `revoked_before` are refused.
    pub fn new(secret: &[u8], revoked_before: Option<Timestamp>) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"arshjul").extract(secret);
        let keys = Purpose::ALL.map(|purpose| {
            let labels = [purpose.label()];
            // HKDF refuses only outputs longer than 255 digests; this one is one digest long.
            let okm = prk
                .expand(&labels, hmac::HMAC_SHA256)
                .expect("an HKDF output of one digest");
            hmac::Key::from(okm)
        });
        Self { keys, revoked_before }
    }

    fn key(&self, purpose: Purpose) -> &hmac::Key {
        &self.keys[purpose as usize]
    }

    /// A token carrying `claims`, safe to put in a URL path.
    pub fn sign<T: Serialize + Claims>(&self, claims: &T) -> String {
        // Serialising a struct of integers and strings cannot fail.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{VERSION}.{payload}");
        let tag = hmac::sign(self.key(T::PURPOSE), signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// A short token naming delivery `delivery_id`, made at `issued`, for its reply address
    /// and its Message-ID (`ID-ISSUED-TAG`, the tag 64 bits of HMAC in hex), short enough for
    /// an email address's local part.
    pub fn reply_token(&self, delivery_id: i64, issued: Timestamp) -> String {
        self.delivery_token(Purpose::Reply, delivery_id, issued)
    }

    /// The delivery a reply token names, if the token is genuine and not revoked.
    pub fn verify_reply_token(&self, token: &str) -> Option<i64> {
        self.verify_delivery_token(Purpose::Reply, token)
    }

    /// A short token naming delivery `delivery_id` for its envelope sender (VERP), where the
    /// mail server returns what it cannot deliver: `bID-ISSUED-TAG`, with its own key.
    pub fn bounce_token(&self, delivery_id: i64, issued: Timestamp) -> String {
        format!("b{}", self.delivery_token(Purpose::Bounce, delivery_id, issued))
    }

    /// The delivery a bounce token names, if the token is genuine and not revoked.
    pub fn verify_bounce_token(&self, token: &str) -> Option<i64> {
        self.verify_delivery_token(Purpose::Bounce, token.strip_prefix(['b', 'B'])?)
    }

    fn delivery_token(&self, purpose: Purpose, delivery_id: i64, issued: Timestamp) -> String {
        let issued = issued.as_second();
        format!(
            "{delivery_id}-{issued}-{}",
            self.delivery_tag(purpose, delivery_id, issued)
        )
    }

    fn verify_delivery_token(&self, purpose: Purpose, token: &str) -> Option<i64> {
        let mut parts = token.splitn(3, '-');
        let (id, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
        let (id, issued): (i64, i64) = (id.parse().ok()?, issued.parse().ok()?);
        let expected = self.delivery_tag(purpose, id, issued);
        // Compared in constant time: every byte is looked at whatever the first difference.
        let same = expected.len() == tag.len()
            && expected
                .bytes()
                .zip(tag.to_ascii_lowercase().bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        let revoked = self.revoked_before.is_some_and(|before| issued < before.as_second());
        (same && !revoked).then_some(id)
    }

    fn delivery_tag(&self, purpose: Purpose, delivery_id: i64, issued: i64) -> String {
        let tag = hmac::sign(self.key(purpose), format!("{delivery_id}.{issued}").as_bytes());
        hex(&tag.as_ref()[..8])
    }

    /// The claims of `token` if it is genuine, made for `T`'s purpose, unexpired and not
    /// revoked at `now`.
    pub fn verify<T: DeserializeOwned + Claims>(&self, token: &str, now: Timestamp) -> Result<T, LinkError> {
        let (signed, tag) = token.rsplit_once('.').ok_or(LinkError::Malformed)?;
        let (version, payload) = signed.split_once('.').ok_or(LinkError::Malformed)?;
        if version != VERSION {
            return Err(LinkError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| LinkError::Forged)?;
        hmac::verify(self.key(T::PURPOSE), signed.as_bytes(), &tag).map_err(|_| LinkError::Forged)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Malformed)?;
        let claims: T = serde_json::from_slice(&payload).map_err(|_| LinkError::Malformed)?;
        if self
            .revoked_before
            .is_some_and(|before| claims.issued() < before.as_second())
        {
            return Err(LinkError::Revoked);
        }
        if now.as_second() >= claims.expires() {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data` as lowercase hex: how API tokens and session ids are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_tokens_name_their_delivery_and_cannot_be_forged() {
        let signer = LinkSigner::new(b"secret", None);
        let token = signer.reply_token(42, at(1_000));
        assert!(token.len() < 40, "fits an address: {token}");
        assert_eq!(signer.verify_reply_token(&token), Some(42));
        assert_eq!(
            signer.verify_reply_token(&token.to_uppercase()),
            Some(42),
            "addresses may change case"
        );
        assert_eq!(signer.verify_reply_token(&token.replacen("42", "43", 1)), None);
        assert_eq!(signer.verify_reply_token(&token.replacen("1000", "1001", 1)), None);
        assert_eq!(LinkSigner::new(b"other", None).verify_reply_token(&token), None);
        for junk in [
            "",
            "-",
            "42",
            "x-y",
            "42-",
            "42-1000",
            "42-1000-",
            "99999999999999999999-0-00",
        ] {
            assert_eq!(signer.verify_reply_token(junk), None, "{junk}");
        }
        let bounce = signer.bounce_token(42, at(1_000));
        assert_eq!(signer.verify_bounce_token(&bounce), Some(42));
        assert_eq!(signer.verify_reply_token(&bounce), None, "one purpose each");
        assert_eq!(signer.verify_reply_token(&bounce[1..]), None, "one key each");
        assert_eq!(
            signer.verify_bounce_token(&format!("b{token}")),
            None,
            "one purpose each"
        );
    }

    #[test]
    fn reply_and_bounce_tokens_honour_revocation() {
        let signer = LinkSigner::new(b"secret", None);
        let (older, newer) = (signer.reply_token(42, at(1_000)), signer.reply_token(43, at(1_300)));
        let bounce = signer.bounce_token(42, at(1_000));
        let revoking = LinkSigner::new(b"secret", Some(at(1_200)));
        assert_eq!(revoking.verify_reply_token(&older), None);
        assert_eq!(revoking.verify_bounce_token(&bounce), None);
        assert_eq!(revoking.verify_reply_token(&newer), Some(43));
    }

    /// A token made for one purpose is forged for every other, even where its fields would
    /// read as the other's claims.
    #[test]
    fn a_token_of_one_purpose_is_refused_for_every_other() {
        #[derive(Serialize, Deserialize)]
        struct Loose {
            #[serde(rename = "i")]
            issued: i64,
        }
        macro_rules! loose_as {
            ($name:ident, $purpose:expr) => {
                #[derive(Serialize, Deserialize)]
                struct $name(Loose);
                impl Claims for $name {
                    const PURPOSE: Purpose = $purpose;
                    fn issued(&self) -> i64 {
                        self.0.issued
                    }
                    fn expires(&self) -> i64 {
                        i64::MAX
                    }
                }
            };
        }
        loose_as!(AsAction, Purpose::Action);
        loose_as!(AsCall, Purpose::CallAnswer);
        loose_as!(AsFeed, Purpose::Feed);
        loose_as!(AsSignIn, Purpose::SignIn);
        let signer = LinkSigner::new(b"secret", None);
        let tokens = [
            signer.sign(&AsAction(Loose { issued: 1 })),
            signer.sign(&AsCall(Loose { issued: 1 })),
            signer.sign(&AsFeed(Loose { issued: 1 })),
            signer.sign(&AsSignIn(Loose { issued: 1 })),
        ];
        let verdicts = |token: &str| {
            [
                signer.verify::<AsAction>(token, at(2)).is_ok(),
                signer.verify::<AsCall>(token, at(2)).is_ok(),
                signer.verify::<AsFeed>(token, at(2)).is_ok(),
                signer.verify::<AsSignIn>(token, at(2)).is_ok(),
            ]
        };
        for (made_for, token) in tokens.iter().enumerate() {
            let accepted = verdicts(token);
            for (purpose, ok) in accepted.iter().enumerate() {
                assert_eq!(*ok, purpose == made_for, "made for {made_for}, checked for {purpose}");
            }
        }
        assert_eq!(
            signer.verify::<AsCall>(&tokens[0], at(2)).err(),
            Some(LinkError::Forged)
        );
    }

    fn claims() -> LinkClaims {
        LinkClaims {
            occurrence_id: 7,
            person: "magnus.berg".into(),
            action: Action::Acknowledge,
            issued: 1_000,
            expires: 2_000,
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_genuine_link_verifies_until_it_expires() {
        let signer = LinkSigner::new(b"secret", None);
        let token = signer.sign(&claims());
        assert_eq!(signer.verify::<LinkClaims>(&token, at(1_999)), Ok(claims()));
        assert_eq!(signer.verify::<LinkClaims>(&token, at(2_000)), Err(LinkError::Expired));
    }

    #[test]
    fn forged_tampered_and_revoked_links_are_refused() {
        let signer = LinkSigner::new(b"secret", None);
        let other = LinkSigner::new(b"another secret", None);
        assert_eq!(
            other.verify::<LinkClaims>(&signer.sign(&claims()), at(1_500)),
            Err(LinkError::Forged)
        );

        let token = signer.sign(&claims());
        let (signed, tag) = token.rsplit_once('.').unwrap();
        let (_, payload) = signed.split_once('.').unwrap();
        let mut evil = claims();
        evil.action = Action::Waive;
        let evil_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap());
        assert_eq!(
            signer.verify::<LinkClaims>(&token.replace(payload, &evil_payload), at(1_500)),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.verify::<LinkClaims>(&format!("{signed}.{}", &tag[1..]), at(1_500)),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.verify::<LinkClaims>("hello", at(1_500)),
            Err(LinkError::Malformed)
        );
        assert_eq!(
            signer.verify::<LinkClaims>(&token.replacen("v2", "v1", 1), at(1_500)),
            Err(LinkError::Malformed)
        );

        let revoking = LinkSigner::new(b"secret", Some(at(1_200)));
        assert_eq!(
            revoking.verify::<LinkClaims>(&token, at(1_500)),
            Err(LinkError::Revoked)
        );
    }
}
