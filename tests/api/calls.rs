//! EU funding calls end to end against the SMTP sink and a Teams sink for the network channel:
//! the strategist announces, every contact person and the channel hear it once, units answer,
//! units that apply get their review deadlines, a cancellation reaches the same people; and the
//! HTTP API's authentication and field-level errors.

use arshjul::app::calls::{Announcing, Change};
use arshjul::domain::calls::{Draft, Interest};
use arshjul::domain::config::{Person, Role};
use arshjul::domain::occurrence::Actor;
use arshjul::settings::{CardFormat, EmailTransport, Secret, Settings, TeamsWebhook};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDir, Worker, directory_reaching, http, test_settings};
use crate::matrix::{Homeserver, MatrixUser, say, with_bot};
use crate::peers::{SmtpSink, WebhookSink};

/// Everyone on email; the EU network's channel on Teams through `teams`.
async fn network_settings(dir: &TestDir, smtp: &SmtpSink, teams: &WebhookSink) -> Settings {
    let directory = directory_reaching("linnea.dahl", "").replace(
        "[channels.eu-network]\n",
        "[channels.eu-network]\nteams = \"eu-network\"\n",
    );
    dir.write("directory.toml", &directory);
    let mut settings = test_settings(dir).await;
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(smtp.url());
    settings.teams.webhooks.insert(
        "eu-network".into(),
        TeamsWebhook {
            url: Secret::new(teams.url.clone()),
            format: CardFormat::AdaptiveCard,
        },
    );
    settings
}

fn person(worker: &Worker, id: &str) -> Person {
    worker.app.app().config().directory.person_named(id).unwrap().clone()
}

fn erasmus() -> Draft {
    Draft {
        title: "Erasmus+ KA220 samarbetspartnerskap".into(),
        programme: "Erasmus+".into(),
        link: "https://erasmus-plus.ec.europa.eu/calls/ka220".into(),
        deadline: "2027-03-16".into(),
        description: "Partnerskap för **skola** och vuxenutbildning.".into(),
        units: vec!["tekniska".into(), "kultur-och-fritid".into()],
        ..Draft::default()
    }
}

