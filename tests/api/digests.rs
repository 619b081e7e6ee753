//! A reply to a digest acts on every item it answers: Linnea Dahl, the EU contact person of
//! two departments, gets one message about both follow-ups. "Klart för båda" submits both;
//! a plain "klart" asks which, and "2" (or "alla") answers that — by email and on Matrix.

use arshjul::app::inbound::{Authenticity, Inbound, Sender, handle};
use arshjul::domain::config::Transport;
use arshjul::domain::planner::Delivery;
use arshjul::domain::replies::Answer;
use arshjul::domain::routing::Route;
use arshjul::domain::steps::{Reason, Step, Subject};
use arshjul::settings::{EmailTransport, Secret};

use crate::authentic_mail::{Scene, mail};
use crate::helpers::{TestDir, Worker, directory_reaching, test_now, test_settings};
use crate::inbound::sent_on_matrix;
use crate::peers::{Mail, SmtpSink};

/// The shipped directory (everyone on email), with Linnea Dahl also the EU contact person of
/// the Department of Environment and Health.
fn two_units_directory(lines: &str) -> String {
    let directory = directory_reaching("linnea.dahl", lines);
    let unit = directory.find("id = \"miljo-och-halsoskydd\"").unwrap();
    let contact = unit + directory[unit..].find("person = \"jonas.wikstrom\"").unwrap();
    format!(
        "{}person = \"linnea.dahl\"{}",
        &directory[..contact],
        &directory[contact + "person = \"jonas.wikstrom\"".len()..]
    )
}

/// The follow-up occurrences of Linnea's two departments.
async fn follow_ups(worker: &Worker) -> [i64; 2] {
    let app = worker.app.app();
    app.materialise().await.unwrap();
    let occurrences = app.store.occurrences().await.unwrap();
    let of = |unit: &str| {
        occurrences
            .iter()
            .filter(|o| o.unit == unit && o.obligation == "uppfoljning")
            .map(|o| o.id)
            .min()
            .unwrap()
    };
    [of("tekniska"), of("miljo-och-halsoskydd")]
}

async fn states(worker: &Worker, ids: [i64; 2]) -> [String; 2] {
    let store = &worker.app.app().store;
    let mut states = Vec::new();
    for id in ids {
        states.push(store.occurrence(id).await.unwrap().unwrap().state.as_str().to_owned());
    }
    states.try_into().unwrap()
}

/// Linnea's digest about both follow-ups, sent through the SMTP server (the scene's reminder).
async fn digest_by_email() -> (Scene, [i64; 2]) {
    let dir = TestDir::new();
    dir.write("directory.toml", &two_units_directory(""));
    let smtp = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(smtp.url());
    settings.email.reply_to = Some("arshjul <arshjul@example.org>".into());
    settings.links.secret = Secret::new("digest-test-0123456789abcdef0123456789abcdef");
    let worker = Worker::build(settings.clone()).await;
    let ids = follow_ups(&worker).await;
    let deliveries: Vec<Delivery> = ids
        .iter()
        .map(|id| Delivery {
            subject: Subject::Occurrence(*id),
            step: Step::Before(30),
            recipient: "linnea.dahl".into(),
            route: Route::personal(Transport::Email),
            not_before: test_now(),
            reason: Reason::Holder,
            idempotency_key: format!("{id}/before-30/linnea.dahl/email"),
        })
        .collect();
    worker.app.app().store.enqueue(&deliveries, test_now()).await.unwrap();
    worker.drain().await;
    let digest = smtp
        .messages()
        .into_iter()
        .find(|m| m.to() == "linnea.dahl@example.org")
        .expect("Linnea's digest");
    assert_eq!(digest.subject(), "Årshjulet: 2 uppgifter att hantera");
    let scene = Scene {
        dir,
        smtp,
        settings,
        worker,
        reminder: digest,
        occurrence: ids[0],
    };
    (scene, ids)
}

/// A reply to `original` (threaded under it) from Linnea, saying `body`.
fn reply_to(original: &Mail, body: &str) -> Vec<u8> {
    let id = original.header("Message-ID").unwrap();
    let references = original
        .header("References")
        .map_or(id.clone(), |r| format!("{r} {id}"));
    mail(
        "linnea.dahl@example.org",
        "arshjul@example.org",
        &format!("In-Reply-To: {id}\r\nReferences: {references}\r\n"),
        &format!("{body}\r\n\r\nDen 27 nov 2026 skrev arshjul:\r\n> Du har 2 uppgifter"),
    )
}

