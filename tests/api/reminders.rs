//! Reminders that arrive: the planner writes the outbox, the dispatcher sends through a real
//! SMTP server and a real HTTP sink, failures are retried or dead-lettered as classified, and
//! the signed link in a reminder records the action once.

use std::sync::Arc;

use arshjul::clock::ManualClock;
use arshjul::domain::config::Transport;
use arshjul::domain::occurrence::OccurrenceState;
use arshjul::domain::planner::Delivery;
use arshjul::domain::routing::Route;
use arshjul::domain::steps::DeliveryState;
use arshjul::domain::steps::{Reason, Step, Subject};
use arshjul::settings::{EmailTransport, Secret, Settings};
use arshjul::startup::Application;
use jiff::SignedDuration;

use crate::helpers::{TestDir, Worker, route_all, test_now, test_settings};
use crate::peers::{SmtpSink, WebhookSink, eventually};

fn smtp(settings: &mut Settings, sink: &SmtpSink) {
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(sink.url());
    settings.email.timeout_seconds = 5;
}

#[tokio::test]
async fn reminders_due_now_arrive_by_smtp_in_swedish_with_their_headers() {
    let dir = TestDir::new();
    let sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let worker = Worker::build(settings).await;

    let planned = worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    // At 09:00 on Friday 27 November 2026 the operational plans due Monday 30 November are at
    // their before-2 step: one reminder to the head of every department, company and KLK.
    assert_eq!(planned, 15);
    assert_eq!(dispatched.sent, 15);
    let rows = worker.outbox().await;
    assert!(
        rows.iter()
            .all(|r| r.state == DeliveryState::Sent && r.step == "before-2"),
        "{rows:?}"
    );
    let mails = sink.messages();
    assert_eq!(
        mails.len(),
        rows.iter()
            .map(|r| &r.recipient)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    let mail = mails
        .iter()
        .find(|m| m.to() == "kristina.falk@example.org")
        .expect("the housing company's CEO");
    assert_eq!(
        mail.subject(),
        "Internationella prioriteringar med uppföljningsbara mål i verksamhetsplan och budget – Hembygd Bostäder AB (1 arbetsdag kvar)"
    );
    assert_eq!(mail.header("Auto-Submitted").as_deref(), Some("auto-generated"));
    let row = rows.iter().find(|r| r.recipient == "kristina.falk").unwrap();
    assert_eq!(
        mail.header("X-Arshjul-Deliveries").as_deref(),
        Some(row.idempotency_key.as_str())
    );
    assert_eq!(
        mail.header("Message-ID"),
        row.provider_id,
        "the delivery records the Message-ID"
    );
    let text = mail.text();
    for expected in [
        "Hej Kristina!",
        "Sista dag:  måndag 30 november 2026 kl. 16.00",
        "Markera som inlämnad: http://127.0.0.1:8080/ack/v2.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(mail.html().contains("<a href="));
    assert_eq!(worker.drain().await, Default::default(), "nothing is sent twice");
    assert_eq!(worker.materialise_and_plan().await, 0, "planning again adds nothing");
}

#[tokio::test]
async fn deliveries_for_one_recipient_in_one_window_go_out_as_one_digest() {
    let dir = TestDir::new();
    let sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let worker = Worker::build(settings).await;
    worker.materialise_and_plan().await;
    worker.drain().await;
    let shared = worker.app.app();
    let occurrences = shared.store.occurrences().await.unwrap();
    let two: Vec<Delivery> = occurrences
        .iter()
        .filter(|o| o.unit == "tekniska")
        .take(2)
        .map(|o| Delivery {
            subject: Subject::Occurrence(o.id),
            step: Step::Before(30),
            recipient: shared
                .config()
                .directory
                .people
                .iter()
                .find(|p| p.id.as_str() == "linnea.dahl")
                .unwrap()
                .id
                .to_string(),
            route: Route::personal(Transport::Email),
            not_before: test_now(),
            reason: Reason::Holder,
            idempotency_key: format!("{}/before-30/linnea.dahl/email", o.id),
        })
        .collect();
    assert_eq!(two.len(), 2);
    shared.store.enqueue(&two, test_now()).await.unwrap();

    let dispatched = worker.drain().await;

    assert_eq!((dispatched.messages, dispatched.sent), (1, 2));
    let mail = sink
        .messages()
        .into_iter()
        .find(|m| m.to() == "linnea.dahl@example.org")
        .unwrap();
    assert_eq!(mail.subject(), "Årshjulet: 2 uppgifter att hantera");
    assert_eq!(mail.header("X-Arshjul-Deliveries").unwrap().split(' ').count(), 2);
    assert!(mail.text().contains("Du har 2 uppgifter"), "{}", mail.text());
}

#[tokio::test]
async fn when_the_mail_server_is_down_deliveries_wait_and_then_go() {
    let dir = TestDir::new();
    let mut sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let worker = Worker::build(settings).await;
    sink.stop();

    worker.materialise_and_plan().await;
    let down = worker.drain().await;

    assert_eq!((down.sent, down.retried, down.dead), (0, 15, 0));
    let rows = worker.outbox().await;
    assert!(
        rows.iter()
            .all(|r| r.state == DeliveryState::Failed && r.last_error.as_deref().unwrap_or("").contains("SMTP"))
    );
    assert!(rows.iter().all(|r| r.not_before > test_now()), "retries wait");

    sink.resume();
    assert_eq!(worker.drain().await, Default::default(), "not before their retry time");
    worker.clock.advance(SignedDuration::from_hours(1));
    let up = worker.drain().await;

    assert_eq!(up.sent, 15);
    assert!(
        worker
            .outbox()
            .await
            .iter()
            .all(|r| r.state == DeliveryState::Sent && r.attempts == 2)
    );
    assert_eq!(sink.messages().len(), 15);
}

#[tokio::test]
async fn a_permanently_refused_address_goes_dead_with_its_reason() {
    let dir = TestDir::new().with_shipped_config();
    let directory = std::fs::read_to_string(dir.path().join("directory.toml")).unwrap();
    dir.write(
        "directory.toml",
        &directory.replace(
            "email = \"kristina.falk@example.org\"",
            "email = \"reject.kristina@example.org\"",
        ),
    );
    let sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let worker = Worker::build(settings).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    assert_eq!((dispatched.sent, dispatched.dead), (14, 1));
    let dead = worker
        .app
        .app()
        .store
        .outbox(Some(DeliveryState::Dead), 10)
        .await
        .unwrap();
    assert_eq!(dead[0].recipient, "kristina.falk");
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("550"),
        "{:?}",
        dead[0].last_error
    );
    assert_eq!(dead[0].attempts, 1, "no retry for a permanent error");
}

/// Settings posting to `sink` on the webhook channel.
async fn webhook_settings(dir: &TestDir, sink: &WebhookSink, max_attempts: u32) -> Settings {
    let mut settings = test_settings(dir).await;
    route_all(&mut settings, &["webhook"]);
    settings.delivery.max_attempts = max_attempts;
    settings.webhook.url = Secret::new(sink.url.clone());
    settings.webhook.secret = Secret::new("webhook-secret-0123456789abcdef0123456789");
    settings.webhook.timeout_seconds = 1;
    settings
}

/// A worker posting to `sink` on the webhook channel, with one delivery in its outbox.
async fn webhook_worker(dir: &TestDir, sink: &WebhookSink, max_attempts: u32) -> Worker {
    let worker = Worker::build(webhook_settings(dir, sink, max_attempts).await).await;
    enqueue_one_webhook(&worker.app.app()).await;
    worker
}

/// One delivery due now on the webhook channel.
async fn enqueue_one_webhook(shared: &arshjul::app::App) {
    shared.materialise().await.unwrap();
    let occurrence = shared.store.occurrences().await.unwrap().remove(0);
    let one = Delivery {
        subject: Subject::Occurrence(occurrence.id),
        step: Step::Due,
        recipient: shared.config().directory.people[0].id.to_string(),
        route: Route::personal(Transport::Webhook),
        not_before: test_now(),
        reason: Reason::Holder,
        idempotency_key: "test/webhook/1".into(),
    };
    shared.store.enqueue(&[one], test_now()).await.unwrap();
}

#[tokio::test]
async fn retry_after_counts_from_when_the_peer_answered_rounded_up() {
    let dir = TestDir::new();
    // The receiver takes 1.5 s to say "429, try again in 2 s".
    let sink = WebhookSink::start(dir.path(), &["429:2@1.5"]);
    let mut settings = webhook_settings(&dir, &sink, 8).await;
    settings.webhook.timeout_seconds = 5;
    // A clock that runs, as in production: the answer comes 1.5 s after the claim.
    let clock = Arc::new(arshjul::clock::SystemClock::starting_at(test_now()));
    let app = Application::build(settings, clock.clone()).await.unwrap();
    enqueue_one_webhook(&app.app()).await;
    let claimed = arshjul::clock::Clock::now(clock.as_ref());
    app.dispatcher().try_next().await.unwrap();

    let rows = app.app().store.outbox(None, 10).await.unwrap();
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 429"));
    let waited = rows[0].not_before.duration_since(claimed);
    assert!(
        waited >= SignedDuration::from_millis(3_500),
        "not before the answer (1.5 s) plus Retry-After (2 s): {waited:?}"
    );
    assert_eq!(rows[0].not_before.subsec_nanosecond(), 0, "whole seconds, rounded up");
}

#[tokio::test]
async fn webhook_failures_are_retried_as_classified_and_the_signature_verifies() {
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["500", "429:7", "sleep:3", "200"]);
    let worker = webhook_worker(&dir, &sink, 8).await;
    let state =
        |rows: Vec<arshjul::storage::OutboxRow>| (rows[0].state, rows[0].last_error.clone(), rows[0].not_before);

    assert_eq!(worker.drain().await.retried, 1);
    let (s, error, _) = state(worker.outbox().await);
    assert_eq!((s, error.as_deref()), (DeliveryState::Failed, Some("HTTP 500")));

    worker.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(worker.drain().await.retried, 1);
    let (_, error, at) = state(worker.outbox().await);
    assert_eq!(error.as_deref(), Some("HTTP 429"));
    assert_eq!(
        at,
        worker.now().checked_add(SignedDuration::from_secs(7)).unwrap(),
        "Retry-After is honoured"
    );

    worker.clock.advance(SignedDuration::from_secs(8));
    assert_eq!(worker.drain().await.retried, 1);
    let (_, error, _) = state(worker.outbox().await);
    assert_eq!(
        error.as_deref(),
        Some("webhook timed out"),
        "a slow sink is a timeout, retried"
    );

    worker.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(worker.drain().await.sent, 1);
    let rows = worker.outbox().await;
    assert_eq!((rows[0].state, rows[0].attempts), (DeliveryState::Sent, 4));
    assert_eq!(rows[0].current_error(), None, "sent: no error stands");
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("webhook timed out"),
        "the history stays"
    );

    let posted = sink.received();
    assert_eq!(posted.len(), 4);
    let last = posted.last().unwrap();
    let header = |name: &str| {
        last.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let timestamp: i64 = header("X-Arshjul-Timestamp").parse().unwrap();
    let expected = arshjul::channels::webhook::WebhookNotifier::signature(
        b"webhook-secret-0123456789abcdef0123456789",
        timestamp,
        last.body.as_bytes(),
    );
    assert_eq!(
        header("X-Arshjul-Signature"),
        expected,
        "the receiver can verify the signature"
    );
    let body: serde_json::Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(body["items"][0]["idempotency_key"], "test/webhook/1");
    assert!(!last.body.contains("webhook-secret"));
    let keys: Vec<&str> = posted
        .iter()
        .filter_map(|p| {
            p.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Idempotency-Key"))
        })
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        keys, ["test/webhook/1"; 4],
        "every attempt carries the same key to deduplicate on"
    );
}

