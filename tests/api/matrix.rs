//! Matrix against a real Synapse that `scripts/test` starts: reminders in direct rooms with a
//! mention, posts in the directory's rooms, and no duplicate when a send is repeated.

use std::sync::atomic::{AtomicU32, Ordering};

use arshjul::domain::planner::Delivery;
use arshjul::domain::steps::DeliveryState;
use arshjul::domain::steps::{Reason, Step, Subject};
use arshjul::settings::{Secret, Settings};
use arshjul::storage::OutboxRow;
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::durability::{backlog_to, serve};
use crate::helpers::{TestDir, Worker, directory_reaching, http, test_now, test_settings};
use crate::peers::WebhookSink;

/// The homeserver `scripts/test` started.
pub struct Homeserver {
    pub url: String,
    secret: String,
}

/// A user registered for one test.
pub struct MatrixUser {
    pub user_id: String,
    pub token: String,
    homeserver: String,
}

impl Homeserver {
    /// The shared secret that registers users.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The running Synapse; the suite is meant to run through `scripts/test`, which starts it.
    pub fn get() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
        };
        Self {
            url: var("ARSHJUL_TEST_MATRIX_URL"),
            secret: var("ARSHJUL_TEST_MATRIX_SECRET"),
        }
    }

    /// Registers a new user named after `name`, unique to this test, with Synapse's
    /// shared-secret registration.
    pub async fn register(&self, name: &str) -> MatrixUser {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let localpart = format!(
            "{name}-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        );
        let (user_id, token) = arshjul::channels::matrix::register_with_shared_secret(
            &http(),
            &self.url,
            &self.secret,
            &localpart,
            "test-password",
        )
        .await
        .expect("registering a test user");
        MatrixUser {
            user_id,
            token,
            homeserver: self.url.clone(),
        }
    }
}
impl MatrixUser {
    /// Calls the Client-Server API as this user.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = http()
            .request(method, format!("{}/_matrix/client/v3/{path}", self.homeserver))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// The rooms this user is invited to.
    pub async fn invites(&self) -> Vec<String> {
        let sync = self.call(reqwest::Method::GET, "sync?timeout=0", None).await;
        sync["rooms"]["invite"]
            .as_object()
            .map(|rooms| rooms.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("join/{}", encode(room)),
            Some(json!({})),
        )
        .await;
    }

    /// The `m.room.message` events in `room`, oldest first.
    pub async fn messages(&self, room: &str) -> Vec<Value> {
        let page = self
            .call(
                reqwest::Method::GET,
                &format!("rooms/{}/messages?dir=b&limit=200", encode(room)),
                None,
            )
            .await;
        let mut events: Vec<Value> = page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .cloned()
            .collect();
        events.reverse();
        events
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Settings whose Matrix bot is `bot`.
pub fn with_bot(settings: &mut Settings, homeserver: &Homeserver, bot: &MatrixUser) {
    settings.matrix.homeserver_url = homeserver.url.clone();
    settings.matrix.access_token = Secret::new(bot.token.clone());
}

/// A test directory in which only Kristina Falk, the housing company's CEO (reminded at
/// `test_now`), is on Matrix, as `kristina`.
fn kristina_on_matrix(dir: &TestDir, kristina: &MatrixUser, prefers: &str) {
    let lines = format!("matrix_id = \"{}\"\nprefers = {prefers}", kristina.user_id);
    dir.write("directory.toml", &directory_reaching("kristina.falk", &lines));
    dir.write(
        "calendar.toml",
        &std::fs::read_to_string(crate::helpers::repo().join("config/calendar.toml")).unwrap(),
    );
}

/// A bot, Kristina on Matrix preferring `prefers`, her directory, and settings with the bot.
struct Setup {
    bot: MatrixUser,
    kristina: MatrixUser,
    dir: TestDir,
    settings: Settings,
}

impl Setup {
    async fn new(prefers: &str) -> Self {
        let homeserver = Homeserver::get();
        let bot = homeserver.register("arshjul").await;
        let kristina = homeserver.register("kristina").await;
        let dir = TestDir::new();
        kristina_on_matrix(&dir, &kristina, prefers);
        let mut settings = test_settings(&dir).await;
        with_bot(&mut settings, &homeserver, &bot);
        Self {
            bot,
            kristina,
            dir,
            settings,
        }
    }
}

fn row_for<'a>(rows: &'a [OutboxRow], recipient: &str, channel: &str) -> &'a OutboxRow {
    rows.iter()
        .find(|r| r.recipient == recipient && r.channel == channel)
        .unwrap_or_else(|| panic!("no {channel} delivery to {recipient} in {rows:#?}"))
}

