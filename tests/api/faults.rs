//! Faults underneath: the database's disk fills up under a working application and is freed
//! again, and PostgreSQL goes away behind a network that still accepts. Planning,
//! materialising and replies must work again at once (not after the pool retires its
//! connections half an hour later), and health must tell the truth within two seconds.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arshjul::app::inbound::{Authenticity, Inbound, Sender, handle};
use arshjul::domain::config::Transport;
use arshjul::domain::planner::Delivery;
use arshjul::domain::routing::Route;
use arshjul::domain::steps::{Reason, Step, Subject};
use arshjul::settings::Secret;

use crate::helpers::{TestApp, TestDir, Worker, test_now, test_settings};
use crate::peers::Gate;

/// A small tmpfs mounted at a path for as long as it lives: a disk that fills up.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount(8) runs");
        assert!(status.success(), "mounting a tmpfs needs root, as scripts/test runs");
        Self(path.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with one file until it refuses more.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
    path
}

/// `count` deliveries keyed `fill/BATCH/N` due now.
fn batch(occurrence: i64, batch: usize, count: usize) -> Vec<Delivery> {
    (0..count)
        .map(|i| Delivery {
            subject: Subject::Occurrence(occurrence),
            step: Step::Due,
            recipient: "kristina.falk".into(),
            route: Route::personal(Transport::Email),
            not_before: test_now(),
            reason: Reason::Holder,
            idempotency_key: format!("fill/{batch}/{i}/{}", "x".repeat(200)),
        })
        .collect()
}

#[tokio::test]
async fn after_a_full_disk_planning_materialising_and_replies_work_again() {
    let dir = TestDir::new();
    let disk = Tmpfs::mount(&dir.path().join("disk"), "4m");
    let mut settings = test_settings(&dir).await;
    settings.database.url = Secret::new(format!("sqlite://{}/arshjul.db", disk.0.display()));
    // One connection: the one whose commit failed is the one every later caller would get.
    settings.database.max_connections = 1;
    let worker = Worker::build(settings).await;
    worker.materialise_and_plan().await;
    let app = worker.app.app();
    let occurrence = worker.occurrence_reminding("kristina.falk").await;

    let filler = fill(&disk.0);
    let mut failed = 0;
    for n in 0..20 {
        if app.store.enqueue(&batch(occurrence, n, 500), test_now()).await.is_err() {
            failed += 1;
        }
    }
    assert!(failed > 0, "a full disk refuses writes");
    std::fs::remove_file(filler).unwrap();

    app.plan().await.expect("planning works again");
    app.materialise().await.expect("materialising works again");
    let reply = Inbound {
        channel: "email",
        reference: "<after-the-fault@example.org>".into(),
        sender: Sender::Email("kristina.falk@example.org".into()),
        in_reply_to: None,
        text: format!("!arshjul klar {occurrence}"),
        room: None,
        private: true,
        authenticity: Authenticity::Vouched,
    };
    let handled = handle(&app, &reply).await.expect("replies work again").unwrap();
    assert_eq!(handled.answer.outcome(), "recorded", "{}", handled.text);
}

/// GET `path` on `app`, with how long the answer took.
async fn timed_get(app: &TestApp, path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = crate::helpers::http()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap(), started.elapsed())
}

#[tokio::test]
async fn readiness_says_503_within_two_seconds_while_the_disk_is_full_and_200_after() {
    let dir = TestDir::new();
    let disk = Tmpfs::mount(&dir.path().join("disk"), "4m");
    let mut settings = test_settings(&dir).await;
    settings.database.url = Secret::new(format!("sqlite://{}/arshjul.db", disk.0.display()));
    let app = TestApp::spawn(settings).await;
    let (status, body, _) = timed_get(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(timed_get(&app, "/livez").await.0, 200);

    let filler = fill(&disk.0);
    // SQLite still answers SELECT 1 on a full disk, and a small write fits into its WAL.
    for path in ["/readyz", "/healthz"] {
        let (status, body, took) = timed_get(&app, path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let failed = body["failed"].as_array().unwrap();
        assert!(failed.contains(&serde_json::json!("disk_full")), "{body}");
    }
    assert_eq!(timed_get(&app, "/livez").await.0, 200, "the process runs");
    std::fs::remove_file(filler).unwrap();

    let (status, body, _) = timed_get(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(body["last_plan_age_seconds"].is_i64(), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn health_and_metrics_answer_within_two_seconds_while_postgresql_is_gone() {
    let server = std::env::var("ARSHJUL_TEST_PG_SERVER").expect("scripts/test starts PostgreSQL");
    let url = crate::helpers::fresh_postgres_database(&server).await;
    let address = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap();
    let gate = Gate::start(address.parse().unwrap()).await;
    let dir = TestDir::new();
    let mut settings = test_settings(&dir).await;
    settings.database.url = Secret::new(url.replacen(address, &format!("127.0.0.1:{}", gate.port), 1));
    let app = TestApp::spawn(settings).await;
    assert_eq!(timed_get(&app, "/readyz").await.0, 200);

    gate.cut();
    for path in ["/readyz", "/healthz"] {
        let (status, body, took) = timed_get(&app, path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
    let (status, metrics, took) = timed_get(&app, "/metrics").await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "/metrics took {took:?}");
    assert!(metrics.contains("arshjul_database_up 0"), "{metrics}");
    assert_eq!(timed_get(&app, "/livez").await.0, 200);

    gate.mend();
    let mut ready = false;
    for _ in 0..20 {
        if timed_get(&app, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "ready again once PostgreSQL answers");
    let (_, metrics, _) = timed_get(&app, "/metrics").await;
    assert!(metrics.contains("arshjul_database_up 1"), "{metrics}");
    app.stop().await;
}
