//! Email through lettre: SMTP (plain, STARTTLS or TLS, as the URL says; with a password or an
//! OAuth token) or, by default, files under `var/outbox-mail/` so a new installation shows real
//! messages without a mail server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MessageBuilder, MultiPart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::oauth::MailTokens;
use super::{Notifier, Outgoing, Receipt, Recipient, SendError};
use crate::settings::{EmailSettings, EmailTransport, Secret};

/// Sends messages as email.
pub struct EmailNotifier {
    transport: Transport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The domain of Message-IDs, taken from the sender address.
    domain: String,
    /// The tokens of `[email.oauth2]`, shared with the IMAP poller.
    tokens: Option<Arc<MailTokens>>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    SmtpOAuth(OAuthSmtp),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// SMTP authenticating with the tokens of `[email.oauth2]`: the transport (and its pool) of
/// the current token.
struct OAuthSmtp {
    settings: Box<EmailSettings>,
    tokens: Arc<MailTokens>,
    current: Mutex<Option<(Secret, AsyncSmtpTransport<Tokio1Executor>)>>,
}

impl OAuthSmtp {
    /// Sends `email` with the current token; a token the server refuses is fetched anew once,
    /// and a second refusal is left to be retried later.
    async fn send(&self, email: Message) -> Result<(), SendError> {
        let token = self
            .tokens
            .token()
            .await
            .map_err(|e| SendError::retryable(e.to_string()))?;
        match self.transport_for(&token)?.send(email.clone()).await {
            Err(error) if token_refused(&error) => {
                tracing::info!(error = %error, "the SMTP server refused the mail token; fetching a new one");
                let token = self
                    .tokens
                    .renewed(&token)
                    .await
                    .map_err(|e| SendError::retryable(e.to_string()))?;
                self.transport_for(&token)?
                    .send(email)
                    .await
                    .map(drop)
                    .map_err(|error| {
                        if token_refused(&error) {
                            SendError::retryable(format!("SMTP refused a new token too: {error}"))
                        } else {
                            classify_smtp(&error)
                        }
                    })
            }
            sent => sent.map(drop).map_err(|e| classify_smtp(&e)),
        }
    }

    /// The transport that signs in with `token`: the kept one, or a new one (and its pool).
    fn transport_for(&self, token: &Secret) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, transport)) = current.as_ref().filter(|(kept, _)| kept.expose() == token.expose()) {
            return Ok(transport.clone());
        }
        let user = self
            .settings
            .smtp_oauth_user()
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let credentials = Credentials::new(user, token.expose().to_owned());
        let transport =
            smtp_transport(&self.settings, Some(credentials)).map_err(|e| SendError::permanent(e.to_string()))?;
        *current = Some((token.clone(), transport.clone()));
        Ok(transport)
    }
}