#[tokio::test]
async fn webhook_client_errors_are_dead_at_once_and_endless_failures_dead_after_the_last_attempt() {
    let dir = TestDir::new();
    let refusing = WebhookSink::start(dir.path(), &["400"]);
    let worker = webhook_worker(&dir, &refusing, 8).await;
    assert_eq!(worker.drain().await.dead, 1);
    let row = worker.outbox().await.remove(0);
    assert_eq!(
        (row.state, row.last_error.as_deref(), row.attempts),
        (DeliveryState::Dead, Some("HTTP 400"), 1)
    );

    let dir = TestDir::new();
    let failing = WebhookSink::start(dir.path(), &["503"]);
    let worker = webhook_worker(&dir, &failing, 3).await;
    for _ in 0..3 {
        worker.drain().await;
        worker.clock.advance(SignedDuration::from_hours(3));
    }
    let row = worker.outbox().await.remove(0);
    assert_eq!(row.state, DeliveryState::Dead);
    assert_eq!(row.last_error.as_deref(), Some("gave up after 3 attempts: HTTP 503"));
    assert_eq!(failing.received().len(), 3);
}

#[tokio::test]
async fn the_link_in_a_reminder_confirms_once_and_asks_the_manager_to_acknowledge() {
    let dir = TestDir::new();
    let sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    settings.server.port = port;
    settings.links.base_url = format!("http://127.0.0.1:{port}");
    settings.delivery.poll_milliseconds = 50;
    let clock = Arc::new(ManualClock::new(test_now()));
    let app = Application::build(settings, clock.clone()).await.unwrap();
    let shared = app.app();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    assert!(eventually(|| sink.messages().len() == 15).await, "the reminders arrive");
    let mail = sink
        .messages()
        .into_iter()
        .find(|m| m.to() == "kristina.falk@example.org")
        .unwrap();
    let text = mail.text();
    let link = text
        .lines()
        .find_map(|l| l.strip_prefix("Markera som inlämnad: "))
        .unwrap()
        .trim()
        .to_owned();
    let client = crate::helpers::http();

    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\"") && html.contains("Markera som inlämnad"),
        "{html}"
    );
    let occurrence_id = worker_occurrence(&shared, "hembygd-bostader").await;
    assert_eq!(
        shared.store.occurrence(occurrence_id).await.unwrap().unwrap().state,
        OccurrenceState::Open,
        "GET changes nothing"
    );

    let confirmed = client.post(&link).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("Tack – det är registrerat"));
    let occurrence = shared.store.occurrence(occurrence_id).await.unwrap().unwrap();
    assert_eq!(occurrence.state, OccurrenceState::Submitted);
    let audit = shared
        .store
        .audit_log(Some(occurrence_id))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (audit.actor.as_str(), audit.action.as_str()),
        ("kristina.falk", "submit")
    );
    assert!(audit.detail.contains("\"channel\":\"link\""), "{}", audit.detail);
    let requests = shared.store.outbox(None, 100).await.unwrap();
    assert!(
        requests.iter().any(|r| r.occurrence_id == Some(occurrence_id)
            && r.step == "acknowledge"
            && r.recipient == "kristina.falk"),
        "the manager is asked to acknowledge: {requests:?}"
    );

    let again = client.post(&link).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("Redan registrerat"));

    let (signed, tag) = link.rsplit_once('.').unwrap();
    let tampered = format!("{signed}.{}", tag.chars().rev().collect::<String>());
    let forged = client.post(&tampered).send().await.unwrap();
    assert_eq!(forged.status(), 400);
    assert!(forged.text().await.unwrap().contains("Länken är ogiltig"));
    clock.advance(SignedDuration::from_hours(24 * 61));
    assert_eq!(client.get(&link).send().await.unwrap().status(), 410, "links expire");

    let metrics = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "arshjul_rejected_links_total{reason=\"forged\"} 1",
        "arshjul_rejected_links_total{reason=\"expired\"} 1",
        "arshjul_actions_total{action=\"submit\",outcome=\"recorded\"} 1",
        "arshjul_actions_total{action=\"submit\",outcome=\"already\"} 1",
        "arshjul_deliveries_total{channel=\"email\",outcome=\"sent\"} 1",
        "arshjul_send_seconds_count",
    ] {
        assert!(metrics.contains(expected), "missing {expected:?} in\n{metrics}");
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

async fn worker_occurrence(shared: &arshjul::app::App, unit: &str) -> i64 {
    shared
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.unit == unit && o.obligation == "verksamhetsplan")
        .unwrap()
        .id
}

