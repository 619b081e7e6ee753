//! Nothing lost, nothing sent twice: the real binary killed with SIGKILL mid-batch, two
//! daemons sharing one database, and the singleton lock around planning.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use arshjul::domain::config::Transport;
use arshjul::domain::planner::Delivery;
use arshjul::domain::routing::Route;
use arshjul::domain::routing::Routing;
use arshjul::domain::steps::DeliveryState;
use arshjul::domain::steps::{Reason, Step, Subject};
use arshjul::storage::Store;
use sqlx::Connection as _;

use crate::helpers::{Spawned, TestDir, fresh_database_url};
use crate::peers::WebhookSink;

/// A database with the shipped occurrences and `count` deliveries due now on the webhook channel,
/// keyed `load/N`, to everyone in turn.
async fn backlog(dir: &TestDir, count: usize) -> (String, Store) {
    backlog_to(dir, count, &Route::personal(Transport::Webhook), None).await
}

/// A database with the occurrences of `dir`'s configuration and `count` deliveries due now on
/// `route`, keyed `load/N`, to `only` or to everyone in turn.
pub async fn backlog_to(dir: &TestDir, count: usize, route: &Route, only: Option<&str>) -> (String, Store) {
    let url = fresh_database_url(dir).await;
    let mut settings = crate::helpers::test_settings(dir).await;
    settings.database.url = arshjul::settings::Secret::new(url.clone());
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let config = settings.files.load().unwrap();
    let now = crate::helpers::test_now();
    store.materialise(&config, now).await.unwrap();
    let occurrence = store.occurrences().await.unwrap()[0].id;
    let people: Vec<_> = config
        .directory
        .people
        .iter()
        .filter(|p| only.is_none_or(|id| p.id.as_str() == id))
        .collect();
    let deliveries: Vec<Delivery> = (0..count)
        .map(|i| Delivery {
            subject: Subject::Occurrence(occurrence),
            step: Step::Due,
            recipient: people[i % people.len()].id.to_string(),
            route: route.clone(),
            not_before: now,
            reason: Reason::Holder,
            idempotency_key: format!("load/{i}"),
        })
        .collect();
    assert_eq!(store.enqueue(&deliveries, now).await.unwrap(), count);
    (url, store)
}

/// `arshjul serve` on the shared database, posting to `sink`, its claims leased for `lease` seconds.
fn daemon(dir: &TestDir, url: &str, sink: &WebhookSink, lease: u32) -> Spawned {
    serve(
        dir,
        url,
        lease,
        &[
            ("ROUTING__REMINDERS", "webhook"),
            ("ROUTING__ESCALATIONS", "webhook"),
            ("ROUTING__ACKNOWLEDGEMENTS", "webhook"),
            ("WEBHOOK__URL", &sink.url),
            ("WEBHOOK__SECRET", "durability"),
        ],
    )
}

