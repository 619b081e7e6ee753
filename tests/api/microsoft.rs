//! Microsoft 365 without passwords: mail goes out over SMTP and replies come in over IMAP with
//! SASL XOAUTH2 and a client-credentials token of the identity provider (the test run's
//! OpenID provider in Entra ID's place), through servers that take no password: an SMTP server
//! that offers only XOAUTH2 and Dovecot's `oauth2` passdb, both asking the provider whether a
//! token is active and opens the mailbox. And the dashboard's sign-in through the provider
//! (OpenID Connect), in Chromium, with what a forger or a replay tries refused.

use arshjul::channels::Recipient;
use arshjul::channels::email::EmailNotifier;
use arshjul::settings::{EmailTransport, MailOAuthSettings, OidcClaim, OidcSettings, Secret, Settings};

use crate::browser::Browser;
use crate::helpers::{TestApp, TestDir, Worker, test_settings};
use crate::inbound::{imap_client, reply};
use crate::peers::{Mail, Provider, SmtpSink, eventually, test_ca};

/// The mailbox arshjul sends from and reads, as its application may open it.
const MAILBOX: &str = "arshjul@m365.test";

/// Settings as the README's Microsoft 365 section gives them: the mailbox as the user of
/// `smtp_url` and `imap_url`, no password anywhere, `[email.oauth2]` with the application.
fn exchange(settings: &mut Settings, smtp: &SmtpSink, (client_id, secret): &(String, String)) {
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(format!("smtps://arshjul%40m365.test@127.0.0.1:{}", smtp.port));
    settings.email.ca_file = test_ca();
    settings.email.reply_to = Some(format!("Årshjulet <{MAILBOX}>"));
    settings.email.oauth2 = MailOAuthSettings {
        token_url: format!("{}/token", Provider::issuer()),
        client_id: client_id.clone(),
        client_secret: Secret::new(secret.clone()),
        scope: "mail".into(),
    };
    settings.email.imap_url = Secret::new(std::env::var("ARSHJUL_TEST_OAUTH_IMAP_URL").unwrap());
    let folder = format!("m365-{}", fastrand::u32(..));
    settings.email.imap_processed_folder = format!("{folder}-done");
    settings.email.imap_folder = folder;
    settings.links.secret = Secret::new("microsoft-test-0123456789abcdef0123456789abcdef");
}

/// A mail server that takes only tokens, an application that may open the mailbox (its tokens
/// live `token_ttl` seconds), and settings that use them.
struct Scene {
    _dir: TestDir,
    smtp: SmtpSink,
    client: (String, String),
    settings: Settings,
}

async fn scene(token_ttl: u64) -> Scene {
    let dir = TestDir::new();
    let smtp = SmtpSink::start_oauth(dir.path());
    let client = Provider::mail_client(MAILBOX, token_ttl).await;
    let mut settings = test_settings(&dir).await;
    exchange(&mut settings, &smtp, &client);
    Scene {
        _dir: dir,
        smtp,
        client,
        settings,
    }
}