#[tokio::test]
async fn with_no_mail_server_configured_reminders_are_written_as_files_in_swedish() {
    let dir = TestDir::new();
    let settings = test_settings(&dir).await;
    assert_eq!(
        settings.email.transport,
        EmailTransport::File,
        "the default needs no mail server"
    );
    let mail_dir = settings.email.file_dir.clone();
    let worker = Worker::build(settings).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    let files: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(files.len(), dispatched.messages);
    assert_eq!(dispatched.sent, 15);
    let raw = files
        .iter()
        .find(|f| f.contains("kristina.falk@example.org"))
        .expect("a message to the housing company's CEO");
    let mail = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert!(mail.subject().unwrap().contains("(1 arbetsdag kvar)"));
    assert!(
        mail.body_text(0)
            .unwrap()
            .contains("Sista dag:  måndag 30 november 2026 kl. 16.00")
    );
}

#[tokio::test]
async fn a_webhook_that_does_not_answer_at_all_is_retried() {
    let dir = TestDir::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = test_settings(&dir).await;
    route_all(&mut settings, &["webhook"]);
    settings.webhook.url = Secret::new(format!("http://127.0.0.1:{closed}/hook?token=secret-in-url"));
    settings.webhook.secret = Secret::new("s".repeat(32));
    let worker = Worker::build(settings).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    assert_eq!((dispatched.sent, dispatched.retried), (0, 15));
    let rows = worker.outbox().await;
    assert!(
        rows.iter()
            .all(|r| r.last_error.as_deref() == Some("webhook connection failed")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|r| !r.last_error.as_deref().unwrap_or("").contains("secret-in-url")),
        "no URL in errors"
    );
}

