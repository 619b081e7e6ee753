//! Replies count: a contact person answers "klar" to a Matrix reminder, the manager answers
//! "ok" by email through `arshjul mailgate`, and `arshjul status` shows both; auto-replies,
//! bounces and strangers never count, and nothing is lost.

use std::io::Write as _;
use std::process::{Output, Stdio};

use arshjul::settings::{EmailTransport, Secret, Settings};
use serde_json::json;

use crate::helpers::{TestDir, Worker, directory_reaching, test_settings};
use crate::matrix::{Homeserver, say, with_bot};

/// Runs the binary with `settings`' database and files, `stdin` fed to it.
pub(crate) fn arshjul(settings: &Settings, dir: &TestDir, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = crate::helpers::arshjul_command()
        .args(args)
        .env("ARSHJUL__DATABASE__URL", settings.database.url.expose())
        .env("ARSHJUL__FILES__DIRECTORY", &settings.files.directory)
        .env("ARSHJUL__EMAIL__FILE_DIR", dir.path().join("outbox-mail"))
        .env("ARSHJUL__EMAIL__REPLY_TO", "arshjul <arshjul@example.org>")
        .env(
            "ARSHJUL__EMAIL__TRANSPORT",
            match settings.email.transport {
                EmailTransport::File => "file",
                EmailTransport::Smtp => "smtp",
            },
        )
        .env("ARSHJUL__EMAIL__SMTP_URL", settings.email.smtp_url.expose())
        .env(
            "ARSHJUL__EMAIL__TRUSTED_AUTHSERV_ID",
            &settings.email.trusted_authserv_id,
        )
        .env("ARSHJUL__LINKS__SECRET", settings.links.secret.expose())
        .env("ARSHJUL__LINKS__REVOKED_BEFORE", &settings.links.revoked_before)
        // The same channels as the daemon: what mailgate plans goes where the daemon's would.
        .env("ARSHJUL__MATRIX__HOMESERVER_URL", &settings.matrix.homeserver_url)
        .env("ARSHJUL__MATRIX__ACCESS_TOKEN", settings.matrix.access_token.expose())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The mail files written to `address`, parsed.
fn mails_to(dir: &TestDir, address: &str) -> Vec<mail_parser::Message<'static>> {
    std::fs::read_dir(dir.path().join("outbox-mail"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .filter_map(|raw| {
            mail_parser::MessageParser::default()
                .parse(&raw)
                .map(|m| m.into_owned())
        })
        .filter(|m| {
            m.to()
                .and_then(|t| t.first())
                .and_then(|a| a.address())
                .is_some_and(|a| a == address)
        })
        .collect()
}

/// The email asking Magnus Berg to acknowledge the follow-up.
fn acknowledgement_request(dir: &TestDir) -> mail_parser::Message<'static> {
    mails_to(dir, "magnus.berg@example.org")
        .into_iter()
        .find(|m| m.subject().unwrap_or_default().contains("väntar på kvittens"))
        .expect("the manager is asked by email to acknowledge")
}

/// The state of `occurrence` and the outcomes in the inbox, newest first.
async fn state_and_inbox(shared: &arshjul::app::App, occurrence: i64) -> (String, Vec<String>) {
    let stored = shared.store.occurrence(occurrence).await.unwrap().unwrap();
    let inbox = shared.store.inbox(None, 10).await.unwrap();
    (
        stored.state.as_str().to_owned(),
        inbox.into_iter().map(|m| m.outcome).collect(),
    )
}

/// A mail server's report, sent to `to`, that the message with `message_id` could not be
/// delivered; it quotes the returned message's headers.
pub(crate) fn bounce_of(message_id: &str, to: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@example.org\r\nTo: <{to}>\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\n\
         Message-ID: <bounce-{}@example.org>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\nSubject: whatever\r\n--b--\r\n",
        fastrand::u64(..),
    )
    .into_bytes()
}

