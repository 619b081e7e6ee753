//! Materialisation against a real database: idempotent, follows the directory and calendar,
//! never deletes history, and audits every change in an append-only log.

use arshjul::domain::occurrence::OccurrenceState;
use arshjul::settings::FilesSettings;
use sqlx::Connection as _;

use crate::helpers::{TestDir, test_now, test_store};

fn load(dir: &TestDir) -> arshjul::domain::config::Config {
    FilesSettings {
        directory: dir.path().join("directory.toml"),
        calendar: dir.path().join("calendar.toml"),
        templates: std::path::PathBuf::new(),
    }
    .load()
    .expect("valid configuration")
}

#[tokio::test]
async fn materialising_twice_changes_nothing() {
    let dir = TestDir::new().with_shipped_config();
    let store = test_store(&dir).await;
    let config = load(&dir);

    let first = store.materialise(&config, test_now()).await.unwrap();
    let stored = store.occurrences().await.unwrap();
    let second = store.materialise(&config, test_now()).await.unwrap();

    assert_eq!(first.created, config.occurrences_to_materialise(test_now()).len());
    assert!(first.created > 60, "{first:?}");
    assert_eq!(second, Default::default(), "nothing to do the second time");
    assert_eq!(store.occurrences().await.unwrap(), stored);
    assert!(stored.iter().all(|o| o.state == OccurrenceState::Open && o.configured));
    assert_eq!(store.audit_log(None).await.unwrap().len(), first.created);
}

#[tokio::test]
async fn a_unit_added_to_the_directory_gets_its_occurrences() {
    let dir = TestDir::new().with_shipped_config();
    let store = test_store(&dir).await;
    store.materialise(&load(&dir), test_now()).await.unwrap();

    let directory = std::fs::read_to_string(dir.path().join("directory.toml")).unwrap();
    let new_company = r#"
[[units]]
id = "flygplats"
kind = "bolag"
name = "Flygplats Nordost AB"
governed_by = "ks"
[units.roles.manager]
person = "helena.akesson"
"#;
    dir.write(
        "directory.toml",
        &directory.replace("# --- People", &format!("{new_company}\n# --- People")),
    );
    let report = store.materialise(&load(&dir), test_now()).await.unwrap();

    let theirs: Vec<_> = store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.unit == "flygplats")
        .map(|o| o.obligation)
        .collect();
    // Still due in 2026 or 2027: the EU contact (2027), the follow-up of 2026, the business plans for 2027 and 2028.
    assert_eq!(theirs.len(), report.created, "{theirs:?}");
    for obligation in ["eu-kontaktperson", "uppfoljning", "verksamhetsplan"] {
        assert!(
            theirs.iter().any(|o| o == obligation),
            "missing {obligation}: {theirs:?}"
        );
    }
}

#[tokio::test]
async fn a_removed_obligation_keeps_its_history_and_is_marked_unconfigured() {
    let dir = TestDir::new().with_shipped_config();
    let store = test_store(&dir).await;
    store.materialise(&load(&dir), test_now()).await.unwrap();
    let before = store.occurrences().await.unwrap();

    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();
    let cut = calendar.find("[[obligations]]\nid = \"reseregler\"").unwrap();
    dir.write("calendar.toml", &calendar[..cut]);
    let report = store.materialise(&load(&dir), test_now()).await.unwrap();

    let after = store.occurrences().await.unwrap();
    assert_eq!(after.len(), before.len(), "nothing is deleted");
    let reseregler: Vec<_> = after.iter().filter(|o| o.obligation == "reseregler").collect();
    assert_eq!(report.unconfigured, reseregler.len());
    assert!(!reseregler.is_empty() && reseregler.iter().all(|o| !o.configured));
    assert!(
        after
            .iter()
            .filter(|o| o.obligation != "reseregler")
            .all(|o| o.configured)
    );
    let history = store.audit_log(Some(reseregler[0].id)).await.unwrap();
    let actions: Vec<_> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "unconfigured"]);
}

