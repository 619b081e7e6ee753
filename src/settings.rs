//! Runtime settings in layers: the built-in `config/default.toml`, an optional file given
//! with `--config`, and `ARSHJUL__SECTION__KEY` environment variables. Typed at the edge;
//! secrets are wrapped so they never reach a log.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Deserialize;

use crate::domain::config::{Config, ConfigError, ConfigErrors, Directory, SourceFile};
use crate::domain::routing::{Available, Routing, Target, hook_key};
use crate::domain::templates::Templates;

/// The defaults, documented key by key in the file itself.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Everything arshjul needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub files: FilesSettings,
    pub log: LogSettings,
    pub jobs: JobsSettings,
    pub delivery: DeliverySettings,
    pub email: EmailSettings,
    pub webhook: WebhookSettings,
    pub teams: TeamsSettings,
    pub matrix: MatrixSettings,
    pub routing: RoutingSettings,
    pub links: LinksSettings,
    pub sign_in: SignInSettings,
    pub calls: CallsSettings,
    pub api: ApiSettings,
}

/// Signing in to the dashboard: with an emailed link, or through the organisation's OpenID
/// provider (Entra ID).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInSettings {
    /// Whether the sign-in page mails links; `false` leaves sign-in to `[sign_in.oidc]`.
    pub email_links: bool,
    /// Seconds between two links mailed to one person.
    pub link_interval_seconds: i64,
    /// Links mailed to one person in an hour.
    pub links_per_hour: i64,
    /// Links mailed in an hour at the request of one client address, to whomever.
    pub links_per_client_per_hour: i64,
    /// Sign-in mails being sent at once; a request beyond that sends none.
    pub max_sends_in_flight: usize,
    /// Minutes a dashboard session may go unused before it ends.
    pub session_idle_minutes: i64,
    pub oidc: OidcSettings,
}

/// Signing in through an OpenID provider; off while `issuer` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer, e.g. `https://login.microsoftonline.com/TENANT/v2.0`; its
    /// `/.well-known/openid-configuration` is read when first needed, and again hourly.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The scopes asked for; `openid` is always among them.
    pub scopes: Vec<String>,
    /// Which claim of the ID token finds the person in the directory.
    pub claim: OidcClaim,
    /// The button's text on the sign-in page, after "Logga in med" / "Sign in with".
    pub provider_name: String,
}

/// The ID token's claim that names the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OidcClaim {
    /// `email`, matched against a person's `email` (case-insensitive).
    Email,
    /// Entra's object id, matched against a person's `entra_oid` (else `teams_user_id`).
    Oid,
}

/// EU funding calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSettings {
    /// Directory channels every call is posted in.
    pub network: Vec<String>,
    /// The local time ("HH:MM") the EU contact persons get the day's calls, in one message.
    pub digest_time: String,
}

/// The HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Bearer tokens by name.
    #[serde(default)]
    pub tokens: BTreeMap<String, ApiToken>,
}

/// One bearer token of the API: who it acts as, and the SHA-256 of the token (hex) — the
/// token itself is not kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub person: String,
    pub sha256: String,
}

/// How deliveries are planned, claimed and retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Cron expression (with seconds, UTC) for the planner.
    pub plan: String,
    pub batch_size: usize,
    /// Dispatch loops in this process; one records while another sends.
    pub workers: usize,
    pub concurrency: usize,
    pub lease_seconds: u64,
    pub max_attempts: u32,
    pub backoff_seconds: u64,
    pub backoff_max_seconds: u64,
    pub poll_milliseconds: u64,
}

/// Which steps go out on which channels; see [`Routing`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    pub reminders: Vec<String>,
    pub escalations: Vec<String>,
    pub acknowledgements: Vec<String>,
    pub announcements: Vec<String>,
    pub fallback_to_email_after: u32,
}

/// Microsoft Teams: incoming webhooks by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    pub timeout_seconds: u64,
    /// The security token Teams shows for an outgoing webhook (base64); empty: no endpoint.
    pub outgoing_secret: Secret,
    #[serde(default)]
    pub webhooks: BTreeMap<String, TeamsWebhook>,
}

/// One Teams incoming webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsWebhook {
    /// The Workflows (or legacy connector) URL; it carries its own signature, so a secret.
    pub url: Secret,
    #[serde(default)]
    pub format: CardFormat,
}

