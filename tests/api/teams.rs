//! Teams through an HTTP sink standing in for a Workflows webhook: the card Teams would accept,
//! throttling, timeouts, refusals, dead-lettering and the fall-back to email; a legacy
//! connector's MessageCard; and a Matrix (hookshot) webhook, which is the same kind of peer.

use arshjul::domain::steps::DeliveryState;
use arshjul::settings::{CardFormat, MatrixWebhook, Secret, Settings, TeamsWebhook};
use arshjul::storage::OutboxRow;
use jiff::SignedDuration;
use serde_json::Value;

use crate::helpers::{TestDir, Worker, directory_reaching, repo, test_settings};
use crate::peers::WebhookSink;

/// Kristina Falk (reminded at `test_now`) reads Teams through her own webhook, `sink`.
async fn kristina_on_teams(dir: &TestDir, sink: &WebhookSink, format: CardFormat) -> Settings {
    dir.write(
        "directory.toml",
        &directory_reaching("kristina.falk", "teams = \"kristina-falk\"\nprefers = [\"teams\"]"),
    );
    dir.write(
        "calendar.toml",
        &std::fs::read_to_string(repo().join("config/calendar.toml")).unwrap(),
    );
    let mut settings = test_settings(dir).await;
    // Named with "_" as an environment variable would set it; the directory says "-".
    settings.teams.webhooks.insert(
        "kristina_falk".into(),
        TeamsWebhook {
            url: Secret::new(sink.url.clone()),
            format,
        },
    );
    settings.teams.timeout_seconds = 1;
    settings
}

fn kristina<'a>(rows: &'a [OutboxRow], channel: &str) -> &'a OutboxRow {
    rows.iter()
        .find(|r| r.recipient == "kristina.falk" && r.channel == channel)
        .unwrap_or_else(|| panic!("no {channel} delivery to Kristina in {rows:#?}"))
}

/// The rules Teams applies to a Workflows message with an Adaptive Card: the envelope, one
/// card of a version Teams renders, known body elements, and only the actions an incoming
/// webhook supports (no Action.Submit: nobody would receive it), all within the size limit.
fn assert_teams_accepts(raw: &str) -> &Value {
    let body: &'static Value = Box::leak(Box::new(serde_json::from_str::<Value>(raw).expect("JSON")));
    assert!(raw.len() <= 28 * 1024, "Teams refuses messages over 28 KiB");
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "Workflows posts the first attachment only");
    assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.adaptive");
    assert!(attachments[0]["contentUrl"].is_null());
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    let version: f64 = card["version"].as_str().expect("version is a string").parse().unwrap();
    assert!((1.0..=1.5).contains(&version), "Teams renders 1.0–1.5, not {version}");
    fn check_elements(elements: &[Value]) {
        for element in elements {
            match element["type"].as_str().expect("every element has a type") {
                "TextBlock" => assert!(!element["text"].as_str().expect("text").is_empty()),
                "FactSet" => {
                    for fact in element["facts"].as_array().expect("facts") {
                        assert!(fact["title"].is_string() && fact["value"].is_string(), "{fact}");
                    }
                }
                "Container" => check_elements(element["items"].as_array().expect("items")),
                "ActionSet" => check_actions(element["actions"].as_array().expect("actions")),
                other => panic!("element {other} is not one this card should use"),
            }
        }
    }
    fn check_actions(actions: &[Value]) {
        for action in actions {
            match action["type"].as_str().expect("every action has a type") {
                "Action.OpenUrl" => {
                    assert!(!action["title"].as_str().expect("title").is_empty());
                    let url = action["url"].as_str().expect("url");
                    assert!(url.starts_with("https://") || url.starts_with("http://"), "{url}");
                }
                "Action.ShowCard" | "Action.ToggleVisibility" => {}
                other => panic!("{other} is not supported in cards posted by webhooks"),
            }
        }
    }
    check_elements(card["body"].as_array().expect("body"));
    if let Some(actions) = card["actions"].as_array() {
        check_actions(actions);
    }
    card
}