impl EmailNotifier {
    /// Builds the transport the settings name.
    pub fn new(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("email.from: \"{}\" is not an address: {e}", settings.from))?;
        let reply_to = match settings.reply_to.as_deref().filter(|r| !r.is_empty()) {
            Some(reply_to) => Some(
                reply_to
                    .parse()
                    .map_err(|e| anyhow::anyhow!("email.reply_to: \"{reply_to}\" is not an address: {e}"))?,
            ),
            None => None,
        };
        let tokens = MailTokens::new(&settings.oauth2, settings.timeout_seconds)?.map(Arc::new);
        let transport = match settings.transport {
            EmailTransport::File => {
                std::fs::create_dir_all(&settings.file_dir).map_err(|e| {
                    anyhow::anyhow!("email.file_dir: cannot create {}: {e}", settings.file_dir.display())
                })?;
                Transport::File(AsyncFileTransport::new(&settings.file_dir))
            }
            EmailTransport::Smtp => match &tokens {
                Some(tokens) => {
                    // The URL's user and TLS checked now, not at the first send.
                    settings.smtp_oauth_user()?;
                    smtp_transport(settings, None)?;
                    Transport::SmtpOAuth(OAuthSmtp {
                        settings: Box::new(settings.clone()),
                        tokens: Arc::clone(tokens),
                        current: Mutex::new(None),
                    })
                }
                None => {
                    settings.check_smtp_url()?;
                    Transport::Smtp(smtp_transport(settings, None)?)
                }
            },
        };
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport,
            from,
            reply_to,
            domain,
            tokens,
        })
    }

    /// The tokens of `[email.oauth2]`, when it is set.
    pub fn tokens(&self) -> Option<&Arc<MailTokens>> {
        self.tokens.as_ref()
    }

    fn build(&self, message: &Outgoing) -> Result<Message, SendError> {
        let keys: Vec<&str> = message.items.iter().map(|i| i.idempotency_key.as_str()).collect();
        let tokens = message.tokens.as_ref();
        let mut builder = self
            .headers(
                &message.recipient.name,
                &message.recipient.email,
                &message.rendered.subject,
                message.auto_reply,
            )?
            .message_id(Some(self.message_id(tokens.map(|t| t.reply.as_str()))))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Arshjul-Deliveries"),
                keys.join(" "),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Id"),
                self.list_id(&keys),
            ));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(plus_address(reply_to, tokens.map(|t| t.reply.as_str())));
        }
        if let Some(token) = tokens.map(|t| t.bounce.as_str()) {
            // VERP: the mail server returns an undeliverable message to an address that names
            // the delivery with its own signed token, so only a genuine bounce can mark it dead.
            let base = self.reply_to.as_ref().unwrap_or(&self.from);
            let to = builder_recipient(&message.recipient.name, &message.recipient.email)?;
            let envelope = Envelope::new(Some(plus_address(base, Some(token)).email), vec![to.email])
                .map_err(|e| SendError::permanent(format!("cannot build the envelope: {e}")))?;
            builder = builder.envelope(envelope);
        }
        if let Some(id) = &message.in_reply_to {
            let mut references = message.thread.clone();
            references.push(id.clone());
            builder = builder.in_reply_to(id.clone()).references(references.join(" "));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                message.rendered.text.clone(),
                message.rendered.html.clone(),
            ))
            .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))
    }

    /// A Message-ID that cannot be guessed: a delivery's reply token, which a reply quoting
    /// it proves, or random bytes for a message no one answers into the record.
    fn message_id(&self, reply_token: Option<&str>) -> String {
        let local = reply_token.map_or_else(
            || {
                let mut bytes = [0u8; 16];
                // The system's random source does not fail on the platforms arshjul runs on;
                // zeros would still make a valid, if guessable, id.
                let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
                crate::domain::tokens::hex(&bytes)
            },
            |token| format!("{MESSAGE_ID_PREFIX}{token}"),
        );
        format!("<{local}@{}>", self.domain)
    }

    /// The list a message belongs to (RFC 2919), for people's mail filters: the EU funding
    /// calls, or the calendar's reminders and notices.
    fn list_id(&self, keys: &[&str]) -> String {
        let calls = !keys.is_empty() && keys.iter().all(|key| key.starts_with("call-"));
        let (name, list) = if calls {
            ("EU funding calls", "eu-calls")
        } else {
            ("Governance calendar", "reminders")
        };
        format!("{name} <{list}.arshjul.{}>", self.domain)
    }

    /// From, To, Subject and the headers that keep auto-responders quiet (RFC 3834: an
    /// answer to a person is `auto-replied`, everything else `auto-generated`).
    fn headers(&self, name: &str, email: &str, subject: &str, auto_reply: bool) -> Result<MessageBuilder, SendError> {
        let generated = if auto_reply { "auto-replied" } else { "auto-generated" };
        Ok(Message::builder()
            .from(self.from.clone())
            .to(builder_recipient(name, email)?)
            .subject(subject)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                generated.into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            )))
    }

    /// Sends a message that is no delivery of the outbox (a sign-in link) at once.
    pub async fn send_direct(
        &self,
        to: &Recipient,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<(), SendError> {
        let email = self
            .headers(&to.name, &to.email, subject, false)?
            .message_id(Some(self.message_id(None)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
        self.deliver(email).await
    }

    async fn deliver(&self, email: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(email).await.map_err(|e| classify_smtp(&e)).map(drop),
            Transport::SmtpOAuth(smtp) => smtp.send(email).await,
            Transport::File(file) => file
                .send(email)
                .await
                .map_err(|e| SendError::retryable(format!("writing the mail file: {e}")))
                .map(drop),
        }
    }
}

/// The SMTP transport of `email.smtp_url`, its timeout and TLS; with `token`, authenticating
/// by XOAUTH2 with it (the URL then names only the user).
fn smtp_transport(
    settings: &EmailSettings,
    token: Option<Credentials>,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.smtp_url.expose())
        .map_err(|e| anyhow::anyhow!("email.smtp_url: not a valid SMTP URL: {e}"))?
        .timeout(Some(Duration::from_secs(settings.timeout_seconds)));
    if let Some(tls) = tls_with_extra_roots(settings)? {
        transport = transport.tls(tls);
    }
    if let Some(credentials) = token {
        transport = transport
            .credentials(credentials)
            .authentication(vec![Mechanism::Xoauth2]);
    }
    Ok(transport.build())
}