#[tokio::test]
async fn a_call_reaches_the_network_once_and_units_that_apply_get_review_deadlines() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let teams = WebhookSink::start(dir.path(), &[]);
    let settings = network_settings(&dir, &smtp, &teams).await;
    let worker = Worker::build(settings.clone()).await;
    let shared = worker.app.app();
    let config = shared.config();
    let strategist = person(&worker, "johan.lindqvist");

    let Announcing::Done(call) = shared.announce(&strategist, &erasmus()).await.unwrap() else {
        panic!("the strategist announces");
    };
    let again = Draft {
        link: "https://erasmus-plus.ec.europa.eu/calls/ka220/#apply".into(),
        ..erasmus()
    };
    assert!(
        matches!(shared.announce(&strategist, &again).await.unwrap(), Announcing::Before(c) if c.id == call.id),
        "the same call (same link) is recognised"
    );
    let outsider = person(&worker, "linnea.dahl");
    assert!(matches!(
        shared.announce(&outsider, &erasmus()).await.unwrap(),
        Announcing::Refused(arshjul::domain::calls::CallRefusal::NotStrategist { .. })
    ));

    // The channel hears it at once; contact persons at the day's digest time, 15:00.
    worker.drain().await;
    assert_eq!(teams.received().len(), 1, "one card in the network channel");
    let card = &teams.received()[0].body;
    assert!(
        card.contains("Erasmus+ KA220") && card.contains("AdaptiveCard"),
        "{card}"
    );
    assert!(smtp.messages().is_empty(), "personal messages wait for the digest time");
    worker.clock.set("2026-11-27T14:00:00Z".parse().unwrap());
    worker.drain().await;
    let contacts: Vec<String> = ["tekniska", "kultur-och-fritid"]
        .iter()
        .map(|u| {
            let unit = config.directory.unit_named(u).unwrap();
            config
                .directory
                .person(&unit.roles[&Role::EuContact].person)
                .unwrap()
                .email
                .clone()
        })
        .collect();
    let mails = smtp.messages();
    let mut to: Vec<String> = mails.iter().map(|m| m.to()).collect();
    to.sort();
    let mut expected = contacts.clone();
    expected.sort();
    assert_eq!(to, expected, "each contact person once");
    let linnea_mail = mails
        .iter()
        .find(|m| m.to() == "linnea.dahl@example.org")
        .expect("Linnea's mail");
    assert!(
        linnea_mail.subject().starts_with("EU-utlysning: Erasmus+ KA220"),
        "{}",
        linnea_mail.subject()
    );
    assert!(
        linnea_mail.text().contains("Sista ansökningsdag:  tisdag 16 mars 2027"),
        "{}",
        linnea_mail.text()
    );
    assert!(
        linnea_mail.html().contains("<strong>skola</strong>"),
        "Markdown is rendered"
    );
    assert!(linnea_mail.text().contains("/calls/answer/"), "signed answer links");
    assert_eq!(
        linnea_mail.header("List-Id").as_deref(),
        Some("EU funding calls <eu-calls.arshjul.example.org>"),
        "for a mail filter"
    );
    read_on_a_phone_and_a_desktop(&dir, &linnea_mail.html()).await;

    // Linnea answers "ansöker" by email, through `arshjul mailgate` as the mail server pipes
    // it: Tekniska's draft and review deadlines are created.
    let message_id = linnea_mail.header("Message-ID").expect("a Message-ID");
    let reply = |id: &str, answer: &str| {
        format!(
            "From: Linnea Dahl <linnea.dahl@example.org>\r\nTo: arshjul@example.org\r\n\
             Subject: Re: {}\r\nMessage-ID: <{id}@example.org>\r\nIn-Reply-To: {message_id}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             {answer}\r\n\r\nDen 27 nov 2026 skrev arshjul:\r\n> Är er enhet intresserad?\r\n",
            linnea_mail.subject()
        )
        .into_bytes()
    };
    let mailgate = |raw: Vec<u8>| {
        let output = crate::inbound::arshjul(&settings, &dir, &["mailgate"], &raw);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let answered = mailgate(reply("reply-1", "Ansöker!"));
    assert!(
        answered.starts_with("interest: Tack! Noterat för Tekniska förvaltningen: ansöker"),
        "{answered}"
    );
    let occurrences = shared.store.occurrences().await.unwrap();
    let mut review: Vec<(String, String, String)> = occurrences
        .iter()
        .filter(|o| o.period == format!("call-{}", call.id))
        .map(|o| {
            (
                o.obligation.clone(),
                o.unit.clone(),
                config.local_date(o.due_at).to_string(),
            )
        })
        .collect();
    review.sort();
    // Fifteen business days before Tuesday 16 March 2027 is Tuesday 23 February (the
    // manager's endorsement), ten is Tuesday 2 March (the draft); three is 11 March.
    assert_eq!(
        review,
        [
            ("ansokan-forankring".into(), "tekniska".into(), "2027-02-23".into()),
            ("ansokan-granskning".into(), "tekniska".into(), "2027-03-11".into()),
            ("ansokan-utkast".into(), "tekniska".into(), "2027-03-02".into()),
        ]
    );
    assert!(
        mailgate(reply("reply-2", "Ansöker!")).starts_with("already: "),
        "the same answer again"
    );
    assert!(
        mailgate(reply("reply-3", "Tack"))
            .starts_with("not_understood: Jag förstod inte svaret. Svara \"intresserad\""),
        "an answer to a call is asked for in a call's words"
    );

    // On Monday KLK's strategist gets the week's summary of the answers.
    worker.clock.set("2026-11-30T08:00:00Z".parse().unwrap());
    shared.plan().await.unwrap();
    worker.drain().await;
    let summary = smtp
        .messages()
        .into_iter()
        .find(|m| m.to() == "johan.lindqvist@example.org")
        .expect("the strategist's weekly summary");
    assert!(summary.subject().contains("(svaren vecka 49)"), "{}", summary.subject());
    let text = summary.text();
    assert!(
        text.contains("Ansöker: Tekniska förvaltningen") && text.contains("Inget svar: 1 enhet"),
        "{text}"
    );

    // The strategist is reminded to review before the deadline: planned like any occurrence.
    worker.clock.set("2027-03-08T08:00:00Z".parse().unwrap());
    shared.plan().await.unwrap();
    let planned = worker.outbox().await;
    assert!(
        planned
            .iter()
            .any(|r| r.recipient == "johan.lindqvist" && r.step == "before-5"),
        "the strategist's review reminder: {planned:#?}"
    );

    // Cancelling reaches the channel and both contact persons again, and waives the review.
    let actor = Actor {
        person: "johan.lindqvist",
        channel: "cli",
        source: "test",
        note: None,
    };
    let cancel = Change::Cancel {
        reason: Some("fel utlysning".into()),
    };
    assert!(matches!(
        shared.change_call(&strategist, call.id, &cancel, &actor).await.unwrap(),
        Announcing::Done(_)
    ));
    worker.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    worker.drain().await;
    assert_eq!(teams.received().len(), 2);
    assert!(teams.received()[1].body.contains("Inställd"));
    let cancelled: Vec<String> = smtp
        .messages()
        .iter()
        .filter(|m| m.subject().contains("(inställd)"))
        .map(|m| m.to())
        .collect();
    assert_eq!(cancelled.len(), contacts.len(), "{cancelled:?}");
    let states: Vec<String> = shared
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.period == format!("call-{}", call.id))
        .map(|o| o.state.as_str().to_owned())
        .collect();
    assert_eq!(states, ["waived", "waived", "waived"]);
}

