//! One permission rule at every entry point: a signed link, a command by email, the
//! follow-up form and the command line give the same person the same answer for the same
//! action, against the directory in force at the moment of acting — also right after a reload
//! that moved a role.

use arshjul::app::inbound::{Authenticity, Inbound, Sender, handle};
use arshjul::domain::access::NotAllowed;
use arshjul::domain::occurrence::{Action, Actor, OccurrenceState};
use arshjul::domain::replies::Answer;
use arshjul::domain::tokens::sha256_hex;
use arshjul::storage::Session;

use crate::helpers::{TestApp, TestDir, http, test_now, test_settings};

/// Tekniska förvaltningen's follow-up of 2026.
async fn tekniska_followup(app: &TestApp) -> arshjul::domain::occurrence::StoredOccurrence {
    app.shared.materialise().await.unwrap();
    let occurrences = app.shared.store.occurrences().await.unwrap();
    let found = occurrences
        .iter()
        .find(|o| o.obligation == "uppfoljning" && o.unit == "tekniska")
        .cloned();
    found.unwrap_or_else(|| panic!("no follow-up of Tekniska's in {occurrences:#?}"))
}

/// Tekniska förvaltningen's follow-up, submitted by its contact person.
async fn submitted_followup(app: &TestApp) -> i64 {
    let occurrence = tekniska_followup(app).await;
    let actor = Actor {
        person: "linnea.dahl",
        channel: "test",
        source: "test",
        note: None,
    };
    app.shared
        .record_action(occurrence.id, Action::Submit, &actor)
        .await
        .unwrap();
    occurrence.id
}

/// The signed link of `person` for `action` on `id`, on the test daemon's address.
fn link(app: &TestApp, id: i64, person: &str, action: Action) -> String {
    let url = app.shared.links.url(id, person, action, test_now());
    let path = &url[url.find("/ack/").expect("a link to /ack/")..];
    format!("{}{path}", app.address)
}

async fn state(app: &TestApp, id: i64) -> OccurrenceState {
    app.shared.store.occurrence(id).await.unwrap().unwrap().state
}

/// A dashboard session of `person`, as signing in would start it: the cookie and the CSRF token.
async fn session(app: &TestApp, person: &str) -> (String, String) {
    let (id, csrf) = (format!("session-{person}"), format!("csrf-{person}"));
    let session = Session {
        person: person.to_owned(),
        csrf: csrf.clone(),
    };
    let until = test_now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap();
    app.shared
        .store
        .start_session(&sha256_hex(id.as_bytes()), &session, test_now(), until)
        .await
        .unwrap();
    (format!("arshjul_session={id}"), csrf)
}