/// Every text of a card, in order.
fn texts(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) => into.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|v| texts(v, into)),
        Value::Object(fields) => fields.values().for_each(|v| texts(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn a_teams_card_follows_the_rules_teams_enforces_and_opens_the_signed_link() {
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["202"]);
    let worker = Worker::build(kristina_on_teams(&dir, &sink, CardFormat::AdaptiveCard).await).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    assert_eq!(
        (dispatched.sent, dispatched.dead),
        (15, 0),
        "202 (queued by Workflows) is success"
    );
    assert_eq!(kristina(&worker.outbox().await, "teams").state, DeliveryState::Sent);
    let posted = sink.received();
    assert_eq!(posted.len(), 1);
    let card = assert_teams_accepts(&posted[0].body);
    let mut all = Vec::new();
    texts(card, &mut all);
    for expected in [
        "Internationella prioriteringar med uppföljningsbara mål i verksamhetsplan och budget – Hembygd Bostäder AB (1 arbetsdag kvar)",
        "Enhet",
        "Hembygd Bostäder AB",
        "Sista dag",
        "måndag 30 november 2026 kl. 16.00",
        "Status",
        "1 arbetsdag kvar",
        "Markera som inlämnad",
    ] {
        assert!(all.iter().any(|t| t == expected), "missing {expected:?} in {all:#?}");
    }
    assert!(
        all.iter().any(|t| t.starts_with("Ur riktlinjerna: ”")),
        "the guideline's basis"
    );
    let link = all
        .iter()
        .find(|t| t.starts_with("http://127.0.0.1:8080/ack/v2."))
        .expect("a signed link");
    let token = link.rsplit('/').next().unwrap();
    let claims: Result<arshjul::domain::tokens::LinkClaims, _> =
        worker.app.app().links.signer.verify(token, worker.now());
    assert!(claims.is_ok(), "the button opens a valid signed link: {claims:?}");
}

#[tokio::test]
async fn teams_throttling_is_waited_out_and_a_refusal_goes_by_email_instead() {
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["429:9", "400"]);
    let worker = Worker::build(kristina_on_teams(&dir, &sink, CardFormat::AdaptiveCard).await).await;
    worker.materialise_and_plan().await;

    assert_eq!(worker.drain().await.retried, 1);
    let row = kristina(&worker.outbox().await, "teams").clone();
    assert_eq!(
        (row.state, row.last_error.as_deref()),
        (DeliveryState::Failed, Some("HTTP 429"))
    );
    assert_eq!(
        row.not_before,
        worker.now() + SignedDuration::from_secs(9),
        "Retry-After is honoured"
    );

    worker.clock.advance(SignedDuration::from_secs(10));
    let dispatched = worker.drain().await;

    assert_eq!((dispatched.fell_back, dispatched.sent), (1, 1));
    let rows = worker.outbox().await;
    let teams = kristina(&rows, "teams");
    assert_eq!(teams.state, DeliveryState::Dead);
    assert_eq!(
        teams.last_error.as_deref(),
        Some("sent by email instead after 2 attempts: HTTP 400")
    );
    let email = kristina(&rows, "email");
    assert_eq!(
        (email.state, email.step.as_str()),
        (DeliveryState::Sent, teams.step.as_str())
    );
    let mails: Vec<String> = std::fs::read_dir(dir.path().join("outbox-mail"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|m| m.contains("kristina.falk@example.org"))
        .collect();
    assert_eq!(mails.len(), 1, "Kristina gets her reminder by email");
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test]
async fn a_teams_webhook_that_keeps_failing_falls_back_after_the_set_attempts_or_goes_dead() {
    // Falling back after 2 attempts; after 5, but only 2 are allowed; never.
    for (fallback_after, max_attempts) in [(2, 8), (5, 2), (0, 2)] {
        let dir = TestDir::new();
        let sink = WebhookSink::start(dir.path(), &["sleep:3", "500"]);
        let mut settings = kristina_on_teams(&dir, &sink, CardFormat::AdaptiveCard).await;
        settings.routing.fallback_to_email_after = fallback_after;
        settings.delivery.max_attempts = max_attempts;
        let worker = Worker::build(settings).await;
        worker.materialise_and_plan().await;

        assert_eq!(worker.drain().await.retried, 1);
        assert_eq!(
            kristina(&worker.outbox().await, "teams").last_error.as_deref(),
            Some("teams timed out")
        );
        worker.clock.advance(SignedDuration::from_hours(2));
        worker.drain().await;

        let rows = worker.outbox().await;
        let teams = kristina(&rows, "teams");
        assert_eq!(teams.state, DeliveryState::Dead);
        let has_email = rows
            .iter()
            .any(|r| r.recipient == "kristina.falk" && r.channel == "email");
        if fallback_after == 0 {
            assert_eq!(teams.last_error.as_deref(), Some("gave up after 2 attempts: HTTP 500"));
            assert!(!has_email, "no fall-back when it is switched off");
        } else {
            assert_eq!(
                teams.last_error.as_deref(),
                Some("sent by email instead after 2 attempts: HTTP 500")
            );
            assert!(has_email);
        }
    }
}

#[tokio::test]
async fn a_legacy_connector_gets_a_message_card_with_link_buttons() {
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["200"]);
    let worker = Worker::build(kristina_on_teams(&dir, &sink, CardFormat::MessageCard).await).await;

    worker.materialise_and_plan().await;
    worker.drain().await;

    let posted = sink.received();
    let card: Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(card["@type"], "MessageCard");
    assert!(card["summary"].as_str().unwrap().contains("Hembygd Bostäder AB"));
    let section = &card["sections"][0];
    assert_eq!(section["facts"][2]["name"], "Sista dag");
    assert_eq!(section["facts"][2]["value"], "måndag 30 november 2026 kl. 16.00");
    let action = &section["potentialAction"][0];
    assert_eq!(
        (action["@type"].as_str(), action["name"].as_str()),
        (Some("OpenUri"), Some("Markera som inlämnad"))
    );
    assert!(
        action["targets"][0]["uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8080/ack/v2.")
    );
}

#[tokio::test]
async fn a_matrix_webhook_posts_text_and_html_into_its_room() {
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["200"]);
    let directory = directory_reaching("kristina.falk", "").replace(
        "[channels.eu-network]\n",
        "[channels.eu-network]\nmatrix_webhook = \"eu-network\"\n",
    );
    dir.write("directory.toml", &directory);
    let mut settings = test_settings(&dir).await;
    settings.matrix.webhooks.insert(
        "eu-network".into(),
        MatrixWebhook {
            url: Secret::new(sink.url.clone()),
        },
    );
    settings.routing.reminders = vec!["eu-network".into()];
    let worker = Worker::build(settings).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    assert_eq!(
        dispatched.sent, 15,
        "each manager's reminder is posted in the network's room"
    );
    let posted = sink.received();
    assert_eq!(posted.len(), 15);
    let bodies: Vec<Value> = posted.iter().map(|p| serde_json::from_str(&p.body).unwrap()).collect();
    let kristina = bodies
        .iter()
        .find(|b| b["text"].as_str().unwrap().contains("Hej Kristina!"))
        .expect("Kristina's reminder");
    let html = kristina["html"].as_str().unwrap();
    assert!(html.contains("<strong>Internationella prioriteringar"), "{html}");
    assert!(!html.contains("<html"), "a fragment, not a document");
}
