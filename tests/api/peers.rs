//! Real peers on loopback, started per test: an SMTP server that stores mail in a Maildir
//! (aiosmtpd) and an HTTP sink that records webhook posts and answers as told.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::helpers::{peer_command, repo};

/// The Python that has aiosmtpd: set by `scripts/test`, else `python3`.
fn python() -> String {
    std::env::var("ARSHJUL_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One parsed message as the SMTP server stored it.
pub struct Mail {
    pub message: mail_parser::Message<'static>,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        self.message.header_raw(name).map(|v| v.trim().to_owned())
    }

    pub fn subject(&self) -> String {
        self.message.subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.message.body_text(0).unwrap_or_default().into_owned()
    }

    pub fn html(&self) -> String {
        self.message.body_html(0).unwrap_or_default().into_owned()
    }

    pub fn to(&self) -> String {
        self.header("X-RcptTo").unwrap_or_default()
    }
}

/// The test run's certificate authority (a PEM file): it signed the TLS certificate for
/// 127.0.0.1 that PostgreSQL, Dovecot and `SmtpSink::start_tls` present.
pub fn test_ca() -> PathBuf {
    std::env::var_os("ARSHJUL_TEST_CA")
        .expect("ARSHJUL_TEST_CA is not set: run the suite with scripts/test")
        .into()
}

/// An SMTP server storing what it receives.
pub struct SmtpSink {
    pub port: u16,
    maildir: PathBuf,
    /// Speaks TLS from the first byte with the test run's certificate for 127.0.0.1.
    tls: bool,
    /// Takes mail only with AUTH XOAUTH2 and a token the OpenID provider vouches for.
    oauth: bool,
    child: Option<Child>,
}

impl SmtpSink {
    pub fn start(dir: &Path) -> Self {
        Self::started(dir, false, false)
    }

    /// A server of `smtps://` whose certificate the test run's authority (`test_ca()`) signed.
    pub fn start_tls(dir: &Path) -> Self {
        Self::started(dir, true, false)
    }

    /// As Exchange Online without basic authentication: `smtps://`, and no message without
    /// AUTH XOAUTH2 and a token of the test run's OpenID provider for the user's mailbox.
    /// Stored messages carry `X-Authenticated-As` and `X-Token-Digest`.
    pub fn start_oauth(dir: &Path) -> Self {
        Self::started(dir, true, true)
    }

    fn started(dir: &Path, tls: bool, oauth: bool) -> Self {
        let mut sink = Self {
            port: free_port(),
            maildir: dir.join("maildir"),
            tls,
            oauth,
            child: None,
        };
        sink.resume();
        sink
    }

    /// Starts the server (again) on the same port and Maildir.
    pub fn resume(&mut self) {
        let mut child = peer_command(python())
            .arg(repo().join("tests/peers/smtp_sink.py"))
            .arg(self.port.to_string())
            .arg(&self.maildir)
            .args(match self.tls {
                true => {
                    let dir = test_ca().parent().unwrap().to_owned();
                    vec!["--tls".into(), dir.join("server.pem"), dir.join("server.key")]
                }
                false => vec![],
            })
            .args(self.oauth.then_some("--oauth"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the SMTP sink (scripts/test installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start: is aiosmtpd installed? run scripts/test"
        );
        self.child = Some(child);
    }

    /// Stops the server, as if the mail server went down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "smtps" } else { "smtp" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, by recipient.
    pub fn messages(&self) -> Vec<Mail> {
        let mut mails = self.messages_in_order();
        mails.sort_by_key(|m| m.to());
        mails
    }

    /// Every message received so far, in the order they were stored.
    pub fn messages_in_order(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| std::fs::read_to_string(path).unwrap())
            .map(|raw| {
                // The parsed message borrows its text; a test process may keep it for good.
                let raw: &'static str = Box::leak(raw.into_boxed_str());
                Mail {
                    message: mail_parser::MessageParser::default()
                        .parse(raw.as_bytes())
                        .expect("a parseable message"),
                }
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One request the webhook sink recorded.
#[derive(serde::Deserialize)]
pub struct Posted {
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
}

/// An HTTP server that records POSTs and answers with the given responses in turn.
pub struct WebhookSink {
    pub url: String,
    out: PathBuf,
    child: Child,
}

impl WebhookSink {
    /// `responses` as `webhook_sink.py` takes them: "200", "500", "429:2", "sleep:3".
    pub fn start(dir: &Path, responses: &[&str]) -> Self {
        let out = dir.join(format!("hooks-{}", free_port()));
        let mut child = peer_command(python())
            .arg(repo().join("tests/peers/webhook_sink.py"))
            .arg(&out)
            .args(responses)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the webhook sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the sink prints its port");
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            out,
            child,
        }
    }

    pub fn received(&self) -> Vec<Posted> {
        let Ok(entries) = std::fs::read_dir(&self.out) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds or five seconds pass.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// A TCP forwarder on loopback in front of a server, that can be cut: while cut it drops the
/// connections it carries and holds new ones without a word — a database gone away behind a
/// network that still accepts (the worst case for a client that waits).
pub struct Gate {
    pub port: u16,
    cut: tokio::sync::watch::Sender<bool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Gate {
    /// Forwards a free port to `target` (`127.0.0.1:PORT`).
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watching) = tokio::sync::watch::channel(false);
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    // Held while cut; then it carries on as a fresh connection would.
                    let _ = watching.wait_for(|cut| !cut).await;
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut, accepting }
    }

    /// Cuts every connection and holds new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    pub fn mend(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// The test run's OpenID provider (npm's oidc-provider, `tests/peers/oidc_provider.mjs`,
/// started by `scripts/peers.sh`), standing in for Entra ID. Each test registers its own
/// clients.
pub struct Provider;

impl Provider {
    fn http() -> reqwest::Client {
        arshjul::channels::install_crypto_provider();
        reqwest::Client::new()
    }

    pub fn issuer() -> String {
        std::env::var("ARSHJUL_TEST_OIDC_ISSUER")
            .expect("ARSHJUL_TEST_OIDC_ISSUER is not set: run the suite with scripts/test")
    }

    /// Registers a client (RFC 7591) described by `metadata`: its id and secret.
    pub async fn register(metadata: serde_json::Value) -> (String, String) {
        let registered: serde_json::Value = Self::http()
            .post(format!("{}/reg", Self::issuer()))
            .json(&metadata)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let field = |name: &str| registered[name].as_str().unwrap().to_owned();
        (field("client_id"), field("client_secret"))
    }

    /// An application whose client-credentials tokens open `mailbox` (its Exchange mailbox
    /// permission) and live `token_ttl` seconds.
    pub async fn mail_client(mailbox: &str, token_ttl: u64) -> (String, String) {
        Self::register(serde_json::json!({
            "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
            "scope": "mail", "mailbox": mailbox, "token_ttl": token_ttl,
        }))
        .await
    }

    /// A client-credentials token of the client, as arshjul asks for one.
    pub async fn token(client_id: &str, secret: &str) -> String {
        let answer: serde_json::Value = Self::http()
            .post(format!("{}/token", Self::issuer()))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=mail")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes every token issued to the client so far.
    pub async fn revoke_tokens(client_id: &str) {
        Self::http()
            // Client ids are URL-safe base64.
            .post(format!("{}/test/revoke?client_id={client_id}", Self::issuer()))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}
