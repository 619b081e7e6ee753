//! The daemon: answers /healthz with its database status, reloads its configuration only when
//! the new one is valid, and stops cleanly — in-process and as the real binary with signals.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{TestApp, TestDir, fresh_database_url, test_settings};

#[tokio::test]
async fn healthz_reports_the_database() {
    let dir = TestDir::new();
    let app = TestApp::spawn(test_settings(&dir).await).await;

    let (status, body) = app.get_json("/healthz").await;

    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["units"], 27);
    app.stop().await;
}

#[tokio::test]
async fn healthz_says_unavailable_when_the_database_is_gone() {
    let dir = TestDir::new();
    let app = TestApp::spawn(test_settings(&dir).await).await;
    app.shared.store.close().await;

    let (status, body) = app.get_json("/healthz").await;

    assert_eq!(status, 503);
    assert_eq!(body["database"], "unavailable");
    app.shutdown.cancel();
}

#[tokio::test]
async fn the_daemon_materialises_on_start() {
    let dir = TestDir::new();
    let app = TestApp::spawn(test_settings(&dir).await).await;
    // The first request is answered after start-up work, which runs before serving.
    app.get_json("/healthz").await;

    let stored = app.shared.store.occurrences().await.unwrap();

    assert_eq!(
        stored.len(),
        app.shared
            .config()
            .occurrences_to_materialise(crate::helpers::test_now())
            .len()
    );
    assert!(!stored.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_reload_is_refused_and_the_running_configuration_kept() {
    let dir = TestDir::new().with_shipped_config();
    let app = TestApp::spawn(test_settings(&dir).await).await;
    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();

    dir.write(
        "calendar.toml",
        &calendar.replace("responsible_role = \"strategist\"", "responsible_role = \"strateg\""),
    );
    let refused = app.shared.reload().await;

    let errors = refused.expect_err("an invalid calendar is refused").to_string();
    assert!(
        errors.contains("calendar.toml:") && errors.contains("unknown variant `strateg`"),
        "{errors}"
    );
    assert_eq!(
        app.shared.config().calendar.obligations.len(),
        21,
        "the running configuration stays"
    );

    let cut = calendar.find("[[obligations]]\nid = \"reseregler\"").unwrap();
    dir.write("calendar.toml", &calendar[..cut]);
    app.shared.reload().await.expect("a valid calendar is accepted");

    assert_eq!(app.shared.config().calendar.obligations.len(), 14);
    let stored = app.shared.store.occurrences().await.unwrap();
    assert!(
        stored
            .iter()
            .filter(|o| o.obligation == "reseregler")
            .all(|o| !o.configured)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reload_that_would_unconfigure_most_open_occurrences_waits_for_confirmation() {
    let dir = TestDir::new().with_shipped_config();
    let app = TestApp::spawn(test_settings(&dir).await).await;
    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();
    // Answered once start-up has materialised.
    app.get_json("/readyz").await;
    // Only the last obligation is left: an edit gone wrong.
    let first = calendar.find("[[obligations]]").unwrap();
    let last = calendar.rfind("[[obligations]]").unwrap();
    dir.write("calendar.toml", &format!("{}{}", &calendar[..first], &calendar[last..]));

    let refused = app
        .shared
        .reload()
        .await
        .expect_err("refused the first time")
        .to_string();
    assert!(
        refused.contains("would unconfigure") && refused.contains("reload the same files again"),
        "{refused}"
    );
    assert_eq!(app.shared.config().calendar.obligations.len(), 21, "nothing changed");
    assert!(
        app.shared
            .store
            .occurrences()
            .await
            .unwrap()
            .iter()
            .all(|o| o.configured)
    );

    app.shared.reload().await.expect("the same files again confirm it");
    assert_eq!(app.shared.config().calendar.obligations.len(), 1);
    app.stop().await;
}

/// Sends `signal` (e.g. "-HUP") to a process.
fn send(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

#[tokio::test]
async fn the_binary_serves_with_no_configuration_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = TestDir::new().with_shipped_config();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = crate::helpers::arshjul_command();
    command
        .arg("serve")
        .env("ARSHJUL__SERVER__PORT", port.to_string())
        .env("ARSHJUL__DATABASE__URL", fresh_database_url(&dir).await)
        .env("ARSHJUL__FILES__CALENDAR", dir.path().join("calendar.toml"))
        .env("ARSHJUL__LOG__FORMAT", "json")
        .env("ARSHJUL__EMAIL__FILE_DIR", dir.path().join("outbox-mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut daemon = crate::helpers::Spawned::start(&mut command).expect("starting arshjul serve");
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(response) = crate::helpers::http().get(&healthz).send().await {
            answered = Some(response.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered, Some(200), "healthz answered");

    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();
    dir.write("calendar.toml", "this is = not [valid");
    send("-HUP", daemon.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let body: serde_json::Value = crate::helpers::http()
        .get(&healthz)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["obligations"], 21, "still running with the old calendar");

    dir.write(
        "calendar.toml",
        &calendar[..calendar.find("[[obligations]]\nid = \"reseregler\"").unwrap()],
    );
    send("-HUP", daemon.id());
    let mut obligations = body["obligations"].clone();
    for _ in 0..50 {
        obligations = crate::helpers::http()
            .get(&healthz)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["obligations"]
            .clone();
        if obligations == 14 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(obligations, 14, "the valid calendar took effect");

    send("-TERM", daemon.id());
    let output = tokio::task::spawn_blocking(move || {
        let status = daemon.wait().expect("waiting for arshjul");
        let mut log = String::new();
        std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut log).unwrap();
        (status, log)
    })
    .await
    .unwrap();
    let (status, log) = output;
    assert!(status.success(), "clean exit: {status:?}\n{log}");
    assert!(log.contains("reload refused") && log.contains("calendar.toml"), "{log}");
    assert!(log.lines().all(|line| line.starts_with('{')), "JSON logs: {log}");
    assert!(log.contains("arshjul stopped"), "{log}");
}

#[tokio::test]
async fn a_reload_that_removes_a_channel_the_routing_names_is_refused() {
    let dir = TestDir::new().with_shipped_config();
    let mut settings = test_settings(&dir).await;
    settings.routing.escalations = vec!["preferred".into(), "klk-international".into()];
    let app = TestApp::spawn(settings).await;
    let directory = std::fs::read_to_string(dir.path().join("directory.toml")).unwrap();

    let cut = directory.find("[channels.klk-international]").unwrap();
    dir.write("directory.toml", &directory[..cut]);
    let refused = app.shared.reload().await;

    let errors = refused
        .expect_err("the routing would name a missing channel")
        .to_string();
    assert!(
        errors.contains("routing.escalations: unknown channel \"klk-international\""),
        "{errors}"
    );
    assert_eq!(
        app.shared.config().directory.channels.len(),
        3,
        "the running directory stays"
    );
    app.stop().await;
}

#[tokio::test]
async fn text_logs_carry_no_colour_codes_when_not_at_a_terminal() {
    let dir = TestDir::new();
    let output = crate::helpers::arshjul_command()
        .arg("migrate")
        .env("ARSHJUL__DATABASE__URL", fresh_database_url(&dir).await)
        .env("ARSHJUL__LOG__FORMAT", "text")
        // The database driver's statements are logged at debug: enough lines to look at.
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && log.contains("DEBUG"), "{log}");
    assert!(!log.contains('\u{1b}'), "no ANSI escapes in a log file: {log:?}");
}