/// A reply to `original` from `from`, sent to its Reply-To, saying `body`.
pub(crate) fn reply(original: &mail_parser::Message<'_>, from: &str, body: &str, extra_headers: &str) -> Vec<u8> {
    let reply_to = original
        .reply_to()
        .and_then(|r| r.first())
        .and_then(|a| a.address())
        .unwrap();
    format!(
        "From: <{from}>\r\nTo: <{reply_to}>\r\nSubject: Re: {}\r\nMessage-ID: <{}@mail.example.org>\r\n\
         In-Reply-To: <{}>\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        original.subject().unwrap(),
        fastrand::u64(..),
        original.message_id().unwrap(),
    )
    .into_bytes()
}

struct Flow {
    worker: Worker,
    settings: Settings,
    dir: TestDir,
    occurrence: i64,
}

/// Linnea Dahl, the technical department's EU contact, is on Matrix; its manager Magnus Berg
/// reads email. On 26 January 2027 Linnea is reminded of the follow-up; she answers "klar"
/// with the diarienummer the follow-up was registered under.
async fn linnea_submits_on_matrix() -> Flow {
    let homeserver = Homeserver::get();
    let bot = homeserver.register("arshjul").await;
    let linnea = homeserver.register("linnea").await;
    let dir = TestDir::new();
    let lines = format!("matrix_id = \"{}\"\nprefers = [\"matrix\"]", linnea.user_id);
    dir.write("directory.toml", &directory_reaching("linnea.dahl", &lines));
    let mut settings = test_settings(&dir).await;
    with_bot(&mut settings, &homeserver, &bot);
    settings.email.reply_to = Some("arshjul <arshjul@example.org>".into());
    settings.links.secret = Secret::new("inbound-test-0123456789abcdef0123456789abcdef");
    let follower = arshjul::channels::matrix::MatrixNotifier::new(&settings.matrix)
        .unwrap()
        .unwrap();
    let worker = Worker::build(settings.clone()).await;
    worker.clock.set("2027-01-26T07:00:00Z".parse().unwrap());
    let shared = worker.app.app();
    worker.materialise_and_plan().await;
    worker.drain().await;
    arshjul::inbound::matrix::sync_once(&shared, &follower, 0)
        .await
        .unwrap();
    let reminder = worker
        .outbox()
        .await
        .into_iter()
        .find(|r| r.recipient == "linnea.dahl" && r.channel == "matrix")
        .expect("Linnea's reminder on Matrix");
    let room = reminder.destination.clone().unwrap();
    linnea.join(&room).await;
    let answer = json!({"msgtype": "m.text", "body": "Klar, dnr tn 2027/45",
        "m.relates_to": {"m.in_reply_to": {"event_id": reminder.provider_id}}});
    say(&linnea, &room, "m.room.message", answer).await;
    assert_eq!(
        arshjul::inbound::matrix::sync_once(&shared, &follower, 1_000)
            .await
            .unwrap(),
        1
    );
    worker.drain().await;
    Flow {
        worker,
        settings,
        dir,
        occurrence: reminder.occurrence_id.unwrap(),
    }
}