/// The mailbox in Dovecot, opened the way arshjul opens it: XOAUTH2 with the client's token.
async fn mailbox(client: &(String, String)) -> async_imap::Session<tokio::net::TcpStream> {
    let imap = imap_client().await;
    let token = Secret::new(Provider::token(&client.0, &client.1).await);
    imap.authenticate("XOAUTH2", arshjul::inbound::imap::XOAuth2::new(MAILBOX, &token))
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

fn digests(mails: &[Mail]) -> Vec<String> {
    mails.iter().map(|m| m.header("X-Token-Digest").unwrap()).collect()
}

#[tokio::test]
async fn reminders_go_out_and_replies_come_in_through_servers_that_take_only_tokens() {
    let Scene {
        _dir,
        smtp,
        client,
        settings,
        ..
    } = scene(600).await;
    let worker = Worker::build(settings.clone()).await;
    worker.materialise_and_plan().await;
    worker.drain().await;

    let sent = smtp.messages();
    let reminder = sent
        .iter()
        .find(|m| m.to() == "kristina.falk@example.org")
        .expect("Kristina is reminded through the server that takes only tokens");
    assert!(
        sent.iter()
            .all(|m| m.header("X-Authenticated-As").as_deref() == Some(MAILBOX))
    );
    let tokens = digests(&sent);
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one token, kept, for all of them: {tokens:?}"
    );

    let mut imap = mailbox(&client).await;
    imap.create(&settings.email.imap_folder).await.unwrap();
    let answer = reply(
        &reminder.message,
        "kristina.falk@example.org",
        "Klar!\r\n\r\n/Kristina",
        "",
    );
    imap.append(&settings.email.imap_folder, None, None, answer)
        .await
        .unwrap();
    let app = worker.app.app();
    assert_eq!(
        arshjul::inbound::imap::poll_once(&app, &settings.email).await.unwrap(),
        1
    );
    let occurrence = worker.occurrence_reminding("kristina.falk").await;
    let state = app.store.occurrence(occurrence).await.unwrap().unwrap().state;
    assert_eq!(state.as_str(), "submitted", "the reply read over IMAP acted");
    assert!(
        eventually(|| smtp.messages().len() == sent.len() + 1).await,
        "and Kristina is answered, over SMTP with the token"
    );

    // A revoked token is refused by Dovecot; the poller fetches a new one and reads on.
    Provider::revoke_tokens(&client.0).await;
    let later = reply(&reminder.message, "kristina.falk@example.org", "Tack!", "");
    imap.append(&settings.email.imap_folder, None, None, later)
        .await
        .unwrap();
    assert_eq!(
        arshjul::inbound::imap::poll_once(&app, &settings.email).await.unwrap(),
        1
    );
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn the_servers_take_no_password() {
    let Scene {
        smtp,
        client,
        mut settings,
        _dir,
        ..
    } = scene(600).await;
    settings.email.oauth2.token_url.clear();
    settings.email.smtp_url = Secret::new(format!("smtps://arshjul%40m365.test:hemligt@127.0.0.1:{}", smtp.port));
    let notifier = EmailNotifier::new(&settings.email).unwrap();
    let refused = notifier
        .send_direct(&kristina(), "Test", "Test".into(), "<p>Test</p>".into())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("authentication"), "{refused}");
    assert!(smtp.messages().is_empty());

    let imap = imap_client().await;
    let token = Provider::token(&client.0, &client.1).await;
    assert!(
        imap.login(MAILBOX, &token).await.is_err(),
        "not even a token as a password"
    );
}

fn kristina() -> Recipient {
    Recipient {
        id: "kristina.falk".into(),
        name: "Kristina Falk".into(),
        email: "kristina.falk@example.org".into(),
        language: arshjul::domain::config::Language::Sv,
        matrix_id: None,
    }
}

#[tokio::test]
async fn a_mail_token_is_kept_renewed_when_it_expires_and_fetched_again_when_refused() {
    let Scene {
        _dir,
        mut smtp,
        mut settings,
        ..
    } = scene(2).await;
    let notifier = EmailNotifier::new(&settings.email).unwrap();
    let kristina = kristina();
    let send = || notifier.send_direct(&kristina, "Test", "Test".into(), "<p>Test</p>".into());

    send().await.unwrap();
    send().await.unwrap();
    // The token lives two seconds: after them it is no good, and a new one is fetched.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    send().await.unwrap();
    let tokens = digests(&smtp.messages_in_order());
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0], tokens[1], "kept while it is good");
    assert_ne!(tokens[1], tokens[2], "renewed when it expired");

    // A token good for ten minutes, revoked at the provider: on the next connection (the
    // server restarted, as a front end of Exchange's may) it is refused, and a new one is
    // fetched at once.
    let lasting = Provider::mail_client(MAILBOX, 600).await;
    exchange(&mut settings, &smtp, &lasting);
    let notifier = EmailNotifier::new(&settings.email).unwrap();
    let send = || notifier.send_direct(&kristina, "Test", "Test".into(), "<p>Test</p>".into());
    send().await.unwrap();
    Provider::revoke_tokens(&lasting.0).await;
    smtp.stop();
    smtp.resume();
    send().await.unwrap();
    let tokens = digests(&smtp.messages_in_order());
    assert_eq!(tokens.len(), 5);
    assert_ne!(tokens[3], tokens[4], "fetched again when refused");

    // An application without the mailbox's permission: every token is refused, and the
    // delivery is left to be tried again later.
    let unpermitted = Provider::mail_client("someone.else@m365.test", 600).await;
    exchange(&mut settings, &smtp, &unpermitted);
    let notifier = EmailNotifier::new(&settings.email).unwrap();
    let refused = notifier
        .send_direct(&kristina, "Test", "Test".into(), "<p>Test</p>".into())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, arshjul::channels::SendError::Retryable { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("refused a new token too"), "{refused}");
}