/// The card a Teams webhook takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardFormat {
    /// An Adaptive Card in a message envelope, for Power Automate Workflows webhooks.
    #[default]
    AdaptiveCard,
    /// A MessageCard, for the retired Office 365 connectors some tenants still run.
    MessageCard,
}

/// Matrix: a bot account, and webhooks (matrix-hookshot) by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSettings {
    /// Empty: no bot.
    pub homeserver_url: String,
    pub access_token: Secret,
    pub user: String,
    pub password: Secret,
    pub device_id: String,
    pub timeout_seconds: u64,
    #[serde(default)]
    pub webhooks: BTreeMap<String, MatrixWebhook>,
}

/// One Matrix webhook that posts into a room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixWebhook {
    pub url: Secret,
}

/// The email channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub transport: EmailTransport,
    pub file_dir: PathBuf,
    pub smtp_url: Secret,
    pub from: String,
    pub reply_to: Option<String>,
    pub timeout_seconds: u64,
    /// Where replies are fetched from: `imap://` or `imaps://USER:PASSWORD@HOST:PORT`; empty: no poller.
    pub imap_url: Secret,
    /// The folder replies arrive in.
    pub imap_folder: String,
    /// The folder processed mail is moved to (created when missing).
    pub imap_processed_folder: String,
    /// Seconds between polls.
    pub imap_interval_seconds: u64,
    /// The largest inbound mail taken in (mailgate and IMAP); a larger one is refused unread.
    pub max_message_bytes: usize,
    /// A PEM file of certificate authorities trusted for SMTP and IMAP over TLS beside the
    /// public roots (an internal authority's); empty: the public roots only.
    pub ca_file: PathBuf,
    /// The `authserv-id` of the municipality's own mail server: its `Authentication-Results`
    /// header vouches for a sender (`dmarc=pass`, or an aligned `dkim=pass`). Empty: only
    /// replies carrying a delivery's signed token count.
    pub trusted_authserv_id: String,
    /// OAuth 2.0 instead of passwords for SMTP and IMAP (Exchange Online).
    pub oauth2: MailOAuthSettings,
}

/// The client-credentials grant whose tokens SMTP and IMAP present (SASL XOAUTH2) as the user
/// of `email.smtp_url` and `email.imap_url`; off while `token_url` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailOAuthSettings {
    /// The provider's token endpoint, e.g.
    /// `https://login.microsoftonline.com/TENANT/oauth2/v2.0/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// For Exchange Online `https://outlook.office365.com/.default`.
    pub scope: String,
}

/// How email leaves arshjul.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTransport {
    /// `.eml` files in a directory.
    File,
    /// An SMTP server.
    Smtp,
}

/// The generic signed webhook channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: Secret,
    pub secret: Secret,
    pub timeout_seconds: u64,
}

/// Signed links in messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksSettings {
    pub base_url: String,
    pub secret: Secret,
    pub valid_days: u32,
    pub revoked_before: String,
}

impl TeamsSettings {
    /// The key that signs the Teams outgoing webhook's requests, when `teams.outgoing_secret`
    /// is set; an error names the key when it is not the base64 token Teams showed.
    pub fn outgoing_key(&self) -> anyhow::Result<Option<ring::hmac::Key>> {
        use base64::Engine as _;
        match self.outgoing_secret.expose().trim() {
            "" => Ok(None),
            secret => {
                let key = base64::engine::general_purpose::STANDARD
                    .decode(secret)
                    .map_err(|_| anyhow::anyhow!("teams.outgoing_secret: not the base64 token Teams showed"))?;
                Ok(Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key)))
            }
        }
    }
}

impl ApiSettings {
    /// The API's bearer tokens as SHA-256 (lowercase hex) → the person they act as; an error
    /// names the token whose hash is malformed or whose person is not in `directory`.
    pub fn token_table(&self, directory: &Directory) -> anyhow::Result<BTreeMap<String, String>> {
        self.tokens
            .iter()
            .map(|(name, token)| {
                let hash = token.sha256.trim().to_ascii_lowercase();
                anyhow::ensure!(
                    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                    "api.tokens.{name}.sha256: not a SHA-256 in hex (64 characters 0-9a-f)"
                );
                anyhow::ensure!(
                    directory.person_named(&token.person).is_some(),
                    "api.tokens.{name}.person: \"{}\" is not in the directory",
                    token.person
                );
                Ok((hash, token.person.clone()))
            })
            .collect()
    }
}

