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

use super::email::{Received, answer, receive, refused_for_size};
use crate::app::App;
use crate::settings::{EmailSettings, ImapAccount};

/// Polls until `shutdown`; a failed poll is logged and tried again at the next interval.
pub async fn poll_until_stopped(app: Arc<App>, settings: EmailSettings, shutdown: CancellationToken) {
    let interval = Duration::from_secs(settings.imap_interval_seconds.max(1));
    while !shutdown.is_cancelled() {
        match poll_once(&app, &settings).await {
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
pub async fn poll_once(app: &Arc<App>, settings: &EmailSettings) -> anyhow::Result<usize> {
    let account = settings.imap_account()?.context("email.imap_url is not set")?;
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
        poll_stream(app, settings, &account, tls).await
    } else {
        poll_stream(app, settings, &account, tcp).await
    }
}

async fn poll_stream<T: AsyncRead + AsyncWrite + Unpin + Debug + Send>(
    app: &Arc<App>,
    settings: &EmailSettings,
    account: &ImapAccount,
    stream: T,
) -> anyhow::Result<usize> {
    let mut client = async_imap::Client::new(stream);
    client.read_response().await.context("reading the IMAP greeting")?;
    let mut session = client
        .login(&account.user, account.password.expose())
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
        let size = {
            let messages: Vec<_> = session
                .uid_fetch(uid.to_string(), "RFC822.SIZE")
                .await
                .context("fetching a message's size")?
                .try_collect()
                .await
                .context("fetching a message's size")?;
            messages.first().and_then(|m| m.size)
        };
        if let Some(refusal) =
            size.and_then(|size| refused_for_size(usize::try_from(size).unwrap_or(usize::MAX), settings))
        {
            tracing::warn!(uid, %refusal, folder = %settings.imap_processed_folder, "an inbound mail is too large; moved unread");
            session
                .uid_mv(uid.to_string(), &settings.imap_processed_folder)
                .await
                .context("moving a message too large to take in")?;
            continue;
        }
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
            let received = receive(app, &raw).await?;
            if let Received::Reply(Some(handled)) = &received
                && let Err(error) = answer(app, &raw, handled).await
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
