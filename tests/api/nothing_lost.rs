//! Nothing lost between transactions: a failure point in the database (a trigger that refuses
//! one kind of write, as a full disk or a lost connection would) at each step of handling a
//! message and of a decision, then the same message again once the database is well.

use arshjul::domain::occurrence::{Action, Actor};
use arshjul::storage::Backend;
use sqlx::Connection as _;

use crate::authentic_mail::{Scene, mail, reminded};

/// A trigger that makes every `operation` (`INSERT`, `UPDATE`) on `table` fail until removed.
struct FailurePoint {
    url: String,
    backend: Backend,
    table: &'static str,
}

impl FailurePoint {
    async fn install(scene: &Scene, operation: &str, table: &'static str) -> Self {
        let url = scene.settings.database.url.expose().to_owned();
        let backend = scene.worker.app.app().store.backend();
        let statements = match backend {
            Backend::Sqlite => vec![format!(
                "CREATE TRIGGER failure_point BEFORE {operation} ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )],
            Backend::Postgres => vec![
                "CREATE OR REPLACE FUNCTION failure_point() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER failure_point BEFORE {operation} ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION failure_point()"
                ),
            ],
        };
        let point = Self { url, backend, table };
        point.execute(&statements).await;
        point
    }

    async fn remove(self) {
        let statement = match self.backend {
            Backend::Sqlite => "DROP TRIGGER failure_point".to_owned(),
            Backend::Postgres => format!("DROP TRIGGER failure_point ON {}", self.table),
        };
        self.execute(&[statement]).await;
    }

    async fn execute(&self, statements: &[String]) {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        for statement in statements {
            sqlx::query(statement).execute(&mut connection).await.unwrap();
        }
        connection.close().await.unwrap();
    }
}

/// How often `action` is in the occurrence's audit log.
async fn recorded(scene: &Scene, action: &str) -> usize {
    let store = &scene.worker.app.app().store;
    let log = store.audit_log(Some(scene.occurrence)).await.unwrap();
    log.iter().filter(|e| e.action == action).count()
}

#[tokio::test]
async fn a_reply_whose_handling_fails_is_acted_on_exactly_once_when_it_comes_back() {
    let scene = reminded().await;
    let to = scene.reply_address();
    let store = scene.worker.app.app().store.clone();
    for (operation, table) in [("INSERT", "audit_log"), ("UPDATE", "inbox")] {
        let reply = mail("kristina.falk@example.org", &to, "", "Klart!");
        let failing = FailurePoint::install(&scene, operation, table).await;
        let failed = scene.try_mailgate(&reply);
        assert!(
            !failed.status.success(),
            "{operation} {table}: the mail server keeps it"
        );
        let inbox = store.inbox(None, 1).await.unwrap();
        assert_eq!(inbox[0].outcome, "received", "taken in, not settled");
        failing.remove().await;

        let said = scene.mailgate(&reply);
        assert!(
            said.starts_with("recorded: ") || said.starts_with("already: "),
            "{operation} {table}: acted on when it came back: {said}"
        );
        assert_eq!(recorded(&scene, "submit").await, 1, "exactly once");
        assert_eq!(scene.mailgate(&reply), "already taken in\n");
        assert_eq!(store.inbox(Some("received"), 10).await.unwrap(), []);
    }
    assert_eq!(scene.state().await, "submitted");
}

#[tokio::test]
async fn a_decision_and_the_notice_it_causes_are_written_together() {
    let scene = reminded().await;
    let to = scene.reply_address();
    assert!(
        scene
            .mailgate(&mail("kristina.falk@example.org", &to, "", "klart"))
            .starts_with("recorded: ")
    );
    let app = scene.worker.app.app();
    let actor = Actor {
        person: "johan.lindqvist",
        channel: "test",
        source: "nothing-lost",
        note: None,
    };
    let closed = |app: std::sync::Arc<arshjul::app::App>| async move {
        app.store
            .outbox(None, 1_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.step == "closed")
            .count()
    };

    // The notice cannot be written: the acknowledgement is not recorded either.
    let failing = FailurePoint::install(&scene, "INSERT", "outbox").await;
    assert!(
        app.record_action(scene.occurrence, Action::Acknowledge, &actor)
            .await
            .is_err()
    );
    assert_eq!(scene.state().await, "submitted");
    assert_eq!(recorded(&scene, "acknowledge").await, 0);
    failing.remove().await;

    app.record_action(scene.occurrence, Action::Acknowledge, &actor)
        .await
        .unwrap();
    assert_eq!(scene.state().await, "acknowledged");
    assert_eq!(closed(app.clone()).await, 1, "Kristina is told, once");
}