/// Where and as whom to fetch mail by IMAP, read from `email.imap_url`.
pub struct ImapAccount {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    /// The authorities of `email.ca_file`, trusted beside the public roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// Refuses a password in `url` (the setting `key`) that would cross the network unencrypted:
/// `tls` says whether the connection is encrypted; a server on loopback may take it plain.
pub fn refuse_plaintext_credentials(key: &str, url: &url::Url, tls: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        tls || url.password().is_none() || is_loopback(url),
        "{key}: a password to {} over a connection without TLS; use {} or a server on loopback",
        url.host_str().unwrap_or_default(),
        tls_schemes(key)
    );
    Ok(())
}

/// The URLs with TLS for the mail setting `key`, for its refusals.
fn tls_schemes(key: &str) -> &'static str {
    if key.contains("imap") {
        "imaps://"
    } else {
        "smtps:// or smtp://…?tls=required"
    }
}

/// Whether `email.smtp_url` asks for TLS: lettre's `smtps://`, or `smtp://` with `?tls=required`.
fn smtp_tls(url: &url::Url) -> bool {
    url.scheme() == "smtps"
        || url
            .query_pairs()
            .any(|(key, value)| key == "tls" && value == "required")
}

/// The user of `url` (the setting `key`) that a token of `[email.oauth2]` signs in as: a user
/// and no password, and the token never over a connection without TLS beyond this machine.
fn oauth_user(key: &str, url: &url::Url, tls: bool) -> anyhow::Result<String> {
    let example = format!(
        "{}://arshjul%40kommun.se@{}",
        url.scheme(),
        url.host_str().unwrap_or("HOST")
    );
    anyhow::ensure!(
        url.password().is_none(),
        "{key}: email.oauth2 is set, so the URL names the mailbox's user only ({example}); remove the password"
    );
    anyhow::ensure!(
        !url.username().is_empty(),
        "{key}: email.oauth2 is set, so the URL must name the mailbox's user ({example})"
    );
    anyhow::ensure!(
        tls || is_loopback(url),
        "{key}: the token would cross the network to {} without TLS; use {}",
        url.host_str().unwrap_or_default(),
        tls_schemes(key)
    );
    decoded(key, url.username())
}

/// `text` of the URL in the setting `key`, percent-decoded.
fn decoded(key: &str, text: &str) -> anyhow::Result<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| anyhow::anyhow!("{key}: bad percent-encoding"))
}

/// Whether `url` names a server on this machine: a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    // In a URL of a scheme the URL standard does not know (smtp, imap, postgres) an address
    // is a name.
    match url.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl EmailSettings {
    /// Checks `email.smtp_url` for credentials that would cross the network unencrypted
    /// (lettre's `smtps://` is TLS, `smtp://` only with `?tls=required`).
    pub fn check_smtp_url(&self) -> anyhow::Result<()> {
        let url = self.parsed_smtp_url()?;
        refuse_plaintext_credentials("email.smtp_url", &url, smtp_tls(&url))
    }

    fn parsed_smtp_url(&self) -> anyhow::Result<url::Url> {
        url::Url::parse(self.smtp_url.expose()).map_err(|_| anyhow::anyhow!("email.smtp_url: not a valid URL"))
    }

    /// Whether SMTP and IMAP authenticate with tokens of `[email.oauth2]`.
    pub fn uses_oauth(&self) -> bool {
        !self.oauth2.token_url.is_empty()
    }

    /// The mailbox's user in `email.smtp_url` that the token of `[email.oauth2]` signs in as.
    pub fn smtp_oauth_user(&self) -> anyhow::Result<String> {
        let url = self.parsed_smtp_url()?;
        oauth_user("email.smtp_url", &url, smtp_tls(&url))
    }

    /// The IMAP account `email.imap_url` names, `None` when it is empty. The URL holds a
    /// password, so errors name the key only.
    pub fn imap_account(&self) -> anyhow::Result<Option<ImapAccount>> {
        let url = match self.imap_url.expose() {
            "" => return Ok(None),
            url => reqwest::Url::parse(url).map_err(|_| anyhow::anyhow!("email.imap_url: not a valid URL"))?,
        };
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            _ => anyhow::bail!("email.imap_url: must start with imaps:// or imap://"),
        };
        refuse_plaintext_credentials("email.imap_url", &url, tls)?;
        if self.uses_oauth() {
            oauth_user("email.imap_url", &url, tls)?;
        }
        let decode = |text: &str| decoded("email.imap_url", text);
        Ok(Some(ImapAccount {
            tls,
            host: url
                .host_str()
                .ok_or_else(|| anyhow::anyhow!("email.imap_url: no host"))?
                .to_owned(),
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            user: decode(url.username())?,
            password: Secret::new(decode(url.password().unwrap_or_default())?),
            extra_roots: self.extra_roots()?,
        }))
    }

    /// The certificates in `email.ca_file`, trusted for SMTP and IMAP beside the public roots;
    /// none when it is not set. A file that cannot be read or holds no certificate is refused.
    pub fn extra_roots(&self) -> anyhow::Result<Vec<CertificateDer<'static>>> {
        if self.ca_file.as_os_str().is_empty() {
            return Ok(Vec::new());
        }
        let file = self.ca_file.display();
        let roots = CertificateDer::pem_file_iter(&self.ca_file)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|e| anyhow::anyhow!("email.ca_file: {file}: {e}"))?;
        anyhow::ensure!(!roots.is_empty(), "email.ca_file: {file}: no PEM certificate in it");
        Ok(roots)
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// How long a connection may take to send a request's head.
    pub header_read_timeout_seconds: u64,
    /// How long a request may take to be read and answered.
    pub request_timeout_seconds: u64,
    /// Connections open at once; more wait until one closes.
    pub max_connections: usize,
    /// The bearer token `/metrics` asks for; empty: it answers anyone.
    pub metrics_token: Secret,
    /// The request header a reverse proxy puts the client's address in (its last entry
    /// counts); empty: the connection's peer is the client.
    pub client_address_header: String,
    /// Requests a minute one client may make to the public endpoints that do work.
    pub requests_per_minute_per_client: u32,
}