/// The mail `html` as Chromium shows it: at 375 px (a phone) nothing runs off the screen and
/// no two buttons touch; at 1024 px lines stay a readable length.
async fn read_on_a_phone_and_a_desktop(dir: &TestDir, html: &str) {
    let file = dir.path().join("mail.html");
    std::fs::write(&file, html).unwrap();
    let browser = crate::browser::Browser::start().await;
    let layout = "const buttons = [...document.querySelectorAll('a')].filter(a => a.style.display.includes('block') \
        || getComputedStyle(a).display.includes('block')).map(a => a.getBoundingClientRect()); \
        const apart = buttons.every((a, i) => buttons.every((b, j) => i === j || a.bottom + 2 <= b.top \
        || b.bottom + 2 <= a.top || a.right + 2 <= b.left || b.right + 2 <= a.left)); \
        const widest = Math.max(...[...document.querySelectorAll('p')].map(p => p.getBoundingClientRect().width)); \
        return [document.documentElement.scrollWidth, window.innerWidth, buttons.length, apart, widest];";
    browser.resize(375, 800).await;
    browser.goto(&format!("file://{}", file.display())).await;
    let phone = browser.script(layout, json!([])).await;
    assert!(
        phone[0].as_f64() <= phone[1].as_f64(),
        "nothing wider than the phone: {phone}"
    );
    assert!(
        phone[2].as_u64() >= Some(3) && phone[3] == json!(true),
        "buttons apart: {phone}"
    );
    browser.resize(1024, 800).await;
    browser.goto(&format!("file://{}", file.display())).await;
    let desktop = browser.script(layout, json!([])).await;
    assert!(
        desktop[4].as_f64().unwrap() <= 45.0 * 16.0,
        "lines of a readable length: {desktop}"
    );
}