#[tokio::test]
async fn check_config_and_the_channel_test_say_whether_a_mail_token_can_be_had() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start_oauth(dir.path());
    let (client_id, secret) = Provider::mail_client(MAILBOX, 600).await;
    let run = |args: &[&str], secret: &str| {
        crate::helpers::arshjul_command()
            .args(args)
            .env(
                "ARSHJUL__DATABASE__URL",
                format!("sqlite://{}/arshjul.db", dir.path().display()),
            )
            .env("ARSHJUL__EMAIL__TRANSPORT", "smtp")
            .env(
                "ARSHJUL__EMAIL__SMTP_URL",
                format!("smtps://arshjul%40m365.test@127.0.0.1:{}", smtp.port),
            )
            .env("ARSHJUL__EMAIL__CA_FILE", test_ca())
            .env(
                "ARSHJUL__EMAIL__OAUTH2__TOKEN_URL",
                format!("{}/token", Provider::issuer()),
            )
            .env("ARSHJUL__EMAIL__OAUTH2__CLIENT_ID", &client_id)
            .env("ARSHJUL__EMAIL__OAUTH2__CLIENT_SECRET", secret)
            .env("ARSHJUL__EMAIL__OAUTH2__SCOPE", "mail")
            .output()
            .unwrap()
    };
    let text = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let wrong = "not-the-secret-0123456789";

    let checked = run(&["check-config"], &secret);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains("email.oauth2: a token from http://127.0.0.1"));
    let refused = run(&["check-config"], wrong);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("settings: email.oauth2.client_secret (or client_id): the token endpoint refused"),
        "{}",
        text(&refused)
    );

    let tested = run(&["channels", "test", "email", "--to", "linnea.dahl"], &secret);
    assert!(tested.status.success(), "{}", text(&tested));
    assert!(
        text(&tested).contains("email.oauth2: a token from"),
        "{}",
        text(&tested)
    );
    assert!(eventually(|| smtp.messages().len() == 1).await);
    let failed = run(&["channels", "test", "email", "--to", "linnea.dahl"], wrong);
    assert!(!failed.status.success());
    assert!(
        text(&failed).contains("email.oauth2: FAILED: email.oauth2.client_secret"),
        "{}",
        text(&failed)
    );
    for output in [&checked, &refused, &tested, &failed] {
        assert!(!text(output).contains(&secret) && !text(output).contains(wrong));
    }
}

// --- Signing in with Entra ID (OpenID Connect) ------------------------------------------------

/// A dashboard whose sign-in page offers the provider, for a client registered there; with
/// `tamper`, the provider changes every ID token after signing it.
async fn with_provider(dir: &TestDir, smtp: &SmtpSink, claim: OidcClaim, tamper: bool) -> TestApp {
    let mut settings = crate::dashboard::dashboard_settings(dir, smtp).await;
    let (client_id, secret) = Provider::register(serde_json::json!({
        "redirect_uris": [format!("{}/sign-in/oidc/callback", settings.links.base_url)],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "tamper_id_token": tamper,
    }))
    .await;
    settings.sign_in.oidc = OidcSettings {
        issuer: Provider::issuer(),
        client_id,
        client_secret: Secret::new(secret),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        claim,
        provider_name: "Microsoft".into(),
    };
    TestApp::spawn(settings).await
}

/// Signs in at the provider's login form that the browser is on, as `login`.
async fn log_in_at_provider(browser: &Browser, login: &str) {
    assert!(
        browser.url().await.starts_with(&Provider::issuer()),
        "{}",
        browser.url().await
    );
    browser.fill("input[name=login]", login).await;
    browser.fill("input[name=password]", "anything").await;
    browser.click("button[type=submit]").await;
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider_and_a_stranger_gets_no_access() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let app = with_provider(&dir, &smtp, OidcClaim::Email, false).await;

    let browser = Browser::start().await;
    browser.goto(&format!("{}/dashboard", app.address)).await;
    assert!(browser.text("main").await.contains("Logga in med Microsoft"));
    browser.click("#sign-in-provider").await;
    log_in_at_provider(&browser, "Linnea.Dahl@example.org").await;
    assert_eq!(browser.url().await, format!("{}/dashboard", app.address));
    assert_eq!(browser.count("form[action='/sign-out']").await, 1, "signed in");
    assert!(
        !smtp.messages().iter().any(|m| m.text().contains("/sign-in/")),
        "no link was mailed"
    );

    browser.click("form[action='/sign-out'] button").await;
    assert!(browser.text("main").await.contains("Du är utloggad från årshjulet."));
    let end_session = browser
        .script(
            "return document.getElementById('end-session').href;",
            serde_json::json!([]),
        )
        .await;
    assert!(
        end_session
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/session/end?client_id=", Provider::issuer())),
        "{end_session}"
    );
    browser.goto(&format!("{}/dashboard", app.address)).await;
    assert!(browser.url().await.contains("/sign-in"), "the session ended");

    let stranger = Browser::start().await;
    stranger.goto(&format!("{}/sign-in", app.address)).await;
    stranger.click("#sign-in-provider").await;
    log_in_at_provider(&stranger, "stranger@example.org").await;
    assert!(
        stranger
            .text("main")
            .await
            .contains("Du har ingen roll i årshjulets katalog"),
        "{}",
        stranger.text("main").await
    );
    stranger.goto(&format!("{}/dashboard", app.address)).await;
    assert!(stranger.url().await.contains("/sign-in"), "and no session");
}