impl ServerSettings {
    /// The SHA-256 (lowercase hex) of `server.metrics_token`, when one is set.
    pub fn metrics_token_sha256(&self) -> Option<String> {
        let token = self.metrics_token.expose().trim();
        (!token.is_empty()).then(|| crate::domain::tokens::sha256_hex(token.as_bytes()))
    }

    /// `host:port`, ready for binding.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The database connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; may hold a password.
    pub url: Secret,
    pub max_connections: u32,
}

/// Where the municipality's own configuration lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSettings {
    pub directory: PathBuf,
    pub calendar: PathBuf,
    /// Message templates that replace the built-in ones; empty: none.
    pub templates: PathBuf,
}

impl FilesSettings {
    /// Reads and validates the directory, the calendar and the templates that replace the
    /// built-in ones.
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: path.display().to_string(),
                line: None,
                key: String::new(),
                reason: format!("cannot be read: {e}"),
            })
        };
        match (read(&self.directory), read(&self.calendar)) {
            (Ok(directory), Ok(calendar)) => {
                let (directory_name, calendar_name) = (
                    self.directory.display().to_string(),
                    self.calendar.display().to_string(),
                );
                let mut config = Config::parse(
                    SourceFile {
                        name: &directory_name,
                        text: &directory,
                    },
                    SourceFile {
                        name: &calendar_name,
                        text: &calendar,
                    },
                )?;
                if !self.templates.as_os_str().is_empty() {
                    let templates = Templates::with_overrides(self.template_files()?)?;
                    config.templates = std::sync::Arc::new(templates);
                }
                Ok(config)
            }
            (directory, calendar) => Err(ConfigErrors(
                directory.err().into_iter().chain(calendar.err()).collect(),
            )),
        }
    }
}

impl FilesSettings {
    /// The files of `files.templates` as (name relative to it, path, text): those at its top
    /// and one folder down (`email/sv.txt`). A directory that cannot be read is an error.
    fn template_files(&self) -> Result<Vec<(String, String, String)>, ConfigErrors> {
        let unreadable = |path: &Path, e: std::io::Error| {
            ConfigErrors(vec![ConfigError {
                file: path.display().to_string(),
                line: None,
                key: "files.templates".to_owned(),
                reason: format!("cannot be read: {e}"),
            }])
        };
        let entries = |dir: &Path| -> Result<Vec<PathBuf>, ConfigErrors> {
            let listed = std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))?;
            let mut paths: Vec<PathBuf> = listed.filter_map(|entry| entry.ok().map(|e| e.path())).collect();
            paths.sort();
            Ok(paths)
        };
        let mut files = Vec::new();
        for path in entries(&self.templates)? {
            let inner = if path.is_dir() { entries(&path)? } else { vec![path] };
            for file in inner.into_iter().filter(|f| f.is_file()) {
                let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
                let relative = file.strip_prefix(&self.templates).unwrap_or(&file);
                let name = relative.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                files.push((name, file.display().to_string(), text));
            }
        }
        Ok(files)
    }
}

