//! The IMAP poller: every `email.imap_interval_seconds` it fetches the mail in
//! `email.imap_folder`, hands each message to the email path (as `mailgate` does), answers the
//! sender, and moves the message to `email.imap_processed_folder`. A message is moved only
//! after it is taken in, so a crash in between at worst reads it again, which the inbox absorbs.
//! With `[email.oauth2]` it signs in by XOAUTH2 with the mail token instead of a password.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::email::{Received, answer, receive, refused_for_size};
use crate::app::App;
use crate::channels::oauth::MailTokens;
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
    let tcp = within(
        settings,
        &format!("connecting to the IMAP server {}:{}", account.host, account.port),
        tokio::net::TcpStream::connect((account.host.as_str(), account.port)),
    )
    .await?;
    if account.tls {
        let mut roots = tokio_rustls::rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots.add_parsable_certificates(account.extra_roots.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(account.host.clone())
            .context("email.imap_url: the host is not a valid TLS name")?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tls = within(settings, "TLS with the IMAP server", connector.connect(name, tcp)).await?;
        poll_stream(app, settings, &account, tls).await
    } else {
        poll_stream(app, settings, &account, tcp).await
    }
}

/// `step`, bounded by `email.timeout_seconds`: a server that stalls fails the poll, and the
/// poller (and with it the daemon's shutdown) does not hang on it.
async fn within<T, E>(
    settings: &EmailSettings,
    what: &str,
    step: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(Duration::from_secs(settings.timeout_seconds.max(1)), step).await {
        Ok(result) => result.with_context(|| what.to_owned()),
        Err(_) => anyhow::bail!(
            "{what}: no answer within email.timeout_seconds ({} s)",
            settings.timeout_seconds
        ),
    }
}

/// Signs in by XOAUTH2 with the mail token; a token the server refuses is fetched anew once.
async fn signed_in_with_token<T: AsyncRead + AsyncWrite + Unpin + Debug + Send>(
    settings: &EmailSettings,
    account: &ImapAccount,
    client: async_imap::Client<T>,
    tokens: &MailTokens,
) -> anyhow::Result<async_imap::Session<T>> {
    let what = format!("IMAP XOAUTH2 as {}", account.user);
    let token = tokens.token().await?;
    let first = within(settings, &what, async {
        Ok::<_, std::convert::Infallible>(
            client
                .authenticate("XOAUTH2", XOAuth2::new(&account.user, &token))
                .await,
        )
    })
    .await?;
    let client = match first {
        Ok(session) => return Ok(session),
        Err((async_imap::error::Error::No(refusal), client)) => {
            tracing::info!(%refusal, "the IMAP server refused the mail token; fetching a new one");
            client
        }
        Err((error, _)) => return Err(error).context(what),
    };
    let token = tokens.renewed(&token).await?;
    within(settings, &what, async {
        client
            .authenticate("XOAUTH2", XOAuth2::new(&account.user, &token))
            .await
            .map_err(|(e, _)| e)
    })
    .await
}

/// SASL XOAUTH2: the user and the bearer token at the server's first challenge; an empty
/// answer to the error the server sends before it refuses.
pub struct XOAuth2(Option<String>);

impl XOAuth2 {
    /// The answer for `user` with `token`.
    pub fn new(user: &str, token: &crate::settings::Secret) -> Self {
        Self(Some(format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose())))
    }
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.0.take().unwrap_or_default()
    }
}

async fn poll_stream<T: AsyncRead + AsyncWrite + Unpin + Debug + Send>(
    app: &Arc<App>,
    settings: &EmailSettings,
    account: &ImapAccount,
    stream: T,
) -> anyhow::Result<usize> {
    let mut client = async_imap::Client::new(stream);
    within(settings, "reading the IMAP greeting", client.read_response()).await?;
    let mut session = match app.notifiers.email.tokens() {
        Some(tokens) => signed_in_with_token(settings, account, client, tokens).await?,
        None => {
            within(settings, &format!("IMAP login as {}", account.user), async {
                client
                    .login(&account.user, account.password.expose())
                    .await
                    .map_err(|(e, _)| e)
            })
            .await?
        }
    };
    within(
        settings,
        &format!("selecting the IMAP folder {}", settings.imap_folder),
        session.select(&settings.imap_folder),
    )
    .await?;
    let uids = within(settings, "listing the IMAP folder", session.uid_search("ALL")).await?;
    if uids.is_empty() {
        within(settings, "logging out", session.logout()).await.ok();
        return Ok(0);
    }
    // Creating a folder that exists fails harmlessly.
    let _ = within(
        settings,
        "creating the processed folder",
        session.create(&settings.imap_processed_folder),
    )
    .await;
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    let mut taken = 0;
    for uid in uids {
        let size = within(settings, "fetching a message's size", async {
            session
                .uid_fetch(uid.to_string(), "RFC822.SIZE")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?
        .first()
        .and_then(|m| m.size);
        if let Some(refusal) =
            size.and_then(|size| refused_for_size(usize::try_from(size).unwrap_or(usize::MAX), settings))
        {
            tracing::warn!(uid, %refusal, folder = %settings.imap_processed_folder, "an inbound mail is too large; moved unread");
            within(
                settings,
                "moving a message too large to take in",
                session.uid_mv(uid.to_string(), &settings.imap_processed_folder),
            )
            .await?;
            continue;
        }
        let raw = within(settings, "fetching a message", async {
            session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?
        .first()
        .and_then(|m| m.body())
        .map(<[u8]>::to_vec);
        if let Some(raw) = raw {
            let received = receive(app, &raw).await?;
            if let Received::Reply(Some(handled)) = &received
                && let Err(error) = answer(app, &raw, handled).await
            {
                tracing::warn!(%error, "cannot answer a mail reply");
            }
            taken += 1;
        }
        within(
            settings,
            "moving a processed message",
            session.uid_mv(uid.to_string(), &settings.imap_processed_folder),
        )
        .await?;
    }
    within(settings, "logging out", session.logout()).await.ok();
    Ok(taken)
}