/// A browser without Chromium, for what a browser does not do (replay, tamper): cookies kept
/// per host and port, redirects not followed.
struct Agent {
    http: reqwest::Client,
    cookies: std::sync::Mutex<Vec<(String, String, String)>>,
}

/// One answer to the agent: status, `Location`, body.
struct Answer {
    status: u16,
    location: String,
    body: String,
}

impl Agent {
    fn new() -> Self {
        arshjul::channels::install_crypto_provider();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn send(&self, method: reqwest::Method, url: &str, form: Option<String>) -> Answer {
        let url = reqwest::Url::parse(url).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let cookie = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, _, _)| *h == host)
            .map(|(_, name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = self.http.request(method, url.clone()).header("cookie", cookie);
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            cookies.retain(|(h, n, _)| !(*h == host && n == name));
            if !value.is_empty() {
                cookies.push((host.clone(), name.to_owned(), value.to_owned()));
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|l| url.join(l.to_str().unwrap()).unwrap().to_string())
            .unwrap_or_default();
        Answer {
            status: response.status().as_u16(),
            location,
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, url: &str) -> Answer {
        self.send(reqwest::Method::GET, url, None).await
    }

    /// Begins a sign-in at `app`: the provider's authorization URL.
    async fn begin(&self, app: &TestApp) -> String {
        let begun = self.get(&format!("{}/sign-in/oidc?next=/dashboard", app.address)).await;
        assert_eq!(begun.status, 303);
        begun.location
    }

    /// Signs in as `login` at the provider from `authorize_url`: the callback URL it sends the
    /// browser to.
    async fn at_provider(&self, authorize_url: &str, login: &str) -> String {
        let mut url = authorize_url.to_owned();
        let mut posted = false;
        for _ in 0..10 {
            let answer = self.get(&url).await;
            if answer.status == 200 && !posted {
                let action = answer
                    .body
                    .split("action=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let action = reqwest::Url::parse(&url).unwrap().join(action).unwrap();
                let form = format!("prompt=login&login={}&password=x", login.replace('@', "%40"));
                url = self
                    .send(reqwest::Method::POST, action.as_str(), Some(form))
                    .await
                    .location;
                posted = true;
                continue;
            }
            assert_eq!(answer.status, 303, "{}", answer.body);
            if answer.location.contains("/sign-in/oidc/callback") {
                return answer.location;
            }
            url = answer.location;
        }
        panic!("the provider did not send the browser back");
    }
}

#[tokio::test]
async fn a_replayed_state_a_wrong_nonce_another_browser_and_a_tampered_id_token_are_refused() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let app = with_provider(&dir, &smtp, OidcClaim::Email, false).await;
    let refused = |answer: &Answer, text: &str| {
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert!(answer.body.contains(text), "{}", answer.body);
        assert!(!answer.body.contains("/sign-out"));
    };

    // Signed in once; the same callback again is refused.
    let agent = Agent::new();
    let callback = agent
        .at_provider(&agent.begin(&app).await, "linnea.dahl@example.org")
        .await;
    let signed_in = agent.get(&callback).await;
    assert_eq!(
        (signed_in.status, signed_in.location.as_str()),
        (303, &*format!("{}/dashboard", app.address))
    );
    assert_eq!(agent.get(&format!("{}/dashboard", app.address)).await.status, 200);
    refused(&agent.get(&callback).await, "den var redan använd");

    // The callback in another browser (a link an attacker sends, to sign the victim in as
    // the attacker): refused, and the sign-in is spent.
    let attacker = Agent::new();
    let callback = attacker
        .at_provider(&attacker.begin(&app).await, "linnea.dahl@example.org")
        .await;
    let victim = Agent::new();
    refused(&victim.get(&callback).await, "påbörjades i en annan webbläsare");
    refused(&attacker.get(&callback).await, "den var redan använd");

    // A nonce changed on the way to the provider: the ID token carries the other one.
    let agent = Agent::new();
    let authorize = agent.begin(&app).await;
    let mut url = reqwest::Url::parse(&authorize).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "another-nonce".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = agent.at_provider(url.as_str(), "linnea.dahl@example.org").await;
    refused(&agent.get(&callback).await, "Inloggningen via Microsoft misslyckades");

    // An ID token whose payload was changed after signing.
    let tampering = with_provider(&TestDir::new(), &smtp, OidcClaim::Email, true).await;
    let agent = Agent::new();
    let callback = agent
        .at_provider(&agent.begin(&tampering).await, "linnea.dahl@example.org")
        .await;
    refused(&agent.get(&callback).await, "Inloggningen via Microsoft misslyckades");
    assert_eq!(agent.get(&format!("{}/dashboard", tampering.address)).await.status, 303);
}

#[tokio::test]
async fn the_object_id_finds_the_person_and_email_links_can_be_turned_off() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let oid = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab";
    let mut settings = crate::dashboard::dashboard_settings(&dir, &smtp).await;
    let directory = std::fs::read_to_string(dir.path().join("directory.toml"))
        .unwrap()
        .replacen(
            "email = \"linnea.dahl@example.org\"\n",
            &format!("email = \"linnea.dahl@example.org\"\nentra_oid = \"{oid}\"\n"),
            1,
        );
    dir.write("directory.toml", &directory);
    settings.sign_in.email_links = false;
    let app = {
        let (client_id, secret) = Provider::register(serde_json::json!({
            "redirect_uris": [format!("{}/sign-in/oidc/callback", settings.links.base_url)],
            "grant_types": ["authorization_code"], "response_types": ["code"],
        }))
        .await;
        settings.sign_in.oidc = OidcSettings {
            issuer: Provider::issuer(),
            client_id,
            client_secret: Secret::new(secret),
            scopes: vec!["openid".into(), "profile".into()],
            claim: OidcClaim::Oid,
            provider_name: "Microsoft".into(),
        };
        TestApp::spawn(settings).await
    };

    // Her address at the provider is another than the directory's; the object id finds her.
    let agent = Agent::new();
    let callback = agent
        .at_provider(&agent.begin(&app).await, &format!("l.dahl@kommun.example#{oid}"))
        .await;
    assert_eq!(
        agent.get(&callback).await.location,
        format!("{}/dashboard", app.address)
    );
    // The address alone finds nobody when the object id is the claim.
    let agent = Agent::new();
    let callback = agent
        .at_provider(&agent.begin(&app).await, "linnea.dahl@example.org")
        .await;
    assert_eq!(agent.get(&callback).await.status, 403);

    let page = agent.get(&format!("{}/sign-in", app.address)).await;
    assert!(page.body.contains("Logga in med Microsoft"));
    assert!(!page.body.contains("name=\"email\""), "no form to mail a link");
    let asked = agent
        .send(
            reqwest::Method::POST,
            &format!("{}/sign-in", app.address),
            Some("email=linnea.dahl%40example.org".into()),
        )
        .await;
    assert_eq!(asked.status, 404);
    assert!(
        asked.body.contains("Inloggningslänkar med e-post används inte här"),
        "{}",
        asked.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !smtp.messages().iter().any(|m| m.text().contains("/sign-in/")),
        "and none is mailed"
    );
}

#[tokio::test]
async fn check_config_says_whether_the_provider_can_be_read() {
    let run = |issuer: &str| {
        let output = crate::helpers::arshjul_command()
            .arg("check-config")
            .env("ARSHJUL__SIGN_IN__OIDC__ISSUER", issuer)
            .env("ARSHJUL__SIGN_IN__OIDC__CLIENT_ID", "arshjul")
            .env("ARSHJUL__SIGN_IN__OIDC__CLIENT_SECRET", "hemligt-0123456789")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains("hemligt"));
        (output.status.success(), text)
    };
    let (ok, text) = run(&Provider::issuer());
    assert!(ok, "{text}");
    assert!(text.contains(&format!(
        "sign_in.oidc: the provider's metadata from {}",
        Provider::issuer()
    )));
    let (ok, text) = run("");
    assert!(ok, "{text}");
    let output = crate::helpers::arshjul_command()
        .arg("check-config")
        .env("ARSHJUL__SIGN_IN__EMAIL_LINKS", "false")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("settings: sign_in.email_links is false and sign_in.oidc.issuer is empty: nobody could sign in")
    );
    let gone = format!("http://127.0.0.1:{}", crate::peers::free_port());
    let (ok, text) = run(&gone);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "settings: sign_in.oidc.issuer: cannot read the provider's metadata from {gone}"
        )),
        "{text}"
    );
}