#[tokio::test]
async fn a_moved_due_date_reschedules_open_occurrences_and_is_audited() {
    // KF's May meeting moves a week in the meeting plan: the report to KF follows it.
    let dir = TestDir::new().with_shipped_config();
    let store = test_store(&dir).await;
    store.materialise(&load(&dir), test_now()).await.unwrap();

    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();
    dir.write("calendar.toml", &calendar.replace("\"2027-05-18\"", "\"2027-05-25\""));
    let report = store.materialise(&load(&dir), test_now()).await.unwrap();

    assert_eq!(report.rescheduled, 1, "{report:?}");
    let report_to_kf = store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.obligation == "rapport-till-kf")
        .unwrap();
    assert_eq!(report_to_kf.due_at.to_string(), "2027-05-11T14:00:00Z");
    let last = store.audit_log(Some(report_to_kf.id)).await.unwrap().pop().unwrap();
    assert_eq!(last.action, "rescheduled");
    assert!(
        last.detail.contains("2027-04-30T10:00:00Z") && last.detail.contains("2027-05-11T14:00:00Z"),
        "{}",
        last.detail
    );
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let dir = TestDir::new().with_shipped_config();
    let settings = crate::helpers::test_settings(&dir).await;
    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    store.materialise(&load(&dir), test_now()).await.unwrap();
    let mut connection = sqlx::AnyConnection::connect(settings.database.url.expose())
        .await
        .unwrap();

    let refused_update = sqlx::query("UPDATE audit_log SET actor = 'mallory'")
        .execute(&mut connection)
        .await;
    let refused_delete = sqlx::query("DELETE FROM audit_log").execute(&mut connection).await;

    assert!(refused_update.unwrap_err().to_string().contains("append-only"));
    assert!(refused_delete.unwrap_err().to_string().contains("append-only"));
    assert!(store.audit_log(None).await.unwrap().iter().all(|e| e.actor == "system"));
}

#[tokio::test]
async fn the_suite_runs_on_the_database_the_test_script_chose() {
    let dir = TestDir::new();
    let store = test_store(&dir).await;
    let expected = match std::env::var("ARSHJUL_TEST_POSTGRES_URL") {
        Ok(_) => arshjul::storage::Backend::Postgres,
        Err(_) => arshjul::storage::Backend::Sqlite,
    };
    assert_eq!(store.backend(), expected);
}

#[tokio::test]
async fn a_sqlite_database_is_created_with_its_directory() {
    let dir = TestDir::new();
    let mut settings = crate::helpers::test_settings(&dir).await;
    let file = dir.path().join("var/nested/arshjul.db");
    settings.database.url = arshjul::settings::Secret::new(format!("sqlite://{}", file.display()));

    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();

    assert!(file.exists());
    assert_eq!(store.occurrences().await.unwrap(), []);
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused_without_showing_the_password() {
    let dir = TestDir::new();
    let mut settings = crate::helpers::test_settings(&dir).await;
    settings.database.url = arshjul::settings::Secret::new("mysql://arshjul:hemligt@db/arshjul");

    let error = arshjul::storage::Store::connect(&settings.database)
        .await
        .unwrap_err()
        .to_string();

    assert!(
        error.contains("database.url must start with sqlite:// or postgres://"),
        "{error}"
    );
    assert!(!error.contains("hemligt"), "{error}");
}

#[tokio::test]
async fn a_snapshot_never_shows_a_state_without_the_action_that_made_it() {
    use arshjul::domain::occurrence::{Action, Actor};
    let dir = TestDir::new();
    let store = test_store(&dir).await;
    let config = crate::helpers::test_settings(&dir).await.files.load().unwrap();
    store.materialise(&config, test_now()).await.unwrap();
    let ids: Vec<i64> = store
        .occurrences()
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .take(60)
        .collect();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for id in ids {
                let actor = Actor {
                    person: "eva.persson",
                    channel: "test",
                    source: "snapshot",
                    note: None,
                };
                store
                    .record_action(id, Action::Waive, &actor, |_| Vec::new(), test_now())
                    .await
                    .unwrap();
            }
        })
    };
    let mut looked = 0;
    while !writer.is_finished() || looked == 0 {
        let snapshot = store.snapshot().await.unwrap();
        let acted: std::collections::BTreeSet<i64> = snapshot
            .audit
            .iter()
            .filter(|e| e.action == "waive")
            .filter_map(|e| e.occurrence_id)
            .collect();
        for occurrence in &snapshot.occurrences {
            let waived = occurrence.state == OccurrenceState::Waived;
            assert_eq!(
                waived,
                acted.contains(&occurrence.id),
                "occurrence {} in one picture",
                occurrence.id
            );
        }
        looked += 1;
    }
    writer.await.unwrap();
    assert!(looked > 1, "looked while the writer wrote");
}