/// How logs are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Scheduled jobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// Cron expression (with seconds, UTC) for re-materialising occurrences.
    pub materialise: String,
    /// Days the inbox keeps what people sent (0: for ever); forgotten by the materialise job.
    pub inbox_retention_days: i64,
}

/// A string that must not appear in logs or error messages.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The shortest key arshjul signs with: as long as an HMAC-SHA256 output.
pub const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Refuses the signing keys that could be guessed or are missing where they are needed:
    /// a `links.secret` that is set but short (empty has one generated), and a webhook URL
    /// without a `webhook.secret` of that length. `check-config` and the daemon's start both
    /// ask.
    pub fn check_secrets(&self) -> anyhow::Result<()> {
        let short = |key: &str, secret: &Secret| {
            let length = secret.expose().len();
            (length < MIN_SECRET_BYTES).then(|| {
                format!(
                    "{key} is {length} bytes long; give at least {MIN_SECRET_BYTES} random bytes (for example \
                     `openssl rand -hex 32`)"
                )
            })
        };
        let mut problems = Vec::new();
        if !self.links.secret.expose().is_empty() {
            problems.extend(
                short("links.secret", &self.links.secret).map(|p| p + ", or leave it empty to have one generated"),
            );
        }
        if !self.webhook.url.expose().is_empty() {
            problems.extend(short("webhook.secret", &self.webhook.secret).map(|p| {
                p + ": webhook.url is set, and its receiver tells arshjul's requests from anyone's by this key"
            }));
        }
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        Ok(())
    }
}

impl DatabaseSettings {
    /// The URL with any password replaced, for display.
    pub fn redacted_url(&self) -> String {
        redacted_url(self.url.expose())
    }

    /// A warning when the connection to PostgreSQL may cross a network unencrypted: a host
    /// that is neither loopback nor a Unix socket, without `sslmode` `require`, `verify-ca`
    /// or `verify-full` (the default, `prefer`, falls back to plaintext unnoticed). For
    /// `check-config` and the daemon's log.
    pub fn unencrypted_warning(&self) -> Option<String> {
        let url = url::Url::parse(self.url.expose()).ok()?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return None;
        }
        let query = |name: &str| url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value);
        let socket = url.host_str().is_none_or(str::is_empty) || query("host").is_some_and(|h| h.starts_with('/'));
        let mode = query("sslmode").or_else(|| query("ssl-mode")).unwrap_or_default();
        let encrypted = ["require", "verify-ca", "verify-full"].contains(&mode.to_ascii_lowercase().as_str());
        (!encrypted && !socket && !is_loopback(&url)).then(|| {
            format!(
                "database.url: {} is reached over the network without sslmode=verify-full (or require); \
                 personal data, session hashes and the link secret could cross it unencrypted",
                url.host_str().unwrap_or_default()
            )
        })
    }
}

/// `url` with its password replaced by `***` and its query left out (PostgreSQL takes a
/// password there too), for display; nothing of it if it does not parse as a URL with a host
/// (its secret could be anywhere in it).
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.cannot_be_a_base() => {
            if parsed.password().is_some() {
                // Only a URL without a host refuses a password, and it was ruled out.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.set_query(None);
            parsed.to_string()
        }
        _ => "[a URL that does not parse]".to_owned(),
    }
}

/// Settings could not be loaded; the message names the file or variable and the key, and
/// for a key that is not a setting, the file and line it is on.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("{file}:{line}: settings: {error}")]
    At {
        file: String,
        line: usize,
        error: Box<config::ConfigError>,
    },
}