/// `arshjul serve` on the database at `url`, its claims leased for `lease` seconds, with the
/// settings `env` (ARSHJUL__ left out of the names) on top of quick polling.
pub fn serve(dir: &TestDir, url: &str, lease: u32, env: &[(&str, &str)]) -> Spawned {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = crate::helpers::arshjul_command();
    command
        .arg("serve")
        .env("ARSHJUL__SERVER__PORT", port.to_string())
        .env("ARSHJUL__DATABASE__URL", url)
        .env("ARSHJUL__EMAIL__FILE_DIR", dir.path().join("outbox-mail"))
        .env("ARSHJUL__DELIVERY__LEASE_SECONDS", lease.to_string())
        .env("ARSHJUL__DELIVERY__POLL_MILLISECONDS", "50")
        .env("ARSHJUL__DELIVERY__BATCH_SIZE", "100")
        .env("ARSHJUL__LOG__FILTER", "warn")
        .envs(env.iter().map(|(name, value)| (format!("ARSHJUL__{name}"), *value)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Spawned::start(&mut command).expect("starting arshjul serve")
}

/// How often each delivery key reached the sink.
fn received_keys(sink: &WebhookSink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for posted in sink.received() {
        let body: serde_json::Value = serde_json::from_str(&posted.body).unwrap();
        for item in body["items"].as_array().unwrap() {
            *counts
                .entry(item["idempotency_key"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    counts.retain(|key, _| key.starts_with("load/"));
    counts
}

/// Waits (up to a minute) until every `load/` delivery is sent.
async fn all_sent(store: &Store, count: usize) -> bool {
    for _ in 0..600 {
        let sent = store.outbox(Some(DeliveryState::Sent), 100_000).await.unwrap();
        if sent.iter().filter(|r| r.idempotency_key.starts_with("load/")).count() == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_daemon_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight() {
    const COUNT: usize = 2_000;
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["sleep:0.02"]);
    let (url, store) = backlog(&dir, COUNT).await;

    // A short lease, so the restarted daemon takes over the killed one's claims quickly.
    let mut first = daemon(&dir, &url, &sink, 2);
    assert!(
        crate::peers::eventually(|| sink.received().len() >= 40).await,
        "the first daemon sends"
    );
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let in_flight: BTreeSet<String> = store
        .outbox(Some(DeliveryState::Sending), 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    let sent_before_restart = received_keys(&sink).len();
    assert!(
        sent_before_restart < COUNT,
        "killed before the end ({sent_before_restart} sent)"
    );

    let mut second = daemon(&dir, &url, &sink, 2);
    let finished = all_sent(&store, COUNT).await;
    second.kill().unwrap();
    second.wait().unwrap();

    assert!(finished, "every delivery is eventually sent");
    let counts = received_keys(&sink);
    assert_eq!(counts.len(), COUNT, "nothing is lost");
    let repeated: BTreeSet<String> = counts.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k.clone()).collect();
    assert!(counts.values().all(|n| *n <= 2), "at most twice");
    assert!(
        repeated.is_subset(&in_flight),
        "only in-flight deliveries repeat: {repeated:?}"
    );
}

#[tokio::test]
async fn two_daemons_on_one_database_send_every_delivery_exactly_once() {
    const COUNT: usize = 3_000;
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["200"]);
    let (url, store) = backlog(&dir, COUNT).await;

    let mut daemons = [daemon(&dir, &url, &sink, 120), daemon(&dir, &url, &sink, 120)];
    let finished = all_sent(&store, COUNT).await;
    for daemon in &mut daemons {
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }

    assert!(finished, "every delivery is sent");
    let counts = received_keys(&sink);
    assert_eq!(counts.len(), COUNT);
    assert!(
        counts.values().all(|n| *n == 1),
        "exactly once: {:?}",
        counts.iter().find(|(_, n)| **n != 1)
    );
}

#[tokio::test]
async fn planning_waits_while_another_instance_holds_the_planning_lock() {
    let dir = TestDir::new();
    let (url, store) = backlog(&dir, 0).await;
    let config = crate::helpers::test_settings(&dir).await.files.load().unwrap();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    let mut held = other.begin().await.unwrap();
    // What another instance's planner holds while it plans.
    let lock = match store.backend() {
        arshjul::storage::Backend::Postgres => format!("SELECT pg_advisory_xact_lock({})", arshjul::storage::PLAN_LOCK),
        arshjul::storage::Backend::Sqlite => {
            "INSERT INTO meta (key, value) VALUES ('held', 'by another writer')".into()
        }
    };
    sqlx::query(&lock).execute(&mut *held).await.unwrap();

    let planning = tokio::spawn(async move {
        store
            .plan(crate::helpers::test_now(), |occurrences| {
                arshjul::domain::planner::plan(&config, occurrences, crate::helpers::test_now(), &Routing::default())
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!planning.is_finished(), "the planner waits for the lock");
    held.rollback().await.unwrap();
    let planned = tokio::time::timeout(Duration::from_secs(5), planning)
        .await
        .expect("planning proceeds")
        .unwrap();

    assert!(planned.unwrap() > 0);
}