#[tokio::test]
async fn a_reminder_reaches_the_person_in_a_direct_room_with_a_mention_and_the_room_is_kept() {
    let Setup {
        bot,
        kristina,
        dir: _dir,
        settings,
    } = Setup::new("[\"matrix\"]").await;
    let worker = Worker::build(settings.clone()).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    assert_eq!((dispatched.sent, dispatched.dead, dispatched.fell_back), (15, 0, 0));
    let rows = worker.outbox().await;
    let row = row_for(&rows, "kristina.falk", "matrix");
    let room = row.destination.clone().expect("the room is recorded");
    let event_id = row.provider_id.clone().expect("the event id is recorded");
    assert!(event_id.starts_with('$'), "{event_id}");
    assert_eq!(
        kristina.invites().await,
        vec![room.clone()],
        "invited to one direct room"
    );
    kristina.join(&room).await;
    let messages = kristina.messages(&room).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let event = &messages[0];
    assert_eq!(event["event_id"], event_id.as_str());
    assert_eq!(event["sender"], bot.user_id.as_str());
    let content = &event["content"];
    assert_eq!(content["msgtype"], "m.text");
    assert_eq!(content["format"], "org.matrix.custom.html");
    assert_eq!(content["m.mentions"], json!({"user_ids": [kristina.user_id]}));
    let html = content["formatted_body"].as_str().unwrap();
    assert!(
        html.contains(&format!(
            "<a href=\"https://matrix.to/#/{}\">Kristina Falk</a>",
            kristina.user_id
        )),
        "a pill: {html}"
    );
    assert!(html.contains("<strong>Internationella prioriteringar"), "{html}");
    assert!(html.contains("Hembygd Bostäder AB"), "{html}");
    let body = content["body"].as_str().unwrap();
    for expected in [
        "Hej Kristina!",
        "Sista dag:  måndag 30 november 2026 kl. 16.00",
        "Markera som inlämnad: http://127.0.0.1:8080/ack/v2.",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    let direct = bot
        .call(
            reqwest::Method::GET,
            &format!("user/{}/account_data/m.direct", encode(&bot.user_id)),
            None,
        )
        .await;
    assert_eq!(
        direct,
        json!({ kristina.user_id.clone(): [room.clone()] }),
        "recorded as a direct room"
    );

    // A restarted daemon finds the room again: Monday's due-day reminder goes to the same room.
    drop(worker);
    let restarted = Worker::build(settings).await;
    restarted.clock.set("2026-11-30T07:00:00Z".parse().unwrap());
    restarted.materialise_and_plan().await;
    restarted.drain().await;
    let rows = restarted.outbox().await;
    let due: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.recipient == "kristina.falk" && r.step == "due")
        .collect();
    assert_eq!(due.len(), 1, "{rows:#?}");
    assert_eq!(due[0].destination.as_deref(), Some(room.as_str()));
    assert_eq!(kristina.messages(&room).await.len(), 2);
    let bot_rooms = bot.call(reqwest::Method::GET, "joined_rooms", None).await;
    assert_eq!(bot_rooms["joined_rooms"], json!([room]), "no second room");
}

#[tokio::test]
async fn a_send_repeated_after_a_crash_returns_the_first_event_instead_of_posting_again() {
    let Setup {
        bot: _,
        kristina,
        dir: _dir,
        mut settings,
    } = Setup::new("[\"matrix\"]").await;
    settings.delivery.lease_seconds = 5;
    let worker = Worker::build(settings.clone()).await;
    worker.materialise_and_plan().await;
    worker.drain().await;
    let sent = row_for(&worker.outbox().await, "kristina.falk", "matrix").clone();

    // The homeserver took the message, then the daemon died before recording it: the row is
    // still claimed, and its lease runs out.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(settings.database.url.expose())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE outbox SET state = 'sending', lease_until = $1, provider_id = NULL, destination = NULL, \
         sent_at = NULL WHERE id = $2",
    )
    .bind(test_now().as_second() + 5)
    .bind(sent.id)
    .execute(&mut db)
    .await
    .unwrap();
    worker.clock.advance(jiff::SignedDuration::from_secs(6));
    let again = worker.drain().await;

    assert_eq!(again.sent, 1, "the delivery is sent again");
    let resent = row_for(&worker.outbox().await, "kristina.falk", "matrix").clone();
    assert_eq!(resent.attempts, 2);
    assert_eq!(
        resent.provider_id, sent.provider_id,
        "the homeserver answered with the first event"
    );
    let room = resent.destination.unwrap();
    kristina.join(&room).await;
    assert_eq!(kristina.messages(&room).await.len(), 1, "and posted nothing new");
}