#[tokio::test]
async fn the_api_needs_a_token_and_names_every_wrong_field() {
    let dir = TestDir::new();
    let mut settings = test_settings(&dir).await;
    let token = "s3cret-token";
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    settings.api.tokens.insert(
        "strategist".into(),
        arshjul::settings::ApiToken {
            person: "johan.lindqvist".into(),
            sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        },
    );
    let contact = ring::digest::digest(&ring::digest::SHA256, b"contact-token");
    settings.api.tokens.insert(
        "linnea".into(),
        arshjul::settings::ApiToken {
            person: "linnea.dahl".into(),
            sha256: contact.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        },
    );
    let app = TestApp::spawn(settings).await;
    let url = format!("{}/api/announcements", app.address);

    let anonymous = http().post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = http()
        .post(&url)
        .bearer_auth("guess")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    let bad = json!({"link": "not a url", "deadline": "2020-01-01", "units": ["tekniska", "atlantis"]});
    let response = http().post(&url).bearer_auth(token).json(&bad).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "link", "deadline", "units"], "{body}");
    assert!(body.to_string().contains("unknown unit \\\"atlantis\\\""), "{body}");

    let good = json!({"title": "LIFE 2027", "link": "https://cinea.ec.europa.eu/life", "deadline": "2027-09-01"});
    let response = http().post(&url).bearer_auth(token).json(&good).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(created["title"], "LIFE 2027");
    let response = http().post(&url).bearer_auth(token).json(&good).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "the same call again");
    let again: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (again["duplicate"].clone(), again["id"].clone()),
        (json!(true), created["id"].clone())
    );

    // A contact person's signed link: the page asks first, the form's POST records once.
    let id = created["id"].as_i64().unwrap();
    let made = app
        .shared
        .links
        .call_url(id, "linnea.dahl", Interest::Applying, crate::helpers::test_now());
    let link = format!("{}/calls/{}", app.address, made.split_once("/calls/").unwrap().1);
    let page = http().get(&link).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Svara på utlysningen?") && page.contains("ansöker"),
        "{page}"
    );
    assert!(
        app.shared.store.interests().await.unwrap().is_empty(),
        "a GET changes nothing"
    );
    let done = http().post(&link).send().await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    let done = done.text().await.unwrap();
    assert!(
        done.contains("Gäller: Tekniska förvaltningen"),
        "the unit by name: {done}"
    );
    let interests = app.shared.store.interests().await.unwrap();
    assert_eq!(
        interests
            .iter()
            .map(|i| (i.unit.as_str(), i.interest, i.channel.as_str()))
            .collect::<Vec<_>>(),
        [("tekniska", Interest::Applying, "link")]
    );
    let forged = format!("{}x", link.trim_end_matches(|c: char| c != '.'));
    assert_eq!(http().post(&forged).send().await.unwrap().status().as_u16(), 400);

    // Corrections and cancellation.
    let call_url = format!("{url}/{}", created["id"]);
    let later = http()
        .patch(&call_url)
        .bearer_auth(token)
        .json(&json!({"deadline": "2027-10-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status().as_u16(), 200);
    let later: serde_json::Value = later.json().await.unwrap();
    assert_eq!(
        (later["deadline"].clone(), later["revision"].clone()),
        (json!("2027-10-01"), json!(1))
    );
    let unknown = http()
        .patch(&call_url)
        .bearer_auth(token)
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 422, "an unknown field is named, not ignored");
    assert!(unknown.text().await.unwrap().contains("colour"));
    let cancel = format!("{call_url}/cancel");
    let cancelled = http()
        .post(&cancel)
        .bearer_auth(token)
        .json(&json!({"reason": "dubblett"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 200);
    assert_eq!(
        cancelled.json::<serde_json::Value>().await.unwrap()["state"],
        "cancelled"
    );
    let again = http().post(&cancel).bearer_auth(token).send().await.unwrap();
    assert_eq!(
        again.status().as_u16(),
        404,
        "a cancelled call cannot be cancelled again"
    );
    let contact = http()
        .post(&url)
        .bearer_auth("contact-token")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(contact.status().as_u16(), 403, "only the strategist announces");
    app.stop().await;
}

/// The directory with Johan Lindqvist (KLK's strategist), Linnea Dahl (Tekniska's contact
/// person) and Oskar Jonsson (Kultur och fritid's) on Matrix, everyone else on email, and
/// the EU network's room at `room_alias`.
fn network_on_matrix(johan: &MatrixUser, linnea: &MatrixUser, oskar: &MatrixUser, room_alias: &str) -> String {
    let on_matrix = |user: &MatrixUser| format!("matrix_id = \"{}\"\nprefers = [\"matrix\"]", user.user_id);
    let email = |id: &str| format!("email = \"{id}@example.org\"\n");
    directory_reaching("johan.lindqvist", &on_matrix(johan))
        .replacen(
            &email("linnea.dahl"),
            &format!("{}{}\n", email("linnea.dahl"), on_matrix(linnea)),
            1,
        )
        .replacen(
            &email("oskar.jonsson"),
            &format!("{}{}\n", email("oskar.jonsson"), on_matrix(oskar)),
            1,
        )
        .replace(
            "[channels.eu-network]\n",
            &format!("[channels.eu-network]\nmatrix_room = \"{room_alias}\"\n"),
        )
}

/// The bot's `m.notice` answers in `room`, oldest first.
async fn answers(user: &MatrixUser, room: &str) -> Vec<String> {
    user.messages(room)
        .await
        .into_iter()
        .filter(|m| m["content"]["msgtype"] == "m.notice")
        .map(|m| m["content"]["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn one_command_in_the_network_room_reaches_everyone_and_two_units_apply() {
    let homeserver = Homeserver::get();
    let bot = homeserver.register("arshjul").await;
    let (johan, linnea, oskar) = (
        homeserver.register("johan").await,
        homeserver.register("linnea").await,
        homeserver.register("oskar").await,
    );
    let alias = format!("eu-natverket-{}", fastrand::u32(..));
    let room = johan
        .call(
            reqwest::Method::POST,
            "createRoom",
            Some(json!({"preset": "public_chat", "room_alias_name": alias, "invite": [bot.user_id]})),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = TestDir::new();
    dir.write(
        "directory.toml",
        &network_on_matrix(&johan, &linnea, &oskar, &format!("#{alias}:localhost")),
    );
    let mut settings = test_settings(&dir).await;
    with_bot(&mut settings, &homeserver, &bot);
    let follower = arshjul::channels::matrix::MatrixNotifier::new(&settings.matrix)
        .unwrap()
        .unwrap();
    let worker = Worker::build(settings.clone()).await;
    let shared = worker.app.app();
    let sync = || arshjul::inbound::matrix::sync_once(&shared, &follower, 1_000);
    assert_eq!(
        sync().await.unwrap(),
        0,
        "the first sync joins the room on Johan's invitation"
    );
    linnea.join(&room).await;
    oskar.join(&room).await;

    // Linnea is no strategist: politely refused, nothing announced.
    let command =
        "!arshjul utlysning Interreg ÖKS: gröna hamnar | https://interreg-oks.eu/utlysning/7 | 2027-04-06 | Interreg";
    say(
        &linnea,
        &room,
        "m.room.message",
        json!({"msgtype": "m.text", "body": command}),
    )
    .await;
    assert_eq!(sync().await.unwrap(), 1);
    assert!(shared.store.announcements().await.unwrap().is_empty());
    // The strategist's command is the announcement.
    say(
        &johan,
        &room,
        "m.room.message",
        json!({"msgtype": "m.text", "body": command}),
    )
    .await;
    assert_eq!(sync().await.unwrap(), 1);
    let told = answers(&johan, &room).await;
    assert!(
        told[0].starts_with(
            "Svaret kunde inte registreras: bara kommunledningskontorets planeringsstrateg lägger upp EU-utlysningar"
        ),
        "{told:?}"
    );
    assert!(
        told[1].starts_with("Tack! Utlysningen #1 ”Interreg ÖKS: gröna hamnar” är upplagd."),
        "{told:?}"
    );
    // The strategist is told when it reaches the contact persons: at the day's digest time.
    assert!(
        told[1].contains("Den går ut till EU-kontaktpersonerna fredag 27 november 2026 kl. 15.00."),
        "{told:?}"
    );

    // The room at once, every contact person at 15:00: Linnea and Oskar on Matrix, the
    // others by email; each exactly once.
    worker.drain().await;
    worker.clock.set("2026-11-27T14:00:00Z".parse().unwrap());
    worker.drain().await;
    let rows = worker.outbox().await;
    let announced: Vec<_> = rows.iter().filter(|r| r.announcement_id.is_some()).collect();
    assert!(announced.iter().all(|r| r.state.as_str() == "sent"), "{announced:#?}");
    let config = shared.config();
    let mut expected: Vec<String> = config
        .directory
        .units
        .iter()
        .filter_map(|u| u.roles.get(&Role::EuContact))
        .map(|a| a.person.to_string())
        .collect();
    expected.sort();
    expected.dedup();
    let mut reached: Vec<String> = announced
        .iter()
        .filter(|r| !r.recipient.starts_with('#'))
        .map(|r| r.recipient.clone())
        .collect();
    reached.sort();
    assert_eq!(reached, expected, "every contact person once");
    let post = announced.iter().find(|r| r.recipient == "#eu-network").unwrap();
    let posts: Vec<Value> = johan
        .messages(&room)
        .await
        .into_iter()
        .filter(|m| m["sender"] == bot.user_id.as_str() && m["content"]["msgtype"] == "m.text")
        .collect();
    assert_eq!(posts.len(), 1, "one post in the room");
    assert_eq!(posts[0]["event_id"].as_str(), post.provider_id.as_deref());
    assert!(
        posts[0]["content"]["body"]
            .as_str()
            .unwrap()
            .contains("Sista ansökningsdag")
    );

    // Linnea reacts ✅ to her direct message; Oskar answers the room's post "ansöker".
    let to_linnea = announced.iter().find(|r| r.recipient == "linnea.dahl").unwrap();
    let direct = to_linnea.destination.clone().unwrap();
    linnea.join(&direct).await;
    let reaction =
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": to_linnea.provider_id, "key": "✅"}});
    say(&linnea, &direct, "m.reaction", reaction).await;
    let reply = json!({"msgtype": "m.text", "body": "Ansöker, vi har en idé om landström",
        "m.relates_to": {"m.in_reply_to": {"event_id": post.provider_id}}});
    say(&oskar, &room, "m.room.message", reply).await;
    assert_eq!(sync().await.unwrap(), 2);
    assert!(
        answers(&oskar, &room)
            .await
            .last()
            .unwrap()
            .starts_with("Tack! Noterat för Kultur- och fritidsförvaltningen: ansöker")
    );

    // `arshjul status` shows both units' draft and review deadlines with their next reminders.
    let status = crate::inbound::arshjul(&settings, &dir, &["status", "--year", "2027"], b"");
    let listing = String::from_utf8_lossy(&status.stdout);
    for unit in ["tekniska", "kultur-och-fritid"] {
        for (obligation, due) in [("ansokan-utkast", "2027-03-19"), ("ansokan-granskning", "2027-04-01")] {
            let line = listing
                .lines()
                .find(|l| l.contains(unit) && l.contains(obligation))
                .unwrap_or_else(|| panic!("no {obligation} for {unit} in\n{listing}"));
            assert!(
                line.contains(due) && line.contains("call-1") && line.contains("before-5 2027-"),
                "{line}"
            );
        }
    }

    // A later deadline: the room's update answers the first post, and the deadlines move.
    let strategist = config.directory.person_named("johan.lindqvist").unwrap().clone();
    let actor = Actor {
        person: "johan.lindqvist",
        channel: "cli",
        source: "test",
        note: None,
    };
    let announcement = shared.store.announcement(1).await.unwrap().unwrap();
    let later = Draft {
        deadline: "2027-04-20".into(),
        ..announcement.call.to_draft()
    };
    let corrected = shared
        .change_call(&strategist, 1, &Change::Correct(later), &actor)
        .await
        .unwrap();
    assert!(
        matches!(corrected, Announcing::Done(ref a) if a.revision == 1),
        "{corrected:?}"
    );
    worker.clock.set("2026-11-30T14:00:00Z".parse().unwrap());
    worker.drain().await;
    let update = johan
        .messages(&room)
        .await
        .into_iter()
        .filter(|m| m["sender"] == bot.user_id.as_str() && m["content"]["msgtype"] == "m.text")
        .nth(1)
        .expect("the correction in the room");
    assert_eq!(
        update["content"]["m.relates_to"]["m.in_reply_to"]["event_id"].as_str(),
        post.provider_id.as_deref()
    );
    let body = update["content"]["body"].as_str().unwrap();
    assert!(body.contains("Ändrad"));
    assert!(
        body.starts_with("Hej EU-nätverket!"),
        "the channel greeted by what it is: {body}"
    );
    let drafts: Vec<String> = shared
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.obligation == "ansokan-utkast")
        .map(|o| config.local_date(o.due_at).to_string())
        .collect();
    assert_eq!(
        drafts,
        ["2027-04-06", "2027-04-06"],
        "ten business days before 20 April"
    );

    // The history for the yearly follow-up: answers and outcomes (the strategist's), as CSV.
    let outcome = |person: &str, due: &str| {
        let args = [
            "calls",
            "outcome",
            "1",
            "--unit",
            "tekniska",
            "--outcome",
            "granted",
            "--amount",
            "1200000",
            "--due",
            due,
            "--as",
            person,
        ];
        crate::inbound::arshjul(&settings, &dir, &args, b"")
    };
    let final_report = "projekt-slutrapport=2029-03-31";
    assert!(
        !outcome("linnea.dahl", final_report).status.success(),
        "only the strategist records outcomes"
    );
    let wrong = outcome("johan.lindqvist", "slutrapport=2029-03-31");
    assert!(!wrong.status.success());
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr),
        "--due: \"slutrapport\" is no per-project obligation of tekniska\n"
    );
    // The grant gives Tekniska the project's reports: the final report on the day given (31
    // March 2029 is a Saturday, the 30th långfredagen: Thursday 29), the others by the
    // calendar's defaults.
    let granted = outcome("johan.lindqvist", final_report);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let said = String::from_utf8_lossy(&granted.stdout);
    let reports: Vec<&str> = said
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        reports,
        [
            "projekt-lagesrapport",
            "projekt-ekonomisk-rapport",
            "projekt-slutrapport"
        ],
        "{said}"
    );
    assert!(said.contains("projekt-slutrapport due 2029-03-29"), "{said}");
    let again = outcome("johan.lindqvist", final_report);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "call 1, tekniska: granted\n",
        "recorded again, the reports are not made twice"
    );
    let projects = shared
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.period == "project-1" && o.unit == "tekniska" && o.announcement_id == Some(1))
        .count();
    assert_eq!(projects, 3);
    let csv = crate::inbound::arshjul(&settings, &dir, &["calls", "--year", "2027", "--format", "csv"], b"");
    let csv = String::from_utf8_lossy(&csv.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "call,title,programme,deadline,state,unit,interest,outcome,amount,answered_by"
    );
    assert_eq!(
        &lines[1..],
        [
            "1,Interreg ÖKS: gröna hamnar,Interreg,2027-04-20,active,kultur-och-fritid,applying,,,oskar.jonsson",
            "1,Interreg ÖKS: gröna hamnar,Interreg,2027-04-20,active,tekniska,applying,granted,1200000,linnea.dahl",
        ]
    );
}