/// `fields` as a browser posts a form.
fn form_body(fields: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    fields
        .iter()
        .map(|(key, value)| format!("{key}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn every_entry_point_asks_the_directory_in_force_when_someone_acts() {
    let dir = TestDir::new().with_shipped_config();
    let settings = test_settings(&dir).await;
    let app = TestApp::spawn(settings.clone()).await;
    let id = submitted_followup(&app).await;
    assert_eq!(state(&app, id).await, OccurrenceState::Submitted);
    let magnus_link = link(&app, id, "magnus.berg", Action::Acknowledge);

    // Tekniska's manager role moves from Magnus Berg to Anders Olsson.
    let directory = std::fs::read_to_string(dir.path().join("directory.toml")).unwrap();
    let moved = directory.replacen(
        "name_en = \"Technical Services Department\"\ngoverned_by = \"tn\"\n[units.roles.manager]\nperson = \"magnus.berg\"",
        "name_en = \"Technical Services Department\"\ngoverned_by = \"tn\"\n[units.roles.manager]\nperson = \"anders.olsson\"",
        1,
    );
    assert_ne!(
        moved, directory,
        "the example directory has Magnus Berg as Tekniska's manager"
    );
    dir.write("directory.toml", &moved);
    app.shared.reload().await.unwrap();

    // The signed link: shown and used, both refused with a page that says the role moved.
    let client = http();
    for response in [
        client.get(&magnus_link).send().await.unwrap(),
        client.post(&magnus_link).send().await.unwrap(),
    ] {
        assert_eq!(response.status(), 403);
        let page = response.text().await.unwrap();
        assert!(page.contains("Ansvaret kan ha flyttats till någon annan"), "{page}");
        assert!(
            page.contains(
                "bara chefen för Tekniska förvaltningen eller kommunledningskontorets planeringsstrateg kvitterar"
            ),
            "{page}"
        );
    }
    assert_eq!(state(&app, id).await, OccurrenceState::Submitted);

    // A command by email that the mail server vouches for: the same rule, the answer wholly
    // in Swedish.
    let command = Inbound {
        channel: "email",
        reference: "<moved-role@example.org>".into(),
        sender: Sender::Email("magnus.berg@example.org".into()),
        in_reply_to: None,
        text: format!("!arshjul kvittera {id}"),
        room: None,
        private: true,
        authenticity: Authenticity::Vouched,
    };
    let handled = handle(&app.shared, &command).await.unwrap().unwrap();
    assert!(
        matches!(handled.answer, Answer::NotAllowed(NotAllowed::Acknowledge { .. })),
        "{:?}",
        handled.answer
    );
    assert_eq!(
        handled.text,
        "Svaret kunde inte registreras: bara chefen för Tekniska förvaltningen eller kommunledningskontorets planeringsstrateg kvitterar."
    );
    assert_eq!(state(&app, id).await, OccurrenceState::Submitted);

    // The command line, on the same database and directory.
    let cli = crate::inbound::arshjul(
        &settings,
        &dir,
        &["ack", &id.to_string(), "--as", "magnus.berg", "--action", "acknowledge"],
        b"",
    );
    assert!(!cli.status.success());
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains(
            "only the manager of Technical Services Department or the Municipal Executive Office's strategist acknowledges"
        ),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(state(&app, id).await, OccurrenceState::Submitted);

    // The new manager's own link counts.
    let anders_link = link(&app, id, "anders.olsson", Action::Acknowledge);
    let recorded = client.post(&anders_link).send().await.unwrap();
    assert_eq!(recorded.status(), 200);
    assert_eq!(state(&app, id).await, OccurrenceState::Acknowledged);
    app.stop().await;
}

#[tokio::test]
async fn the_follow_up_form_is_read_only_for_those_who_may_see_but_not_submit_it() {
    let dir = TestDir::new().with_shipped_config();
    let app = TestApp::spawn(test_settings(&dir).await).await;
    let occurrence = tekniska_followup(&app).await;
    let form = format!("{}/dashboard/occurrences/{}/followup", app.address, occurrence.id);
    let client = http();

    // KLK's registrar sees every unit, but Tekniska's follow-up is not hers to submit.
    let (cookie, csrf) = session(&app, "eva.persson").await;
    let shown = client.get(&form).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let page = shown.text().await.unwrap();
    assert!(page.contains("Du kan läsa uppföljningen men inte ändra den"), "{page}");
    assert!(
        !page.contains("name=\"intent\""),
        "no buttons to save or submit:\n{page}"
    );
    let posted = client
        .post(&form)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("csrf", csrf.as_str()),
            ("intent", "submit"),
            ("name_0", "Påhittat projekt"),
            ("budget_0", "1 000 000"),
            ("grant_0", "500 000"),
            ("cofinancing_0", "500 000"),
            ("purpose_0", "Syfte"),
            ("results_0", "Resultat"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 403);
    assert_eq!(state(&app, occurrence.id).await, OccurrenceState::Open);
    assert!(
        app.shared.store.followup(occurrence.id).await.unwrap().is_none(),
        "nothing she posted is kept"
    );

    // Tekniska's contact person fills it in.
    let (cookie, csrf) = session(&app, "linnea.dahl").await;
    let page = client
        .get(&form)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"intent\""), "{page}");
    assert!(!page.contains("Du kan läsa uppföljningen men inte ändra den"));
    let draft = client
        .post(&form)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("csrf", csrf.as_str()),
            ("intent", "draft"),
            ("name_0", "Vänort"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 200);
    assert!(app.shared.store.followup(occurrence.id).await.unwrap().is_some());
    app.stop().await;
}