#[tokio::test]
async fn a_directory_room_is_joined_and_each_post_mentions_its_person() {
    let Setup {
        bot,
        kristina,
        dir,
        mut settings,
    } = Setup::new("[\"email\"]").await;
    let alias_name = format!("eu-{}", fastrand::u32(..));
    let room = kristina
        .call(
            reqwest::Method::POST,
            "createRoom",
            Some(json!({"preset": "public_chat", "room_alias_name": alias_name})),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let directory = std::fs::read_to_string(dir.path().join("directory.toml"))
        .unwrap()
        .replace(
            "[channels.eu-network]\n",
            &format!("[channels.eu-network]\nmatrix_room = \"#{alias_name}:localhost\"\n"),
        );
    dir.write("directory.toml", &directory);
    settings.routing.reminders = vec!["preferred".into(), "eu-network".into()];
    let worker = Worker::build(settings).await;

    worker.materialise_and_plan().await;
    let dispatched = worker.drain().await;

    // Fifteen heads of department, company and KLK are reminded by email and in the network's room.
    assert_eq!((dispatched.sent, dispatched.dead), (30, 0));
    let rows = worker.outbox().await;
    assert_eq!(
        row_for(&rows, "kristina.falk", "matrix:eu-network")
            .destination
            .as_deref(),
        Some(room.as_str())
    );
    row_for(&rows, "kristina.falk", "email");
    let messages = kristina.messages(&room).await;
    assert_eq!(messages.len(), 15);
    assert!(messages.iter().all(|m| m["sender"] == bot.user_id.as_str()));
    let mentioning: Vec<&Value> = messages
        .iter()
        .filter(|m| m["content"]["m.mentions"]["user_ids"] == json!([kristina.user_id]))
        .collect();
    assert_eq!(mentioning.len(), 1, "only Kristina is on Matrix");
    assert!(
        mentioning[0]["content"]["body"]
            .as_str()
            .unwrap()
            .contains("Hembygd Bostäder AB")
    );
}

#[tokio::test]
async fn a_daemon_killed_mid_send_and_restarted_posts_no_duplicate_and_the_teams_card_arrives() {
    const COUNT: usize = 40;
    let homeserver = Homeserver::get();
    let bot = homeserver.register("arshjul").await;
    let kristina = homeserver.register("kristina").await;
    let dir = TestDir::new();
    kristina_on_matrix(&dir, &kristina, "[\"matrix\"]");
    let directory = std::fs::read_to_string(dir.path().join("directory.toml"))
        .unwrap()
        .replace(
            "[channels.eu-network]\n",
            "[channels.eu-network]\nteams = \"eu-network\"\n",
        );
    dir.write("directory.toml", &directory);
    let sink = WebhookSink::start(dir.path(), &["202"]);
    // One message per delivery (no digests), so that the kill falls between sends.
    let (url, store) = backlog_to(&dir, COUNT, &"matrix".parse().unwrap(), Some("kristina.falk")).await;
    let config = test_settings(&dir).await.files.load().unwrap();
    let card = Delivery {
        subject: Subject::Occurrence(store.occurrences().await.unwrap()[0].id),
        step: Step::Due,
        recipient: config.directory.person_named("kristina.falk").unwrap().id.to_string(),
        route: "teams:eu-network".parse().unwrap(),
        not_before: crate::helpers::test_now(),
        reason: Reason::Holder,
        idempotency_key: "card".into(),
    };
    store.enqueue(&[card], crate::helpers::test_now()).await.unwrap();
    let env = [
        (
            "FILES__DIRECTORY",
            dir.path().join("directory.toml").display().to_string(),
        ),
        ("MATRIX__HOMESERVER_URL", homeserver.url.clone()),
        ("MATRIX__ACCESS_TOKEN", bot.token.clone()),
        // As an operator sets a secret URL: in the environment, "-" written "_".
        ("TEAMS__WEBHOOKS__EU_NETWORK__URL", sink.url.clone()),
        ("DELIVERY__BATCH_SIZE", "1".into()),
        // What the daemon plans itself today goes by email, so the room holds only the backlog.
        ("ROUTING__REMINDERS", "email".into()),
        ("ROUTING__ESCALATIONS", "email".into()),
        ("ROUTING__ACKNOWLEDGEMENTS", "email".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut first = serve(&dir, &url, 1, &env);
    let room = loop {
        let rooms = bot.call(reqwest::Method::GET, "joined_rooms", None).await;
        if let Some(room) = rooms["joined_rooms"][0].as_str() {
            break room.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    while bot.messages(&room).await.len() < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let posted_before_restart = bot.messages(&room).await.len();
    assert!(posted_before_restart < COUNT, "killed before the end");

    let mut second = serve(&dir, &url, 1, &env);
    let mut finished = false;
    for _ in 0..300 {
        let sent = store.outbox(Some(DeliveryState::Sent), 1_000).await.unwrap();
        if sent
            .iter()
            .filter(|r| r.idempotency_key.starts_with("load/") || r.idempotency_key == "card")
            .count()
            == COUNT + 1
        {
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    assert!(finished, "every delivery is sent after the restart");
    // The room's history may show the last event a moment after its send returned.
    let mut messages = bot.messages(&room).await;
    for _ in 0..50 {
        if messages.len() >= COUNT {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        messages = bot.messages(&room).await;
    }
    // Should a delivery be marked sent without its event in the room, or two deliveries with
    // one event, name them.
    let events: Vec<&str> = messages.iter().filter_map(|m| m["event_id"].as_str()).collect();
    let sent: Vec<_> = store
        .outbox(Some(DeliveryState::Sent), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.idempotency_key.starts_with("load/"))
        .collect();
    let missing: Vec<_> = sent
        .iter()
        .filter(|r| !events.contains(&r.provider_id.as_deref().unwrap_or_default()))
        .map(|r| (&r.idempotency_key, &r.provider_id, &r.destination))
        .collect();
    let shared_events: Vec<_> = sent
        .iter()
        .filter(|r| sent.iter().any(|o| o.id != r.id && o.provider_id == r.provider_id))
        .map(|r| (&r.idempotency_key, &r.provider_id, r.attempts))
        .collect();
    let bodies: Vec<&str> = messages.iter().filter_map(|m| m["content"]["body"].as_str()).collect();
    assert_eq!(
        messages.len(),
        COUNT,
        "one message per delivery, none twice; sent but not in {room}: {missing:?}; \
         sharing one event: {shared_events:?}; messages: {bodies:#?}"
    );
    let cards = sink.received();
    assert!(!cards.is_empty(), "the Teams card reaches its webhook");
    let card: Value = serde_json::from_str(&cards[0].body).unwrap();
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
}

#[tokio::test]
async fn channels_test_sends_a_person_a_test_message_in_their_direct_room() {
    let homeserver = Homeserver::get();
    let bot = homeserver.register("arshjul").await;
    let kristina = homeserver.register("kristina").await;
    let dir = TestDir::new();
    kristina_on_matrix(&dir, &kristina, "[\"matrix\"]");

    let output = crate::helpers::arshjul_command()
        .args(["channels", "test", "matrix", "--to", "kristina.falk"])
        .env("ARSHJUL__FILES__DIRECTORY", dir.path().join("directory.toml"))
        .env("ARSHJUL__MATRIX__HOMESERVER_URL", &homeserver.url)
        .env("ARSHJUL__MATRIX__ACCESS_TOKEN", &bot.token)
        .output()
        .unwrap();

    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("matrix to kristina.falk: sent (id $"), "{text}");
    let room = kristina.invites().await.remove(0);
    assert!(text.contains(&format!(" in {room})")), "{text}");
    kristina.join(&room).await;
    let messages = kristina.messages(&room).await;
    assert!(
        messages[0]["content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Det här är ett testmeddelande från arshjul")
    );
    assert_eq!(
        messages[0]["content"]["m.mentions"]["user_ids"],
        json!([kristina.user_id])
    );
}

/// Sends `content` as `event_type` into `room` as `user`; the event id.
pub async fn say(user: &MatrixUser, room: &str, event_type: &str, content: Value) -> String {
    let txn = format!("t{}", fastrand::u64(..));
    let path = format!("rooms/{}/send/{event_type}/{txn}", encode(room));
    user.call(reqwest::Method::PUT, &path, Some(content)).await["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_reply_and_a_reaction_in_matrix_submit_and_acknowledge_and_a_stranger_is_refused_but_kept() {
    let Setup {
        bot: _,
        kristina,
        dir: _dir,
        settings,
    } = Setup::new("[\"matrix\"]").await;
    let follower = arshjul::channels::matrix::MatrixNotifier::new(&settings.matrix)
        .unwrap()
        .unwrap();
    let worker = Worker::build(settings).await;
    let shared = worker.app.app();
    let sync = || arshjul::inbound::matrix::sync_once(&shared, &follower, 1_000);
    worker.materialise_and_plan().await;
    worker.drain().await;
    assert_eq!(sync().await.unwrap(), 0, "the first sync only takes the position");
    let position = shared.store.meta("matrix_next_batch").await.unwrap();
    let reminder = row_for(&worker.outbox().await, "kristina.falk", "matrix").clone();
    let room = reminder.destination.clone().unwrap();
    let occurrence_id = reminder.occurrence_id.unwrap();
    kristina.join(&room).await;

    let reply = json!({"msgtype": "m.text", "body": "Klar!",
        "m.relates_to": {"m.in_reply_to": {"event_id": reminder.provider_id}}});
    say(&kristina, &room, "m.room.message", reply).await;
    assert_eq!(sync().await.unwrap(), 1);

    let occurrence = shared.store.occurrence(occurrence_id).await.unwrap().unwrap();
    assert_eq!(occurrence.state.as_str(), "submitted");
    let answers: Vec<Value> = kristina
        .messages(&room)
        .await
        .into_iter()
        .filter(|m| m["content"]["msgtype"] == "m.notice")
        .collect();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0]["content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Tack! Noterat som inlämnat: "),
        "{answers:?}"
    );

    // The manager (Kristina again: she is the company's CEO) is asked to acknowledge, and
    // reacts ✅ to that request.
    worker.drain().await;
    let request = worker
        .outbox()
        .await
        .into_iter()
        .find(|r| r.step == "acknowledge" && r.channel == "matrix")
        .expect("an acknowledgement request on Matrix");
    let reaction =
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": request.provider_id, "key": "✅\u{FE0F}"}});
    say(&kristina, &room, "m.reaction", reaction).await;
    assert_eq!(sync().await.unwrap(), 1);
    let occurrence = shared.store.occurrence(occurrence_id).await.unwrap().unwrap();
    assert_eq!(occurrence.state.as_str(), "acknowledged");

    // Someone not in the directory, let into the room, answers "ok": refused, kept, told.
    let stranger = Homeserver::get().register("stranger").await;
    kristina
        .call(
            reqwest::Method::POST,
            &format!("rooms/{}/invite", encode(&room)),
            Some(json!({"user_id": stranger.user_id})),
        )
        .await;
    stranger.join(&room).await;
    let ok = json!({"msgtype": "m.text", "body": "ok", "m.relates_to": {"m.in_reply_to": {"event_id": request.provider_id}}});
    say(&stranger, &room, "m.room.message", ok).await;
    assert_eq!(sync().await.unwrap(), 1);
    let inbox = shared.store.inbox(None, 10).await.unwrap();
    assert_eq!(
        inbox.iter().map(|m| m.outcome.as_str()).collect::<Vec<_>>(),
        ["unknown_sender", "recorded", "recorded"]
    );
    assert_eq!(inbox[0].sender, stranger.user_id);
    assert_eq!(inbox[0].person, None);

    // A restart that syncs from the old position sees everything again and does nothing twice.
    shared
        .store
        .set_meta("matrix_next_batch", &position.unwrap())
        .await
        .unwrap();
    assert_eq!(sync().await.unwrap(), 0);
    let actions: Vec<String> = shared
        .store
        .audit_log(Some(occurrence_id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a == "submit" || a == "acknowledge")
        .collect();
    assert_eq!(actions, ["submit", "acknowledge"]);
}

/// A new private room of `user`'s with `bot` invited; its id.
async fn invite_bot(user: &MatrixUser, bot: &MatrixUser) -> String {
    let body = json!({"preset": "private_chat", "invite": [bot.user_id]});
    user.call(reqwest::Method::POST, "createRoom", Some(body)).await["room_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_bot_accepts_invitations_from_the_directory_only() {
    let Setup {
        bot,
        kristina,
        dir: _dir,
        settings,
    } = Setup::new("[\"matrix\"]").await;
    let stranger = Homeserver::get().register("stranger").await;
    let follower = arshjul::channels::matrix::MatrixNotifier::new(&settings.matrix)
        .unwrap()
        .unwrap();
    let worker = Worker::build(settings).await;
    let shared = worker.app.app();
    let from_kristina = invite_bot(&kristina, &bot).await;
    let from_stranger = invite_bot(&stranger, &bot).await;

    arshjul::inbound::matrix::sync_once(&shared, &follower, 0)
        .await
        .unwrap();

    let joined = bot.call(reqwest::Method::GET, "joined_rooms", None).await;
    assert_eq!(joined["joined_rooms"], json!([from_kristina]), "not {from_stranger}");
}