#[tokio::test]
async fn the_cli_announces_once_only_for_the_strategist_and_cancels() {
    let dir = TestDir::new();
    let settings = test_settings(&dir).await;
    let run = |args: &[&str]| crate::inbound::arshjul(&settings, &dir, args, b"");
    let out = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let call = [
        "--title",
        "LIFE 2027 Natur",
        "--programme",
        "LIFE",
        "--link",
        "https://cinea.ec.europa.eu/life",
        "--deadline",
        "2027-09-30",
        "--units",
        "tekniska,miljo-och-halsoskydd",
        "--tags",
        "miljö,natur",
    ];
    let announce = |person: &str| {
        let mut args = vec!["announce", "--as", person];
        args.extend(call);
        run(&args)
    };
    let first = announce("johan.lindqvist");
    assert!(first.status.success(), "{}", out(&first));
    assert_eq!(out(&first), "call 1 announced: LIFE 2027 Natur\n");
    assert!(out(&announce("johan.lindqvist")).starts_with("call 1 was announced before"));
    let refused = announce("linnea.dahl");
    assert!(!refused.status.success());
    assert!(out(&refused).contains("only KLK's strategist"), "{}", out(&refused));
    let invalid = run(&[
        "announce",
        "--as",
        "johan.lindqvist",
        "--title",
        "X",
        "--link",
        "nope",
        "--deadline",
        "2020-01-01",
    ]);
    assert!(!invalid.status.success());
    let said = out(&invalid);
    assert!(
        said.contains("--link: \"nope\" is not a web address")
            && said.contains("--deadline: 2020-01-01 is in the past"),
        "{said}"
    );

    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    let mut told: Vec<String> = store
        .outbox(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.announcement_id == Some(1))
        .map(|r| r.recipient)
        .collect();
    told.sort();
    assert_eq!(told.len(), 2, "the two units' contact persons: {told:?}");

    let cancelled = run(&[
        "calls",
        "cancel",
        "1",
        "--as",
        "johan.lindqvist",
        "--reason",
        "fel program",
    ]);
    assert_eq!(out(&cancelled), "call 1 cancelled: LIFE 2027 Natur\n");
    let listing: Value = serde_json::from_slice(&run(&["calls", "--format", "json"]).stdout).unwrap();
    assert_eq!(listing[0]["state"], "cancelled", "{listing}");
    let steps: Vec<(String, String)> = store
        .outbox(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.announcement_id == Some(1))
        .map(|r| (r.step, r.state.as_str().to_owned()))
        .collect();
    assert!(
        steps.iter().filter(|(step, _)| step == "cancelled").count() == 2,
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .filter(|(step, _)| step == "announce")
            .all(|(_, state)| state == "cancelled"),
        "the unsent announcement is withdrawn: {steps:?}"
    );
}