/// An operator's template in `files.templates` replaces the built-in one without a rebuild,
/// and a changed one takes effect on reload; one that breaks is refused on reload and the
/// running templates are kept.
#[tokio::test]
async fn an_operators_template_changes_the_message_and_a_reload_takes_in_a_new_one() {
    let dir = TestDir::new();
    let sink = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    smtp(&mut settings, &sink);
    let overrides = dir.path().join("templates");
    std::fs::create_dir_all(overrides.join("email")).unwrap();
    let ours = |signature: &str| {
        format!(
            "Hej {{{{ name }}}}!\n\n{{{{ intro }}}}\n{{% for item in items %}}\n{{{{ item.title }}}} – {{{{ item.status }}}}\n{{% endfor %}}\n{signature}\n"
        )
    };
    std::fs::write(
        overrides.join("email/sv.txt"),
        ours("Internationella enheten, Kristianstads kommun"),
    )
    .unwrap();
    settings.files.templates = overrides.clone();
    let worker = Worker::build(settings).await;
    worker.materialise_and_plan().await;
    worker.drain().await;
    let kristina = |sink: &SmtpSink| {
        sink.messages()
            .into_iter()
            .filter(|m| m.to().contains("kristina.falk@example.org"))
            .map(|m| m.text())
            .collect::<Vec<_>>()
    };
    let first = kristina(&sink);
    assert_eq!(first.len(), 1);
    assert!(
        first[0].contains("Internationella enheten, Kristianstads kommun"),
        "{}",
        first[0]
    );
    assert!(!first[0].contains("Ur riktlinjerna"), "the built-in text is replaced");

    let shared = worker.app.app();
    std::fs::write(overrides.join("email/sv.txt"), "{{ items | nosuch }}").unwrap();
    let refused = shared
        .reload()
        .await
        .expect_err("a broken template is refused")
        .to_string();
    assert!(
        refused.contains("templates/email/sv.txt:1: unknown filter"),
        "{refused}"
    );
    std::fs::write(overrides.join("email/sv.txt"), ours("EU-nätverket, Kristianstad")).unwrap();
    shared.reload().await.expect("a valid template is taken in");

    // Monday 30 November: the due-day reminder uses the new template.
    worker.clock.set("2026-11-30T07:00:00Z".parse().unwrap());
    worker.materialise_and_plan().await;
    worker.drain().await;
    let both = kristina(&sink);
    assert_eq!(both.len(), 2);
    assert!(
        both.iter().any(|text| text.contains("EU-nätverket, Kristianstad")),
        "{both:?}"
    );
}
