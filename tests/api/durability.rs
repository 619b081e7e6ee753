//! Nothing lost, nothing sent twice: the real binary killed with SIGKILL mid-batch, two
//! daemons sharing one database, and the singleton lock around planning.

use std::collections::BTreeMap;
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

/// `arshjul serve` on the shared database, posting to `sink`, its claims leased for `lease`
/// seconds, sending `concurrency` messages at a time.
fn daemon(dir: &TestDir, url: &str, sink: &WebhookSink, lease: u32, concurrency: usize) -> Spawned {
    serve(
        dir,
        url,
        lease,
        &[
            ("ROUTING__REMINDERS", "webhook"),
            ("ROUTING__ESCALATIONS", "webhook"),
            ("ROUTING__ACKNOWLEDGEMENTS", "webhook"),
            ("WEBHOOK__URL", &sink.url),
            ("WEBHOOK__SECRET", "durability-0123456789abcdef01234567"),
            ("DELIVERY__CONCURRENCY", &concurrency.to_string()),
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

/// How many posts to `sink` went (in part or whole) again later: each repeated key is traced
/// to the first post that carried it.
fn repeated_messages(sink: &WebhookSink) -> usize {
    let mut first_post: BTreeMap<String, usize> = BTreeMap::new();
    let mut repeated = std::collections::BTreeSet::new();
    for (n, posted) in sink.received().iter().enumerate() {
        let body: serde_json::Value = serde_json::from_str(&posted.body).unwrap();
        let keys = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["idempotency_key"].as_str())
            .filter(|key| key.starts_with("load/"));
        for key in keys {
            match first_post.get(key) {
                Some(first) => {
                    repeated.insert(*first);
                }
                None => {
                    first_post.insert(key.to_owned(), n);
                }
            }
        }
    }
    repeated.len()
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

/// `delivery.concurrency` for the kill test: at most this many messages are unrecorded at once.
const CONCURRENCY: usize = 8;

#[tokio::test]
async fn a_daemon_killed_during_a_large_dispatch_loses_nothing_and_repeats_at_most_its_concurrency() {
    const COUNT: usize = 3_000;
    const KILLS: usize = 4;
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["sleep:0.005"]);
    let (url, store) = backlog(&dir, COUNT).await;
    // A short lease, so the next daemon takes over the killed one's claims soon — long
    // enough that a claim waiting its turn in a live daemon does not expire.
    let start = |dir: &TestDir| daemon(dir, &url, &sink, 5, CONCURRENCY);
    for kill in 1..=KILLS {
        let mut running = start(&dir);
        let target = kill * COUNT / (KILLS + 2);
        for _ in 0..600 {
            if received_keys(&sink).len() >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        running.kill().expect("SIGKILL");
        running.wait().unwrap();
        let sent_so_far = received_keys(&sink).len();
        assert!(sent_so_far < COUNT, "killed before the end ({sent_so_far} sent)");
    }
    let mut last = start(&dir);
    let finished = all_sent(&store, COUNT).await;
    last.kill().unwrap();
    last.wait().unwrap();

    assert!(finished, "every delivery is eventually sent");
    let counts = received_keys(&sink);
    assert_eq!(counts.len(), COUNT, "nothing is lost");
    // A message (a digest of a recipient's deliveries) that was on the wire goes again whole.
    let repeated = repeated_messages(&sink);
    assert!(
        repeated <= KILLS * CONCURRENCY,
        "{repeated} messages repeated over {KILLS} kills: at most {CONCURRENCY} (delivery.concurrency) each"
    );
}

#[tokio::test]
async fn two_daemons_on_one_database_send_every_delivery_exactly_once() {
    const COUNT: usize = 3_000;
    let dir = TestDir::new();
    let sink = WebhookSink::start(dir.path(), &["200"]);
    let (url, store) = backlog(&dir, COUNT).await;

    let mut daemons = [daemon(&dir, &url, &sink, 120, 32), daemon(&dir, &url, &sink, 120, 32)];
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
