//! Authentic email: `From:` alone proves nothing. Forged mail — through `arshjul mailgate` and
//! through Dovecot — acts on nothing, announces nothing, marks nothing dead, is answered by
//! nothing and is kept with its reason; a genuine reply through the signed reply address and
//! a command the municipality's mail server vouches for (`dmarc=pass` from the trusted
//! authserv-id) still act, and their answers are threaded, fixed-subject, `auto-replied` and a
//! few an hour at most.

use arshjul::domain::steps::DeliveryState;
use arshjul::settings::{EmailTransport, Secret, Settings};

use crate::helpers::{TestDir, Worker, test_settings};
use crate::inbound::{arshjul, bounce_of, imap_session};
use crate::peers::{Mail, SmtpSink};

const TRUSTED: &str = "mx.example.org";

pub(crate) struct Scene {
    pub(crate) dir: TestDir,
    pub(crate) smtp: SmtpSink,
    pub(crate) settings: Settings,
    pub(crate) worker: Worker,
    /// Kristina Falk's reminder, as the SMTP server stored it.
    pub(crate) reminder: Mail,
    pub(crate) occurrence: i64,
}

/// The reminders of 27 November 2026 sent through the SMTP server; Kristina Falk (the
/// housing company's CEO) got one.
pub(crate) async fn reminded() -> Scene {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = test_settings(&dir).await;
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(smtp.url());
    settings.email.reply_to = Some("arshjul <arshjul@example.org>".into());
    settings.email.trusted_authserv_id = TRUSTED.into();
    settings.links.secret = Secret::new("authentic-mail-test-0123456789abcdef0123456789abcdef");
    let worker = Worker::build(settings.clone()).await;
    worker.materialise_and_plan().await;
    worker.drain().await;
    let reminder = smtp
        .messages()
        .into_iter()
        .find(|m| m.to() == "kristina.falk@example.org")
        .expect("Kristina is reminded");
    let occurrence = worker.occurrence_reminding("kristina.falk").await;
    Scene {
        dir,
        smtp,
        settings,
        worker,
        reminder,
        occurrence,
    }
}

/// A plain message from `from` to `to` saying `body`, with `headers` before the body.
pub(crate) fn mail(from: &str, to: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: arshjul\r\nMessage-ID: <{}@mail.example.org>\r\n{headers}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        fastrand::u64(..)
    )
    .into_bytes()
}

impl Scene {
    pub(crate) fn mailgate(&self, raw: &[u8]) -> String {
        let output = self.try_mailgate(raw);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `arshjul mailgate` with `raw` on its standard input.
    pub(crate) fn try_mailgate(&self, raw: &[u8]) -> std::process::Output {
        arshjul(&self.settings, &self.dir, &["mailgate"], raw)
    }

    pub(crate) fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.smtp.messages().into_iter().filter(|m| m.to() == address).collect()
    }

    pub(crate) async fn state(&self) -> String {
        let store = &self.worker.app.app().store;
        store
            .occurrence(self.occurrence)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str()
            .to_owned()
    }

    pub(crate) fn reply_address(&self) -> String {
        let reply_to = self.reminder.header("Reply-To").unwrap();
        reply_to
            .trim_start_matches(|c| c != '<')
            .trim_matches(['<', '>'])
            .to_owned()
    }
}