#[tokio::test]
async fn a_database_from_before_calls_migrates_with_its_deliveries_and_inbox() {
    use sqlx::Connection as _;
    let dir = TestDir::new();
    let settings = test_settings(&dir).await;
    let url = settings.database.url.expose().to_owned();
    let (folder, connect_url) = match url.starts_with("sqlite") {
        true => ("sqlite", format!("{url}?mode=rwc")),
        false => ("postgres", url.clone()),
    };
    // The migrations an older arshjul had run.
    let older = dir.path().join("older-migrations");
    std::fs::create_dir_all(&older).unwrap();
    for entry in std::fs::read_dir(crate::helpers::repo().join("migrations").join(folder)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if name.to_string_lossy().as_ref() < "20261127000005" {
            std::fs::copy(&path, older.join(name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&connect_url).await.unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .unwrap();
    for statement in [
        "INSERT INTO occurrences (obligation, unit, period, due_at, created_at, updated_at) \
         VALUES ('uppfoljning', 'tekniska', '2026', 1, 1, 1)",
        "INSERT INTO outbox (idempotency_key, occurrence_id, step, recipient, channel, reason, not_before, \
         created_at, updated_at, state, provider_id, destination) \
         VALUES ('1/due/linnea.dahl/matrix', 1, 'due', 'linnea.dahl', 'matrix', 'holder', 1, 1, 1, 'sent', '$e1', '!room')",
        "INSERT INTO inbox (channel, reference, sender, person, delivery_id, occurrence_id, text, outcome, detail, \
         received_at) VALUES ('matrix', '$r1', '@linnea:example.org', 'linnea.dahl', 1, 1, 'klar', 'recorded', '', 1)",
    ] {
        sqlx::query(statement).execute(&mut connection).await.unwrap();
    }
    connection.close().await.unwrap();

    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let delivery = store
        .delivery_by_provider_id("$e1")
        .await
        .unwrap()
        .expect("the delivery is kept");
    assert_eq!(
        (
            delivery.occurrence_id,
            delivery.announcement_id,
            delivery.destination.as_deref()
        ),
        (Some(1), None, Some("!room"))
    );
    let inbox = store.inbox(None, 10).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].delivery_id, Some(1));
    // Deliveries about calls can be written now; a delivery about neither is refused.
    let neither = "INSERT INTO outbox (idempotency_key, step, recipient, channel, reason, not_before, created_at, \
                   updated_at) VALUES ('x', 'due', 'linnea.dahl', 'email', 'holder', 1, 1, 1)";
    let mut connection = sqlx::AnyConnection::connect(&connect_url).await.unwrap();
    assert!(sqlx::query(neither).execute(&mut connection).await.is_err());
}

#[tokio::test]
async fn the_strategist_announces_from_the_teams_channel() {
    use base64::Engine as _;
    let dir = TestDir::new();
    dir.write(
        "directory.toml",
        &directory_reaching("johan.lindqvist", "teams_user_id = \"aad-johan\""),
    );
    let mut settings = test_settings(&dir).await;
    settings.teams.outgoing_secret = Secret::new(base64::engine::general_purpose::STANDARD.encode(b"teams-token"));
    let app = TestApp::spawn(settings).await;
    let now = crate::helpers::test_now();
    let command = "<at>arshjul</at> utlysning Horizon Europe: klimatanpassning | \
                   <a href=\"https://ec.europa.eu/horizon/c9\">https://ec.europa.eu/horizon/c9</a> | 2027-05-04";
    let (status, body) = crate::inbound::teams_post(&app, b"teams-token", "t1", "aad-johan", command, now).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Tack! Utlysningen #1 ”Horizon Europe: klimatanpassning”"),
        "{answer}"
    );
    let calls = app.shared.store.announcements().await.unwrap();
    assert_eq!(calls[0].call.link, "https://ec.europa.eu/horizon/c9");
    let cancel = "<at>arshjul</at> ställ in 99";
    let (_, body) = crate::inbound::teams_post(&app, b"teams-token", "t2", "aad-johan", cancel, now).await;
    assert!(body.contains("Det finns ingen sådan utlysning"), "{body}");
    app.stop().await;
}