#[tokio::test]
async fn klar_on_matrix_then_ok_by_email_closes_the_occurrence_and_status_shows_both() {
    let Flow {
        worker,
        settings,
        dir,
        occurrence,
    } = linnea_submits_on_matrix().await;
    let request = acknowledgement_request(&dir);
    let reply_to = request
        .reply_to()
        .and_then(|r| r.first())
        .and_then(|a| a.address())
        .unwrap();
    assert!(
        reply_to.starts_with("arshjul+") && reply_to.ends_with("@example.org"),
        "{reply_to}"
    );

    let raw = reply(
        &request,
        "magnus.berg@example.org",
        "Kvitterat, tack!\r\n\r\nDen 26 jan 2027 skrev arshjul:\r\n> Granska och kvittera",
        "",
    );
    let output = arshjul(&settings, &dir, &["mailgate"], &raw);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("recorded: Tack! Kvitterat: "), "{stdout}");
    let shared = worker.app.app();
    let stored = shared.store.occurrence(occurrence).await.unwrap().unwrap();
    assert_eq!(stored.state.as_str(), "acknowledged");
    let actions: Vec<(String, String, String)> = shared
        .store
        .audit_log(Some(occurrence))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "submit" || e.action == "acknowledge")
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            (e.action, e.actor, detail["channel"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("submit".into(), "linnea.dahl".into(), "matrix".into()),
            ("acknowledge".into(), "magnus.berg".into(), "email".into())
        ]
    );
    worker.drain().await;
    let closed = worker
        .outbox()
        .await
        .into_iter()
        .find(|r| r.step == "closed")
        .expect("the contact person is told");
    assert_eq!(
        (closed.recipient.as_str(), closed.channel.as_str()),
        ("linnea.dahl", "matrix")
    );
    assert_eq!(closed.state.as_str(), "sent");
    let answers = mails_to(&dir, "magnus.berg@example.org");
    assert!(
        answers
            .iter()
            .any(|m| m.body_text(0).is_some_and(|t| t.starts_with("Tack! Kvitterat:"))),
        "Magnus gets an answer"
    );

    let status = arshjul(
        &settings,
        &dir,
        &["status", "--year", "2027", "--unit", "tekniska"],
        b"",
    );
    let table = String::from_utf8_lossy(&status.stdout);
    let line = table
        .lines()
        .find(|l| l.contains(" uppfoljning "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("acknowledged") && line.contains("acknowledge magnus.berg by email"),
        "{line}"
    );
    assert!(
        line.contains(" TN 2027/45 "),
        "the diarienummer, kept through the acknowledgement: {line}"
    );
    assert_eq!(stored.diarienummer.as_deref(), Some("TN 2027/45"));
}