#[tokio::test]
async fn forged_from_mail_acts_on_nothing_and_is_answered_by_nothing_but_kept() {
    let scene = reminded().await;
    let occurrence = scene.occurrence;
    let mails_before = scene.smtp.messages().len();
    let guessable = format!("<{occurrence}.before-2.kristina.falk.email@example.org>");
    let forged_auth = "Authentication-Results: evil.example; dmarc=pass header.from=example.org\r\n";
    let failed_auth = format!("Authentication-Results: {TRUSTED}; dmarc=fail header.from=example.org\r\n");
    let forgeries = [
        mail(
            "kristina.falk@example.org",
            "arshjul@example.org",
            "",
            &format!("!arshjul klar {occurrence}"),
        ),
        mail(
            "kristina.falk@example.org",
            "arshjul@example.org",
            &format!("In-Reply-To: {guessable}\r\nReferences: {guessable}\r\n"),
            "Klart!",
        ),
        mail(
            "kristina.falk@example.org",
            "arshjul+1-0123456789abcdef@example.org",
            "",
            "Klart!",
        ),
        mail(
            "kristina.falk@example.org",
            "arshjul@example.org",
            forged_auth,
            &format!("!arshjul klar {occurrence}"),
        ),
        // The trusted server's own verdict lies above a forged one.
        mail(
            "johan.lindqvist@example.org",
            "arshjul@example.org",
            &format!("{failed_auth}Authentication-Results: {TRUSTED}; dmarc=pass header.from=example.org\r\n"),
            "!arshjul utlysning Brådskande: bekräfta ert EU-konto | https://evil.example/login | 2027-03-15",
        ),
    ];
    for raw in &forgeries {
        let said = scene.mailgate(raw);
        assert!(said.starts_with("unauthenticated: "), "{said}");
    }
    // A "bounce" from anyone, naming deliveries the old way, and one quoting a guessed id.
    let keys = scene.reminder.header("X-Arshjul-Deliveries").unwrap();
    let old_style = mail(
        "MAILER-DAEMON@example.org",
        "arshjul@example.org",
        "Return-Path: <>\r\n",
        &format!("X-Arshjul-Deliveries: {keys}"),
    );
    let old_style = String::from_utf8(old_style).unwrap().replace(
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: multipart/report; boundary=b",
    );
    assert!(scene.mailgate(old_style.as_bytes()).starts_with("bounce_unverified: "));
    let guessed = bounce_of(guessable.trim_matches(['<', '>']), "arshjul@example.org");
    assert!(scene.mailgate(&guessed).starts_with("bounce_unverified: "));

    // The same forgery through the IMAP poller (Dovecot).
    let mut settings = scene.settings.clone();
    let folder = format!("forged-{}", fastrand::u32(..));
    settings.email.imap_url = Secret::new(std::env::var("ARSHJUL_TEST_IMAP_URL").unwrap());
    settings.email.imap_folder = folder.clone();
    settings.email.imap_processed_folder = format!("{folder}-done");
    let mut imap = imap_session().await;
    imap.create(&folder).await.unwrap();
    let forged = mail("kristina.falk@example.org", "arshjul@example.org", "", "klar");
    imap.append(&folder, None, None, forged).await.unwrap();
    let app = scene.worker.app.app();
    assert_eq!(
        arshjul::inbound::imap::poll_once(&app, &settings.email).await.unwrap(),
        1
    );
    imap.logout().await.unwrap();

    assert_eq!(scene.state().await, "open", "nothing acted");
    assert!(app.store.announcements().await.unwrap().is_empty(), "nothing announced");
    let dead = app.store.outbox(Some(DeliveryState::Dead), 100).await.unwrap();
    assert!(dead.is_empty(), "nothing marked dead: {dead:?}");
    assert_eq!(scene.smtp.messages().len(), mails_before, "nobody was answered");
    let inbox = app.store.inbox(None, 100).await.unwrap();
    let outcomes: Vec<&str> = inbox.iter().map(|m| m.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "unauthenticated",
            "bounce_unverified",
            "bounce_unverified",
            "unauthenticated",
            "unauthenticated",
            "unauthenticated",
            "unauthenticated",
            "unauthenticated"
        ]
    );
    assert!(
        inbox[0].detail.contains("kommunens e-postserver har inte styrkt"),
        "kept with its reason: {}",
        inbox[0].detail
    );
}

