//! The IMAP poller: every `email.imap_interval_seconds` it fetches the mail in
//! `email.imap_folder`, hands each message to the email path (as `mailgate` does), answers the
//! sender, and moves the message to `email.imap_processed_folder`. A message is moved only
//! after it is taken in, so a crash in between at worst reads it again, which the inbox absorbs.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::email::{Received, answer, receive};
use crate::outbox::Notifiers;
use crate::settings::EmailSettings;
use crate::startup::Shared;

/// Where and as whom to poll, read from `email.imap_url`.
struct Account {
    tls: bool,
    host: String,
    port: u16,
    user: String,
    password: String,
}

impl Account {
    fn parse(url: &str) -> anyhow::Result<Self> {
        // The URL holds a password: errors name the key only.
        let url = reqwest::Url::parse(url).map_err(|_| anyhow::anyhow!("email.imap_url: not a valid URL"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            _ => anyhow::bail!("email.imap_url: must start with imaps:// or imap://"),
        };
        let decode =
            |text: &str| percent_decode(text).ok_or_else(|| anyhow::anyhow!("email.imap_url: bad percent-encoding"));
        Ok(Self {
            tls,
            host: url.host_str().context("email.imap_url: no host")?.to_owned(),
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            user: decode(url.username())?,
            password: decode(url.password().unwrap_or_default())?,
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks `email.imap_url` without connecting.
pub fn check(settings: &EmailSettings) -> anyhow::Result<()> {
    match settings.imap_url.expose() {
        "" => Ok(()),
        url => Account::parse(url).map(drop),
    }
}

/// Polls until `shutdown`; a failed poll is logged and tried again at the next interval.
pub async fn poll_until_stopped(
    shared: Arc<Shared>,
    notifiers: Arc<Notifiers>,
    settings: EmailSettings,
    shutdown: CancellationToken,
) {
    let interval = Duration::from_secs(settings.imap_interval_seconds.max(1));
    while !shutdown.is_cancelled() {
        match poll_once(&shared, &notifiers, &settings).await {
            Ok(0) => {}
            Ok(taken) => tracing::info!(taken, "mail fetched by IMAP"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "polling IMAP failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// One poll: takes in every message in the folder and moves it away. Returns how many.
pub async fn poll_once(shared: &Arc<Shared>, notifiers: &Notifiers, settings: &EmailSettings) -> anyhow::Result<usize> {
    let account = Account::parse(settings.imap_url.expose())?;
    let tcp = tokio::net::TcpStream::connect((account.host.as_str(), account.port))
        .await
        .with_context(|| format!("connecting to the IMAP server {}:{}", account.host, account.port))?;
    if account.tls {
        let roots = tokio_rustls::rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(account.host.clone())
            .context("email.imap_url: the host is not a valid TLS name")?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .context("TLS with the IMAP server")?;
        poll_stream(shared, notifiers, settings, &account, tls).await
    } else {
        poll_stream(shared, notifiers, settings, &account, tcp).await
    }
}

async fn poll_stream<T: AsyncRead + AsyncWrite + Unpin + Debug + Send>(
    shared: &Arc<Shared>,
    notifiers: &Notifiers,
    settings: &EmailSettings,
    account: &Account,
    stream: T,
) -> anyhow::Result<usize> {
    let mut client = async_imap::Client::new(stream);
    client.read_response().await.context("reading the IMAP greeting")?;
    let mut session = client
        .login(&account.user, &account.password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("IMAP login as {} failed: {e}", account.user))?;
    session
        .select(&settings.imap_folder)
        .await
        .with_context(|| format!("selecting the IMAP folder {}", settings.imap_folder))?;
    let uids = session.uid_search("ALL").await.context("listing the IMAP folder")?;
    if uids.is_empty() {
        session.logout().await.ok();
        return Ok(0);
    }
    // Creating a folder that exists fails harmlessly.
    let _ = session.create(&settings.imap_processed_folder).await;
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    let mut taken = 0;
    for uid in uids {
        let raw = {
            let messages: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .context("fetching a message")?
                .try_collect()
                .await
                .context("fetching a message")?;
            messages.first().and_then(|m| m.body()).map(<[u8]>::to_vec)
        };
        if let Some(raw) = raw {
            let received = receive(shared, &raw).await?;
            if let Received::Reply(Some(handled)) = &received
                && let Err(error) = answer(shared, notifiers, &raw, &handled.text).await
            {
                tracing::warn!(%error, "cannot answer a mail reply");
            }
            taken += 1;
        }
        session
            .uid_mv(uid.to_string(), &settings.imap_processed_folder)
            .await
            .context("moving a processed message")?;
    }
    session.logout().await.ok();
    Ok(taken)
}
