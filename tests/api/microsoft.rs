//! Microsoft 365 without passwords: mail goes out over SMTP and replies come in over IMAP with
//! SASL XOAUTH2 and a client-credentials token of the identity provider (the test run's
//! OpenID provider in Entra ID's place), through servers that take no password: an SMTP server
//! that offers only XOAUTH2 and Dovecot's `oauth2` passdb, both asking the provider whether a
//! token is active and opens the mailbox.

use arshjul::channels::Recipient;
use arshjul::channels::email::EmailNotifier;
use arshjul::settings::{EmailTransport, MailOAuthSettings, Secret, Settings};

use crate::helpers::{TestDir, Worker, test_settings};
use crate::inbound::reply;
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

/// The mailbox in Dovecot, opened the way arshjul opens it: XOAUTH2 with the client's token.
async fn mailbox(client: &(String, String)) -> async_imap::Session<tokio::net::TcpStream> {
    let url = reqwest::Url::parse(&std::env::var("ARSHJUL_TEST_IMAP_URL").unwrap()).unwrap();
    let tcp = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let mut imap = async_imap::Client::new(tcp);
    imap.read_response().await.unwrap();
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
    let dir = TestDir::new();
    let smtp = SmtpSink::start_oauth(dir.path());
    let client = Provider::mail_client(MAILBOX, 600).await;
    let mut settings = test_settings(&dir).await;
    exchange(&mut settings, &smtp, &client);
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
    let dir = TestDir::new();
    let smtp = SmtpSink::start_oauth(dir.path());
    let client = Provider::mail_client(MAILBOX, 600).await;
    let mut settings = test_settings(&dir).await;
    exchange(&mut settings, &smtp, &client);
    settings.email.oauth2.token_url.clear();
    settings.email.smtp_url = Secret::new(format!("smtps://arshjul%40m365.test:hemligt@127.0.0.1:{}", smtp.port));
    let notifier = EmailNotifier::new(&settings.email).unwrap();
    let refused = notifier
        .send_direct(&kristina(), "Test", "Test".into(), "<p>Test</p>".into())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("authentication"), "{refused}");
    assert!(smtp.messages().is_empty());

    let url = reqwest::Url::parse(&std::env::var("ARSHJUL_TEST_IMAP_URL").unwrap()).unwrap();
    let tcp = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let mut imap = async_imap::Client::new(tcp);
    imap.read_response().await.unwrap();
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
    let dir = TestDir::new();
    let mut smtp = SmtpSink::start_oauth(dir.path());
    let client = Provider::mail_client(MAILBOX, 2).await;
    let mut settings = test_settings(&dir).await;
    exchange(&mut settings, &smtp, &client);
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