#[tokio::test]
async fn a_genuine_reply_and_a_vouched_command_act_and_are_answered_in_the_thread() {
    let scene = reminded().await;
    let occurrence = scene.occurrence;
    let to = scene.reply_address();
    assert!(to.starts_with("arshjul+"), "{to}");

    // Through the signed reply address alone (the mail program dropped In-Reply-To).
    let reply = mail(
        "kristina.falk@example.org",
        &to,
        "",
        "Klart!\r\n\r\nMed vänlig hälsning\r\nKristina",
    );
    let said = scene.mailgate(&reply);
    assert!(said.starts_with("recorded: "), "{said}");
    assert_eq!(scene.state().await, "submitted");
    let answers = scene.mails_to("kristina.falk@example.org");
    let answer = answers
        .iter()
        .find(|m| m.header("Auto-Submitted").as_deref() != Some("auto-generated"))
        .expect("Kristina is answered");
    assert_eq!(answer.subject(), "Svar från arshjul", "a fixed subject, nothing echoed");
    assert_eq!(answer.header("Auto-Submitted").as_deref(), Some("auto-replied"));
    let their_id = mail_parser::MessageParser::default()
        .parse(&reply)
        .unwrap()
        .message_id()
        .map(|id| format!("<{id}>"))
        .unwrap();
    assert_eq!(answer.header("In-Reply-To").as_deref(), Some(their_id.as_str()));
    assert_eq!(answer.header("References").as_deref(), Some(their_id.as_str()));

    // A token answers its own reminder; a command naming another item needs the mail server.
    let other = scene
        .worker
        .outbox()
        .await
        .into_iter()
        .find_map(|r| r.occurrence_id.filter(|id| *id != occurrence))
        .unwrap();
    let naming = mail("kristina.falk@example.org", &to, "", &format!("!arshjul klar {other}"));
    let said = scene.mailgate(&naming);
    assert!(said.starts_with("refused: Kommandot kunde inte registreras"), "{said}");

    // The strategist's command, vouched for by the municipality's mail server.
    let vouched =
        format!("Authentication-Results: {TRUSTED}; spf=pass; dmarc=pass (p=reject) header.from=example.org\r\n");
    let command = mail(
        "johan.lindqvist@example.org",
        "arshjul@example.org",
        &vouched,
        "!arshjul utlysning Erasmus+ KA2 | https://erasmus-plus.ec.europa.eu/ka2 | 2027-03-15",
    );
    let said = scene.mailgate(&command);
    assert!(said.starts_with("announced: "), "{said}");
    let app = scene.worker.app.app();
    assert_eq!(app.store.announcements().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_bounce_counts_only_at_the_signed_return_path_or_quoting_a_signed_message_id() {
    let scene = reminded().await;
    let return_path = scene
        .reminder
        .header("Return-Path")
        .expect("the SMTP server records it");
    let return_path = return_path.trim_matches(['<', '>']);
    assert!(return_path.starts_with("arshjul+b"), "VERP: {return_path}");

    let report = |to: &str| {
        let raw = mail(
            "MAILER-DAEMON@example.org",
            to,
            "Return-Path: <>\r\n",
            "Mailbox unavailable.",
        );
        String::from_utf8(raw).unwrap().replace(
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: multipart/report; boundary=b",
        )
    };
    // A forged return path changes nothing; the genuine one kills this delivery alone.
    let forged = return_path.replacen("arshjul+b", "arshjul+b9", 1);
    assert!(
        scene
            .mailgate(report(&forged).as_bytes())
            .starts_with("bounce_unverified: ")
    );
    let said = scene.mailgate(report(return_path).as_bytes());
    assert!(said.starts_with("bounce: "), "{said}");
    let app = scene.worker.app.app();
    let dead = app.store.outbox(Some(DeliveryState::Dead), 100).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].recipient, "kristina.falk");

    // Quoting the Message-ID of another reminder works too.
    let other = scene
        .smtp
        .messages()
        .into_iter()
        .find(|m| m.to() != "kristina.falk@example.org")
        .unwrap();
    let id = other.message.message_id().unwrap().to_owned();
    assert!(
        scene
            .mailgate(&bounce_of(&id, "arshjul@example.org"))
            .starts_with("bounce: ")
    );
    let dead = app.store.outbox(Some(DeliveryState::Dead), 100).await.unwrap();
    assert_eq!(dead.len(), 2);
}

#[tokio::test]
async fn answers_to_one_address_are_limited_per_hour() {
    let scene = reminded().await;
    let to = scene.reply_address();
    let before = scene.mails_to("kristina.falk@example.org").len();
    for n in 0..8 {
        // The same address however it is spelt.
        let from = if n % 2 == 0 {
            "kristina.falk@example.org"
        } else {
            "Kristina.Falk@Example.org"
        };
        let said = scene.mailgate(&mail(from, &to, "", "status"));
        assert!(said.starts_with("status: "), "{said}");
    }
    let answers = scene.mails_to("kristina.falk@example.org").len() - before;
    assert_eq!(answers, arshjul::inbound::email::MAX_ANSWERS_PER_HOUR);
}