#[tokio::test]
async fn klart_for_bada_submits_both_items_of_a_digest() {
    let (scene, ids) = digest_by_email().await;
    let said = scene.mailgate(&reply_to(&scene.reminder, "Klart för båda, tack!"));
    assert!(said.starts_with("recorded: 1. Tack! Noterat som inlämnat: "), "{said}");
    assert!(
        said.contains("\n2. Tack! Noterat som inlämnat: "),
        "each item and what became of it: {said}"
    );
    assert_eq!(states(&scene.worker, ids).await, ["submitted", "submitted"]);
}

#[tokio::test]
async fn a_plain_klart_to_a_digest_asks_which_and_the_answer_acts_on_that_one() {
    let (scene, ids) = digest_by_email().await;
    let said = scene.mailgate(&reply_to(&scene.reminder, "Ok, klart!"));
    assert!(
        said.starts_with("asked_which: Vilken gäller det? Svara 1, 2 eller alla."),
        "{said}"
    );
    assert!(
        said.contains("\n1. Komplett uppföljning") && said.contains("\n2. Komplett uppföljning"),
        "{said}"
    );
    assert_eq!(states(&scene.worker, ids).await, ["open", "open"], "nothing acted yet");

    // Linnea answers the question, in its thread.
    let question = scene
        .mails_to("linnea.dahl@example.org")
        .into_iter()
        .find(|m| m.text().starts_with("Vilken gäller det?"))
        .expect("the question reaches her");
    let said = scene.mailgate(&reply_to(&question, "2"));
    assert!(said.starts_with("recorded: 2. Tack! Noterat som inlämnat: "), "{said}");
    assert_eq!(states(&scene.worker, ids).await, ["open", "submitted"]);
    let said = scene.mailgate(&reply_to(&question, "alla"));
    assert!(
        said.contains("1. Tack! Noterat som inlämnat") && said.contains("2. Det var redan noterat"),
        "{said}"
    );
    assert_eq!(states(&scene.worker, ids).await, ["submitted", "submitted"]);
}

#[tokio::test]
async fn on_matrix_a_digest_reply_asks_which_and_alla_answers_it() {
    let dir = TestDir::new();
    dir.write(
        "directory.toml",
        &two_units_directory("matrix_id = \"@linnea.dahl:example.org\""),
    );
    let worker = Worker::build(test_settings(&dir).await).await;
    let app = worker.app.app();
    let ids = follow_ups(&worker).await;
    for unit in ["tekniska", "miljo-och-halsoskydd"] {
        sent_on_matrix(
            &app,
            unit,
            "uppfoljning",
            "linnea.dahl",
            "$digest",
            "!linnea:example.org",
        )
        .await;
    }
    let said_in = |room: &str, reference: &str, text: &str, in_reply_to: Option<&str>| Inbound {
        channel: "matrix",
        reference: reference.to_owned(),
        sender: Sender::Matrix("@linnea.dahl:example.org".into()),
        in_reply_to: in_reply_to.map(str::to_owned),
        text: text.to_owned(),
        room: Some(room.to_owned()),
        private: room == "!linnea:example.org",
        authenticity: Authenticity::Vouched,
    };
    let said = |reference: &str, text: &str, in_reply_to: Option<&str>| {
        said_in("!linnea:example.org", reference, text, in_reply_to)
    };

    let asked = handle(&app, &said("$1", "klart", Some("$digest")))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&asked.answer, Answer::WhichOne { items } if items.len() == 2),
        "{}",
        asked.text
    );
    assert_eq!(states(&worker, ids).await, ["open", "open"]);
    // "alla" in another room answers nothing there.
    let elsewhere = handle(&app, &said_in("!public:example.org", "$p", "alla", None))
        .await
        .unwrap()
        .unwrap();
    assert!(!matches!(elsewhere.answer, Answer::Several(_)), "{}", elsewhere.text);
    assert_eq!(states(&worker, ids).await, ["open", "open"]);
    // Her answer in the room, not as a reply to anything.
    let all = handle(&app, &said("$2", "alla", None)).await.unwrap().unwrap();
    assert!(
        matches!(&all.answer, Answer::Several(answers) if answers.len() == 2),
        "{}",
        all.text
    );
    assert_eq!(states(&worker, ids).await, ["submitted", "submitted"]);
}