#[tokio::test]
async fn auto_replies_bounces_strangers_and_the_wrong_sender_never_count_but_are_kept() {
    let Flow {
        worker,
        settings,
        dir,
        occurrence,
    } = linnea_submits_on_matrix().await;
    let request = acknowledgement_request(&dir);
    let mailgate = |raw: Vec<u8>| {
        let output = arshjul(&settings, &dir, &["mailgate"], &raw);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let out_of_office = reply(
        &request,
        "magnus.berg@example.org",
        "Jag är på semester till 1 februari.",
        "Auto-Submitted: auto-replied\r\n",
    );
    assert_eq!(mailgate(out_of_office), "auto_reply: kept, not counted\n");
    let stranger = reply(&request, "someone@elsewhere.example.com", "ok", "");
    assert!(mailgate(stranger).starts_with("unknown_sender: "));
    let colleague = reply(&request, "linnea.dahl@example.org", "ok", "");
    let mailed = mails_to(&dir, "linnea.dahl@example.org").len();
    assert!(
        mailgate(colleague.clone()).starts_with("refused: Svaret kunde inte registreras: det kom från en annan adress")
    );
    assert_eq!(
        mails_to(&dir, "linnea.dahl@example.org").len(),
        mailed,
        "someone else's token does not show who sent it: no answer"
    );
    assert_eq!(
        mailgate(colleague),
        "already taken in\n",
        "the same message twice does nothing"
    );
    assert!(mailgate(bounce_of(request.message_id().unwrap(), "arshjul@example.org")).starts_with("bounce: "));

    let shared = worker.app.app();
    let (state, outcomes) = state_and_inbox(&shared, occurrence).await;
    assert_eq!(state, "submitted", "nothing of that acknowledged it");
    assert_eq!(
        outcomes,
        ["bounce", "refused", "unknown_sender", "auto_reply", "recorded"]
    );
    let bounced = shared
        .store
        .outbox(Some(arshjul::domain::steps::DeliveryState::Dead), 10)
        .await
        .unwrap();
    assert_eq!(bounced.len(), 1);
    assert!(bounced[0].last_error.as_deref().unwrap().starts_with("bounced"));
    let inbox = arshjul(&settings, &dir, &["inbox"], b"");
    let listing = String::from_utf8_lossy(&inbox.stdout);
    assert!(
        listing.contains("someone@elsewhere.example.com") && listing.contains("unknown_sender"),
        "{listing}"
    );
}

/// A reply's token carries when its message was sent: `links.revoked_before` revokes it like
/// every link, so an "ok" to a message sent before the revocation acts on nothing, and the
/// same reply counts once the revocation is lifted.
#[tokio::test]
async fn a_reply_to_a_message_sent_before_links_were_revoked_does_not_count() {
    let Flow {
        worker,
        mut settings,
        dir,
        occurrence,
    } = linnea_submits_on_matrix().await;
    let request = acknowledgement_request(&dir);
    let ok = reply(&request, "magnus.berg@example.org", "ok", "");
    settings.links.revoked_before = "2027-01-27T00:00:00Z".into();
    let revoked = arshjul(&settings, &dir, &["mailgate"], &ok);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let said = String::from_utf8_lossy(&revoked.stdout);
    assert!(!said.starts_with("recorded"), "{said}");
    let shared = worker.app.app();
    assert_eq!(state_and_inbox(&shared, occurrence).await.0, "submitted");

    settings.links.revoked_before = String::new();
    let again = reply(&request, "magnus.berg@example.org", "ok", "");
    let counted = arshjul(&settings, &dir, &["mailgate"], &again);
    assert!(String::from_utf8_lossy(&counted.stdout).starts_with("recorded: Tack! Kvitterat"));
    assert_eq!(state_and_inbox(&shared, occurrence).await.0, "acknowledged");
}

/// A Teams outgoing-webhook request saying `text` from `sender`, at `at`, signed with `key`.
pub(crate) async fn teams_post(
    app: &crate::helpers::TestApp,
    key: &[u8],
    id: &str,
    sender: &str,
    text: &str,
    at: jiff::Timestamp,
) -> (u16, String) {
    use base64::Engine as _;
    let body = json!({
        "type": "message", "id": id, "timestamp": at.to_string(), "text": text,
        "from": {"id": "29:1", "name": "Someone", "aadObjectId": sender},
    })
    .to_string();
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), body.as_bytes());
    let response = crate::helpers::http()
        .post(format!("{}/hooks/teams", app.address))
        .header(
            "Authorization",
            format!(
                "HMAC {}",
                base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
            ),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A daemon with `directory` and a Teams outgoing webhook, and the occurrence Kristina Falk is
/// reminded of at `test_now`.
async fn teams_daemon(directory: &str) -> (TestDir, crate::helpers::TestApp, i64) {
    use base64::Engine as _;
    let dir = TestDir::new();
    dir.write("directory.toml", directory);
    let mut settings = test_settings(&dir).await;
    settings.teams.outgoing_secret = Secret::new(base64::engine::general_purpose::STANDARD.encode(b"teams-token"));
    let app = crate::helpers::TestApp::spawn(settings).await;
    let occurrence = loop {
        let rows = app.shared.store.outbox(None, 100).await.unwrap();
        if let Some(row) = rows.iter().find(|r| r.recipient == "kristina.falk") {
            break row.occurrence_id.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    (dir, app, occurrence)
}

#[tokio::test]
async fn teams_commands_count_only_when_signed_fresh_and_from_the_directory() {
    let (_dir, app, occurrence) = teams_daemon(&directory_reaching(
        "kristina.falk",
        "teams_user_id = \"6f1c-kristina\"",
    ))
    .await;
    let now = crate::helpers::test_now();
    let command = format!("<at>arshjul</at> klar {occurrence}");

    let (status, body) = teams_post(&app, b"teams-token", "a1", "6f1c-kristina", &command, now).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["type"], "message");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Tack! Noterat som inlämnat: "),
        "{answer}"
    );
    let stored = app.shared.store.occurrence(occurrence).await.unwrap().unwrap();
    assert_eq!(stored.state.as_str(), "submitted");

    let (status, body) = teams_post(&app, b"teams-token", "a1", "6f1c-kristina", &command, now).await;
    assert_eq!(
        (status, body.contains("Already received")),
        (200, true),
        "a replay does nothing"
    );
    let (status, _) = teams_post(&app, b"wrong-token", "a2", "6f1c-kristina", &command, now).await;
    assert_eq!(status, 401, "a forged signature");
    let old = now - jiff::SignedDuration::from_mins(10);
    let (status, _) = teams_post(&app, b"teams-token", "a3", "6f1c-kristina", &command, old).await;
    assert_eq!(status, 401, "an old request");
    let unsigned = crate::helpers::http()
        .post(format!("{}/hooks/teams", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let (status, body) = teams_post(&app, b"teams-token", "a4", "someone-else", "status", now).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("not in the governance calendar's list of people"),
        "{body}"
    );

    let metrics = crate::helpers::http()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["forged", "stale", "unsigned"] {
        assert!(
            metrics.contains(&format!("arshjul_rejected_hooks_total{{reason=\"{reason}\"}} 1")),
            "{metrics}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn mailgate_keeps_what_it_cannot_read_before_it_fails() {
    let dir = TestDir::new();
    let settings = test_settings(&dir).await;
    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();

    let output = arshjul(&settings, &dir, &["mailgate"], b"");
    assert!(!output.status.success(), "an empty message is no mail");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a mail message"));
    let again = arshjul(&settings, &dir, &["mailgate"], b"");
    assert!(!again.status.success());

    let kept = store.inbox(Some("unreadable"), 10).await.unwrap();
    assert_eq!(kept.len(), 1, "kept once, however often it comes: {kept:?}");
    assert!(
        kept[0].detail.contains("not a mail message (0 bytes)"),
        "{}",
        kept[0].detail
    );
}

#[tokio::test]
async fn arbitrary_mail_never_panics_and_is_never_counted() {
    let dir = TestDir::new();
    let worker = Worker::build(test_settings(&dir).await).await;
    let shared = worker.app.app();
    worker.materialise_and_plan().await;
    let pieces: [&[u8]; 14] = [
        b"From: magnus.berg@example.org\r\n",
        b"To: arshjul+1-0123456789abcdef@example.org\r\n",
        b"In-Reply-To: <7.due.magnus.berg.email@example.org>\r\n",
        b"Content-Type: multipart/report; boundary=x\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Auto-Submitted: no\r\n",
        b"Return-Path: <>\r\n",
        b"\r\n",
        b"--x\r\n",
        b"klar\r\n",
        b"> ok\r\n",
        "Hälsningar ✅ 👍🏽\r\n".as_bytes(),
        b"=?utf-8?b?w6XDpA==?=",
        &[0xff, 0xfe, 0x00, 0x80],
    ];
    let mut rng = fastrand::Rng::with_seed(822);
    for _ in 0..300 {
        let raw: Vec<u8> = (0..rng.usize(0..12))
            .flat_map(|_| pieces[rng.usize(..pieces.len())].to_vec())
            .collect();
        arshjul::inbound::email::receive(&shared, &raw)
            .await
            .expect("handled without error");
    }
    let kept = shared.store.inbox(None, 1_000).await.unwrap();
    assert!(kept.len() > 100, "most of it is kept in the inbox: {}", kept.len());
    assert!(
        kept.iter().all(|m| m.outcome != "recorded" && m.outcome != "received"),
        "random mail never acts and is always settled"
    );
}

/// The test run's Dovecot (plain IMAP) with the password user's credentials.
fn imap_url() -> reqwest::Url {
    let url = std::env::var("ARSHJUL_TEST_IMAP_URL")
        .expect("ARSHJUL_TEST_IMAP_URL is not set: run the suite with scripts/test");
    reqwest::Url::parse(&url).unwrap()
}

/// A connection to the test run's Dovecot, greeted, not signed in.
pub(crate) async fn imap_client() -> async_imap::Client<tokio::net::TcpStream> {
    let url = imap_url();
    let tcp = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client
}

/// Logs in to the test run's Dovecot.
pub(crate) async fn imap_session() -> async_imap::Session<tokio::net::TcpStream> {
    let url = imap_url();
    imap_client()
        .await
        .login(url.username(), url.password().unwrap())
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

async fn count(session: &mut async_imap::Session<tokio::net::TcpStream>, folder: &str) -> u32 {
    session.select(folder).await.unwrap().exists
}

#[tokio::test]
async fn the_imap_poller_takes_in_replies_auto_replies_and_bounces_and_moves_them_away() {
    let Flow {
        worker,
        mut settings,
        dir,
        occurrence,
    } = linnea_submits_on_matrix().await;
    let request = acknowledgement_request(&dir);
    let folder = format!("replies-{}", fastrand::u32(..));
    settings.email.imap_url = Secret::new(std::env::var("ARSHJUL_TEST_IMAP_URL").unwrap());
    settings.email.imap_folder = folder.clone();
    settings.email.imap_processed_folder = format!("{folder}-done");
    let mut imap = imap_session().await;
    imap.create(&folder).await.unwrap();
    let out_of_office = reply(
        &request,
        "magnus.berg@example.org",
        "Borta.",
        "Auto-Submitted: auto-replied\r\n",
    );
    let ok = reply(&request, "magnus.berg@example.org", "ok", "");
    let bounce = bounce_of(request.message_id().unwrap(), "arshjul@example.org");
    for raw in [out_of_office, ok, bounce] {
        imap.append(&folder, None, None, raw).await.unwrap();
    }

    let shared = worker.app.app();
    let taken = arshjul::inbound::imap::poll_once(&shared, &settings.email)
        .await
        .unwrap();

    assert_eq!(taken, 3);
    let (state, outcomes) = state_and_inbox(&shared, occurrence).await;
    assert_eq!(state, "acknowledged");
    assert_eq!(outcomes, ["bounce", "recorded", "auto_reply", "recorded"]);
    assert_eq!(count(&mut imap, &folder).await, 0, "processed mail leaves the folder");
    assert_eq!(
        count(&mut imap, &format!("{folder}-done")).await,
        3,
        "and is kept in the processed folder"
    );
    assert_eq!(
        arshjul::inbound::imap::poll_once(&shared, &settings.email)
            .await
            .unwrap(),
        0
    );
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn a_unit_asks_to_waive_and_klk_refuses_then_grants() {
    let directory = directory_reaching("kristina.falk", "teams_user_id = \"aad-kristina\"").replacen(
        "email = \"johan.lindqvist@example.org\"\n",
        "email = \"johan.lindqvist@example.org\"\nteams_user_id = \"aad-johan\"\n",
        1,
    );
    let (_dir, app, occurrence) = teams_daemon(&directory).await;
    let now = crate::helpers::test_now();
    let say = |id: &'static str, who: &'static str, text: String| {
        let app = &app;
        async move { teams_post(app, b"teams-token", id, who, &text, now).await.1 }
    };

    let asked = say(
        "w1",
        "aad-kristina",
        format!("ej aktuellt {occurrence}: inga EU-projekt"),
    )
    .await;
    assert!(asked.contains("kommunledningskontoret avgör"), "{asked}");
    let outbox = app.shared.store.outbox(None, 1_000).await.unwrap();
    let told = outbox
        .iter()
        .find(|r| r.step == "waive-request")
        .expect("KLK is asked to decide");
    assert_eq!(
        (told.recipient.as_str(), told.channel.as_str()),
        ("johan.lindqvist", "email")
    );
    let not_hers = say("w2", "aad-kristina", format!("bevilja {occurrence}")).await;
    assert!(
        not_hers.contains("Svaret kunde inte registreras"),
        "a unit cannot grant its own request: {not_hers}"
    );
    let refused = say("w3", "aad-johan", format!("avslå {occurrence}")).await;
    assert!(refused.contains("är avslagen"), "{refused}");
    let state = |app: &crate::helpers::TestApp| {
        let store = app.shared.store.clone();
        async move {
            store
                .occurrence(occurrence)
                .await
                .unwrap()
                .unwrap()
                .state
                .as_str()
                .to_owned()
        }
    };
    assert_eq!(state(&app).await, "open", "a refused request changes nothing");
    let granted = say("w4", "aad-johan", format!("bevilja {occurrence}")).await;
    assert!(granted.contains("Struket"), "{granted}");
    assert_eq!(state(&app).await, "waived");
    let trail: Vec<String> = app
        .shared
        .store
        .audit_log(Some(occurrence))
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.actor))
        .filter(|a| a.starts_with("waive"))
        .collect();
    assert_eq!(
        trail,
        [
            "waive-request kristina.falk",
            "waive-refused johan.lindqvist",
            "waive johan.lindqvist"
        ]
    );
    app.stop().await;
}

/// Occurrence `unit`/`obligation`'s delivery to `person` on Matrix, sent as event `event` in
/// `room`, as the dispatcher records it.
pub(crate) async fn sent_on_matrix(
    app: &std::sync::Arc<arshjul::app::App>,
    unit: &str,
    obligation: &str,
    person: &str,
    event: &str,
    room: &str,
) -> i64 {
    use arshjul::domain::planner::Delivery;
    use arshjul::domain::steps::{Reason, Step, Subject};
    let now = crate::helpers::test_now();
    app.materialise().await.unwrap();
    let occurrence = app
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.unit == unit && o.obligation == obligation)
        .unwrap()
        .id;
    let delivery = Delivery {
        subject: Subject::Occurrence(occurrence),
        step: Step::Due,
        recipient: person.to_owned(),
        route: "matrix".parse().unwrap(),
        not_before: now,
        reason: Reason::Holder,
        idempotency_key: format!("test/{event}/{occurrence}"),
    };
    let store = &app.store;
    store.enqueue(&[delivery], now).await.unwrap();
    let claimed = store
        .claim(now, jiff::SignedDuration::from_secs(60), 10_000)
        .await
        .unwrap();
    let row = claimed
        .iter()
        .find(|r| r.idempotency_key == format!("test/{event}/{occurrence}"))
        .unwrap();
    let sent = arshjul::storage::DeliveryOutcome::Sent {
        provider_id: Some(event.to_owned()),
        destination: Some(room.to_owned()),
    };
    store.record(&[(row.id, sent)], now).await.unwrap();
    occurrence
}

#[tokio::test]
async fn on_matrix_a_reply_counts_only_in_its_room_and_status_only_in_private() {
    use arshjul::app::inbound::{Authenticity, Inbound, Sender, handle};
    use arshjul::domain::replies::Answer;
    let dir = TestDir::new();
    let worker = Worker::build(test_settings(&dir).await).await;
    let app = worker.app.app();
    // Sara Nilsson deputises for KLK's strategist; her reminder went to her direct room.
    let occurrence = sent_on_matrix(
        &app,
        "klk",
        "handlingsplan",
        "sara.nilsson",
        "$reminder",
        "!direct:example.org",
    )
    .await;
    let said = |reference: &str, text: &str, room: &str, private: bool| Inbound {
        channel: "matrix",
        reference: reference.to_owned(),
        sender: Sender::Matrix("@sara.nilsson:example.org".into()),
        in_reply_to: Some("$reminder".into()),
        text: text.to_owned(),
        room: Some(room.to_owned()),
        private,
        authenticity: Authenticity::Vouched,
    };

    // A reply to that event id posted in another room is no reply to the reminder.
    let elsewhere = handle(&app, &said("$1", "klar", "!public:example.org", false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(elsewhere.answer, Answer::NoItem);
    let status = handle(&app, &said("$2", "status", "!public:example.org", false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.answer, Answer::StatusInPrivate, "{}", status.text);
    assert!(status.text.contains("direktmeddelande"), "{}", status.text);

    let mine = handle(&app, &said("$3", "status", "!direct:example.org", true))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&mine.answer, Answer::Status { lines } if lines.iter().any(|l| l.starts_with(&format!("#{occurrence} ")))),
        "{mine:?}"
    );
    let done = handle(&app, &said("$4", "klar", "!direct:example.org", true))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(done.answer, Answer::Recorded { .. }), "{:?}", done.answer);
}