/// Whether the server refused the token: 535 (authentication failed), as Exchange Online
/// answers a token that expired, was revoked or lacks the mailbox's permission.
fn token_refused(error: &SmtpError) -> bool {
    error.status().is_some_and(|code| code.to_string() == "535")
}

/// How a Message-ID that carries a reply token begins: `<r.TOKEN@domain>`.
pub const MESSAGE_ID_PREFIX: &str = "r.";

/// `user+TOKEN@domain` of `base`, so that a reply or a bounce names its delivery even when
/// the mail program drops In-Reply-To; `base` itself without a token.
/// The TLS of `email.smtp_url` (implicit for `smtps://`, STARTTLS for `?tls=required` or
/// `opportunistic`) trusting `email.ca_file` beside the public roots; `None` when no CA file
/// is set or the URL asks for no TLS, leaving lettre's own choice from the URL.
fn tls_with_extra_roots(settings: &EmailSettings) -> anyhow::Result<Option<Tls>> {
    let roots = settings.extra_roots()?;
    let url = url::Url::parse(settings.smtp_url.expose())?;
    let tls = url.query_pairs().find(|(key, _)| key == "tls").map(|(_, value)| value);
    let mode: fn(TlsParameters) -> Tls = match (url.scheme(), tls.as_deref()) {
        _ if roots.is_empty() => return Ok(None),
        ("smtps", _) => Tls::Wrapper,
        (_, Some("required")) => Tls::Required,
        (_, Some("opportunistic")) => Tls::Opportunistic,
        _ => return Ok(None),
    };
    let parameters = roots
        .into_iter()
        .try_fold(
            TlsParameters::builder(url.host_str().unwrap_or_default().to_owned()),
            |builder, root| {
                Ok::<_, lettre::transport::smtp::Error>(
                    builder.add_root_certificate(Certificate::from_der(root.to_vec())?),
                )
            },
        )
        .and_then(|builder| builder.build())
        .map_err(|e| anyhow::anyhow!("email.ca_file: {}: {e}", settings.ca_file.display()))?;
    Ok(Some(mode(parameters)))
}

fn plus_address(base: &Mailbox, token: Option<&str>) -> Mailbox {
    let Some(token) = token else {
        return base.clone();
    };
    let address = format!("{}+{token}@{}", base.email.user(), base.email.domain());
    address
        .parse()
        .map_or_else(|_| base.clone(), |email| Mailbox::new(base.name.clone(), email))
}

/// The recipient's mailbox, with their name when it makes a valid one.
fn builder_recipient(name: &str, email: &str) -> Result<Mailbox, SendError> {
    format!("{name} <{email}>")
        .parse()
        .or_else(|_| email.parse())
        .map_err(|e| SendError::permanent(format!("invalid address \"{email}\": {e}")))
}

impl Notifier for EmailNotifier {
    async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let email = self.build(message)?;
        let provider_id = email.headers().get_raw("Message-ID").map(str::to_owned);
        self.deliver(email).await?;
        Ok(Receipt {
            provider_id,
            destination: None,
        })
    }
}

/// SMTP 5xx answers are permanent; everything else (4xx, refused connections, timeouts) passes.
fn classify_smtp(error: &SmtpError) -> SendError {
    if error.is_permanent() {
        SendError::permanent(format!("SMTP: {error}"))
    } else {
        SendError::retryable(format!("SMTP: {error}"))
    }
}