impl SettingsError {
    /// `error`, placed at the line of `file` that sets the unknown key it names, if it does.
    fn located(error: config::ConfigError, file: Option<&Path>) -> Self {
        let message = error.to_string();
        let key = message
            .split_once("unknown field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(key, _)| key.to_owned());
        let text = file.and_then(|f| std::fs::read_to_string(f).ok());
        let line = key.zip(text.as_deref()).and_then(|(key, text)| {
            text.lines().position(|line| {
                line.trim_start()
                    .strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        });
        match (file, line) {
            (Some(file), Some(line)) => Self::At {
                file: file.display().to_string(),
                line: line + 1,
                error: Box::new(error),
            },
            _ => Self::Invalid(error),
        }
    }
}

impl Settings {
    /// Loads the defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml).required(true));
        }
        let settings = builder
            .add_source(
                config::Environment::with_prefix("ARSHJUL")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("routing.reminders")
                    .with_list_parse_key("routing.escalations")
                    .with_list_parse_key("routing.acknowledgements")
                    .with_list_parse_key("routing.announcements")
                    .with_list_parse_key("calls.network")
                    .with_list_parse_key("sign_in.oidc.scopes"),
            )
            .build()?
            .try_deserialize()
            .map_err(|error| SettingsError::located(error, file))?;
        Ok(settings)
    }
}

impl Settings {
    /// The routing rules, with what these settings set up.
    pub fn routing(&self) -> Routing {
        let targets = |names: &[String]| names.iter().map(|n| Target::parse(n)).collect();
        Routing {
            reminders: targets(&self.routing.reminders),
            escalations: targets(&self.routing.escalations),
            acknowledgements: targets(&self.routing.acknowledgements),
            announcements: targets(&self.routing.announcements),
            network: self.calls.network.clone(),
            fallback_to_email_after: self.routing.fallback_to_email_after,
            available: Available {
                matrix_bot: !self.matrix.homeserver_url.is_empty(),
                webhook: !self.webhook.url.expose().is_empty(),
                teams_webhooks: self.teams.webhooks.keys().map(|k| hook_key(k)).collect(),
                matrix_webhooks: self.matrix.webhooks.keys().map(|k| hook_key(k)).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        let settings = DatabaseSettings {
            url: Secret("postgres://arshjul:hemligt@db:5432/arshjul".into()),
            max_connections: 1,
        };
        assert_eq!(settings.redacted_url(), "postgres://arshjul:***@db:5432/arshjul");
        assert!(!format!("{settings:?}").contains("hemligt"));
        // An `@` in the password, a password without a user, a URL that does not parse.
        assert_eq!(
            redacted_url("postgres://arshjul:p@ss@db/arshjul"),
            "postgres://arshjul:***@db/arshjul"
        );
        assert_eq!(redacted_url("postgres://:hemligt@db/a"), "postgres://:***@db/a");
        assert_eq!(redacted_url("smtp://user:p%40ss@mx:587"), "smtp://user:***@mx:587");
        for unparsable in ["arshjul:hemligt@db/arshjul", "postgres://u:hemligt@db:99999/x"] {
            assert!(!redacted_url(unparsable).contains("hemligt"), "{unparsable}");
        }
        assert_eq!(redacted_url("sqlite://var/arshjul.db"), "sqlite://var/arshjul.db");
        assert_eq!(redacted_url("postgres://u@db/a?password=hemligt"), "postgres://u@db/a");
    }

    #[test]
    fn an_unencrypted_database_over_the_network_is_warned_of() {
        let warning = |url: &str| {
            DatabaseSettings {
                url: Secret::new(url),
                max_connections: 1,
            }
            .unencrypted_warning()
        };
        for warned in [
            "postgres://arshjul:hemligt@db.kommun.se/arshjul",
            "postgres://db.kommun.se/arshjul?sslmode=prefer",
            "postgresql://10.0.0.5:5432/arshjul?sslmode=disable",
        ] {
            let text = warning(warned).unwrap_or_else(|| panic!("{warned}"));
            assert!(text.starts_with("database.url: "), "{text}");
            assert!(!text.contains("hemligt"), "{text}");
        }
        for quiet in [
            "postgres://db.kommun.se/arshjul?sslmode=verify-full&sslrootcert=/etc/arshjul/ca.pem",
            "postgres://db.kommun.se/arshjul?sslmode=REQUIRE",
            "postgres://db.kommun.se/arshjul?ssl-mode=verify-ca",
            "postgres://127.0.0.1:5432/arshjul",
            "postgres://[::1]/arshjul",
            "postgres://localhost/arshjul",
            "postgres:///arshjul?host=/run/postgresql",
            "sqlite://var/arshjul.db",
        ] {
            assert_eq!(warning(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn passwords_never_cross_the_network_unencrypted() {
        let mut email = Settings::load(None).expect("defaults load").email;
        let smtp = |email: &mut EmailSettings, url: &str| {
            email.smtp_url = Secret::new(url);
            email.check_smtp_url()
        };
        for refused in [
            "smtp://arshjul:hemligt@mail.example.org:587",
            "smtp://a:b@mail.example.org?tls=opportunistic",
        ] {
            let error = smtp(&mut email, refused).unwrap_err().to_string();
            assert!(
                error.contains("email.smtp_url: a password to mail.example.org over a connection without TLS"),
                "{error}"
            );
            assert!(!error.contains("hemligt"));
        }
        for allowed in [
            "smtp://arshjul:hemligt@mail.example.org:587?tls=required",
            "smtps://arshjul:hemligt@mail.example.org:465",
            "smtp://arshjul:hemligt@127.0.0.1:25",
            "smtp://arshjul:hemligt@localhost:25",
            "smtp://mail.example.org:25",
        ] {
            smtp(&mut email, allowed).unwrap_or_else(|e| panic!("{allowed}: {e}"));
        }
        let imap = |email: &mut EmailSettings, url: &str| {
            email.imap_url = Secret::new(url);
            email.imap_account().map(drop)
        };
        assert!(imap(&mut email, "imap://arshjul:hemligt@mail.example.org").is_err());
        for allowed in [
            "imaps://arshjul:hemligt@mail.example.org",
            "imap://arshjul:hemligt@[::1]:143",
        ] {
            imap(&mut email, allowed).unwrap_or_else(|e| panic!("{allowed}: {e}"));
        }
    }

    #[test]
    fn with_oauth_the_mail_urls_name_a_user_and_no_password_and_keep_the_token_on_tls() {
        let mut email = Settings::load(None).expect("defaults load").email;
        email.oauth2.token_url = "https://login.example.org/token".into();
        let smtp = |email: &mut EmailSettings, url: &str| {
            email.smtp_url = Secret::new(url);
            email.smtp_oauth_user()
        };
        for (refused, reason) in [
            (
                "smtp://arshjul%40kommun.se:hemligt@smtp.example.org:587?tls=required",
                "email.smtp_url: email.oauth2 is set, so the URL names the mailbox's user only",
            ),
            (
                "smtps://smtp.example.org:465",
                "email.smtp_url: email.oauth2 is set, so the URL must name the mailbox's user",
            ),
            (
                "smtp://arshjul%40kommun.se@smtp.example.org:587",
                "email.smtp_url: the token would cross the network to smtp.example.org without TLS",
            ),
        ] {
            let error = smtp(&mut email, refused).unwrap_err().to_string();
            assert!(error.contains(reason), "{refused}: {error}");
            assert!(!error.contains("hemligt"));
        }
        assert_eq!(
            smtp(
                &mut email,
                "smtp://arshjul%40kommun.se@smtp.example.org:587?tls=required"
            )
            .unwrap(),
            "arshjul@kommun.se"
        );
        email.imap_url = Secret::new("imaps://arshjul%40kommun.se:hemligt@imap.example.org");
        let error = email.imap_account().map(drop).unwrap_err().to_string();
        assert!(error.contains("email.imap_url: email.oauth2 is set"), "{error}");
        email.imap_url = Secret::new("imaps://arshjul%40kommun.se@imap.example.org");
        assert_eq!(email.imap_account().unwrap().unwrap().user, "arshjul@kommun.se");
    }

    #[test]
    fn short_or_missing_signing_keys_are_refused() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.check_secrets().expect("an empty links.secret is generated");
        settings.links.secret = Secret::new("kort");
        settings.webhook.url = Secret::new("https://hooks.example.org/arshjul");
        let error = settings.check_secrets().unwrap_err().to_string();
        assert!(error.contains("links.secret is 4 bytes long"), "{error}");
        assert!(error.contains("webhook.secret is 0 bytes long"), "{error}");
        settings.links.secret = Secret::new("x".repeat(MIN_SECRET_BYTES));
        settings.webhook.secret = Secret::new("y".repeat(MIN_SECRET_BYTES));
        settings.check_secrets().expect("long enough");
    }

    #[test]
    fn defaults_alone_are_complete() {
        let settings = Settings::load(None).expect("defaults load");
        assert_eq!(settings.server.address(), "127.0.0.1:8080");
        assert_eq!(settings.database.url.expose(), "sqlite://var/arshjul.db");
    }
}
