//! The dashboard in a real headless Chromium: KLK signs in with the emailed link and sees the
//! year's wheel and every unit; a contact person fills in the follow-up from the reminder's
//! link (validation, drafts, nothing typed lost), sees only their own unit and cannot post
//! without the CSRF token; the manager acknowledges by email; the compiled report adds up.
//! Every main page passes axe-core without serious violations; screenshots are kept.

use std::sync::Arc;

use arshjul::clock::ManualClock;
use arshjul::settings::{EmailTransport, Secret, Settings};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{TestApp, TestDir, directory_reaching, test_settings};
use crate::inbound::{arshjul, reply};
use crate::peers::{SmtpSink, eventually, free_port};

fn clock_now(clock: &ManualClock) -> jiff::Timestamp {
    arshjul::clock::Clock::now(clock)
}

/// The first address in `text` that starts with `prefix`.
pub(crate) fn link_in(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    Some(link)
}

/// Everyone reads email, sent through a real SMTP server; the daemon listens where its
/// links point.
pub(crate) async fn dashboard_settings(dir: &TestDir, smtp: &SmtpSink) -> Settings {
    dir.write("directory.toml", &directory_reaching("linnea.dahl", ""));
    let mut settings = test_settings(dir).await;
    settings.email.transport = EmailTransport::Smtp;
    settings.email.smtp_url = Secret::new(smtp.url());
    settings.email.reply_to = Some("arshjul <arshjul@example.org>".into());
    settings.links.secret = Secret::new("inbound-test-0123456789abcdef0123456789abcdef");
    let port = free_port();
    settings.server.port = port;
    settings.links.base_url = format!("http://127.0.0.1:{port}");
    settings
}

/// Signs `email` in through the sign-in page the browser is on: asks for the link, reads it
/// from the SMTP server and uses it. Returns the page it lands on.
async fn sign_in(browser: &Browser, smtp: &SmtpSink, app: &TestApp, email: &str) -> String {
    assert!(browser.url().await.contains("/sign-in"), "{}", browser.url().await);
    browser.fill("#email", email).await;
    browser.click("main button[type=submit]").await;
    assert!(browser.text("main").await.contains("Om adressen finns i katalogen"));
    let prefix = format!("{}/sign-in/", app.address);
    let mut link = None;
    assert!(
        eventually(|| {
            link = smtp
                .messages()
                .iter()
                .rev()
                .filter(|m| m.to().contains(email) && m.subject() == "Logga in i årshjulet")
                .find_map(|m| link_in(&m.text(), &prefix));
            link.is_some()
        })
        .await,
        "a sign-in link reaches {email}"
    );
    let link = link.unwrap();
    browser.goto(&link).await;
    browser.click("#confirm").await;
    let landed = browser.url().await;
    // The link works once.
    browser.goto(&link).await;
    browser.click("#confirm").await;
    assert!(browser.text("main").await.contains("Länken är redan använd"));
    browser.goto(&landed).await;
    landed
}

/// Checks the page with axe-core and keeps a screenshot of it.
async fn check_page(browser: &Browser, name: &str) {
    browser.screenshot(name).await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
}

#[tokio::test]
async fn klk_sees_the_year_a_contact_person_fills_in_the_follow_up_and_the_report_adds_it_up() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let settings = dashboard_settings(&dir, &smtp).await;
    // 26 January 2027, 10:00 in Stockholm: the follow-up of 2026 is due on 15 February.
    let clock = Arc::new(ManualClock::new("2027-01-26T09:00:00Z".parse().unwrap()));
    let app = TestApp::spawn_with_clock(settings.clone(), clock.clone()).await;
    app.shared.materialise().await.unwrap();
    app.shared.plan().await.unwrap();
    app.drain().await;

    // Linnea's reminder links to the form.
    let form_prefix = format!("{}/dashboard/occurrences/", app.address);
    let mut reminder = None;
    eventually(|| {
        reminder = smtp
            .messages()
            .into_iter()
            .find(|m| m.to().contains("linnea.dahl@example.org") && m.text().contains("Fyll i uppföljningen"));
        reminder.is_some()
    })
    .await;
    let reminder = reminder.expect("Linnea is reminded of the follow-up with a link to the form");
    assert_eq!(
        reminder.header("List-Id").as_deref(),
        Some("Governance calendar <reminders.arshjul.example.org>")
    );
    let form_url = link_in(&reminder.text(), &form_prefix).unwrap();
    assert!(form_url.ends_with("/followup"), "{form_url}");
    let occurrence: i64 = form_url[form_prefix.len()..]
        .trim_end_matches("/followup")
        .parse()
        .unwrap();

    let browser = Browser::start().await;
    browser.goto(&form_url).await;
    check_page(&browser, "sign-in").await;
    assert_eq!(
        sign_in(&browser, &smtp, &app, "linnea.dahl@example.org").await,
        form_url
    );

    // An empty form is refused with a message; a wrong amount is named and what was typed stays.
    browser.click("#submit").await;
    assert_eq!(browser.count(".error-summary").await, 1);
    browser.choose("#kind_0 option[value=projekt]").await;
    browser.fill("#name_0", "Erasmus+ ungdomsutbyte").await;
    browser.fill("#programme_0", "Erasmus+").await;
    browser.fill("#partners_0", "Polen").await;
    browser.fill("#budget_0", "120 000").await;
    browser.fill("#grant_0", "tio tusen").await;
    browser.fill("#cofinancing_0", "20 000 kr").await;
    browser.fill("#purpose_0", "Ungdomar möter ungdomar i Gdańsk").await;
    browser.fill("#results_0", "32 deltagare, två nya partner").await;
    // Goals are ticked from the municipality's list; Tekniska's own goals are among them.
    assert!(
        browser
            .text("#goals_0")
            .await
            .contains("Minskade utsläpp från kommunens verksamhet")
    );
    assert!(
        !browser
            .text("#goals_0")
            .await
            .contains("Fler elever med internationell erfarenhet")
    );
    browser.choose("#goals_0_0").await;
    browser.choose("#goals_0_1").await;
    browser
        .choose("#priority_area_0 option[value=\"Arbetsliv och attraktionskraft\"]")
        .await;
    browser.fill("#diarienummer", "tn 2027/7").await;
    browser.click("#submit").await;
    assert_eq!(browser.count("#grant_0-error").await, 1);
    assert!(browser.text("#grant_0-error").await.contains("hela kronor"));
    assert!(
        browser
            .text(".error-summary")
            .await
            .contains("Rad 1, Erhållet bidrag: Skriv ett belopp i hela kronor")
    );
    assert_eq!(browser.value("#grant_0").await, "tio tusen");
    assert_eq!(browser.value("#name_0").await, "Erasmus+ ungdomsutbyte");
    assert_eq!(browser.value("#kind_0").await, "projekt", "the choices stay too");
    assert_eq!(browser.count("#goals_0 input:checked").await, 2);
    assert_eq!(browser.value("#diarienummer").await, "tn 2027/7");
    check_page(&browser, "follow-up-errors").await;

    // Save and add a row: a draft, not a submission.
    browser.fill("#grant_0", "100 000").await;
    browser.click("#add").await;
    assert!(browser.text("main").await.contains("Utkastet är sparat"));
    assert_eq!(browser.count("form > fieldset").await, 3);
    let draft = app.shared.store.followup(occurrence).await.unwrap().unwrap();
    assert_eq!((draft.rows.len(), draft.submitted_at), (1, None));
    browser.choose("#kind_1 option[value=verksamhet]").await;
    browser.fill("#name_1", "Twinning Kristianstad–Gdańsk").await;
    browser.fill("#budget_1", "50000").await;
    browser.fill("#grant_1", "30 000").await;
    browser.fill("#cofinancing_1", "20 000").await;
    browser.fill("#purpose_1", "Erfarenhetsutbyte om vatten").await;
    browser.fill("#results_1", "En gemensam ansökan").await;
    browser.choose("#goals_1_3").await;
    check_page(&browser, "follow-up-form").await;
    browser.click("#submit").await;
    assert!(
        browser.text("h1").await.starts_with("Tack"),
        "{}",
        browser.text("main").await
    );
    let stored = app.shared.store.occurrence(occurrence).await.unwrap().unwrap();
    assert_eq!(stored.state.as_str(), "submitted");
    assert_eq!(
        stored.diarienummer.as_deref(),
        Some("TN 2027/7"),
        "the form's diarienummer, in one spelling"
    );

    // A form posted without the session's CSRF token is refused, even from the signed-in browser.
    browser
        .script(
            "const form = document.createElement('form'); form.method = 'post'; form.action = arguments[0];
             form.id = 'forged'; form.innerHTML = '<input name=intent value=submit><input name=name_0 value=forged><button>go</button>';
             document.body.appendChild(form); return true;",
            json!([form_url]),
        )
        .await;
    browser.click("#forged button").await;
    assert_eq!(browser.text("h1").await, "Formuläret kunde inte tas emot");
    assert_eq!(
        app.shared.store.followup(occurrence).await.unwrap().unwrap().rows[0].name,
        "Erasmus+ ungdomsutbyte"
    );

    // A draft saved after submitting is kept for the form, but the report compiles what was submitted.
    browser.goto(&form_url).await;
    browser.fill("#budget_0", "inte klart").await;
    browser.click("#draft").await;
    assert_eq!(browser.value("#budget_0").await, "inte klart");

    // Linnea sees her unit only: another unit's follow-up is not found, and the matrix has one row.
    let occurrences = app.shared.store.occurrences().await.unwrap();
    let other = occurrences
        .iter()
        .find(|o| o.obligation == "uppfoljning" && o.unit == "omsorg")
        .unwrap();
    browser
        .goto(&format!("{}/dashboard/occurrences/{}", app.address, other.id))
        .await;
    assert_eq!(browser.text("h1").await, "Sidan finns inte");
    browser
        .goto(&format!("{}/dashboard/occurrences/{}/followup", app.address, other.id))
        .await;
    assert_eq!(browser.text("h1").await, "Sidan finns inte");
    browser.goto(&format!("{}/dashboard?year=2027", app.address)).await;
    assert_eq!(browser.count("tr[data-unit]").await, 1);
    assert_eq!(browser.count("tr[data-unit=tekniska]").await, 1);
    browser.goto(&format!("{}/dashboard/outbox", app.address)).await;
    assert_eq!(browser.text("h1").await, "Sidan finns inte", "only KLK sees the outbox");
    browser.click("header button[type=submit]").await;
    assert!(browser.url().await.ends_with("/sign-in?signed_out=1"));

    // The manager acknowledges by replying to the request.
    app.shared.plan().await.unwrap();
    app.drain().await;
    let mut request = None;
    eventually(|| {
        request = smtp
            .messages()
            .into_iter()
            .find(|m| m.to().contains("magnus.berg@example.org") && m.subject().contains("väntar på kvittens"));
        request.is_some()
    })
    .await;
    let request = request.expect("Magnus is asked to acknowledge");
    let raw = reply(&request.message, "magnus.berg@example.org", "Kvitterat, tack!", "");
    let output = arshjul(&settings, &dir, &["mailgate"], &raw);
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("recorded: "),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // KLK's strategist signs in and sees the year: the wheel and every unit, Tekniska acknowledged.
    browser.goto(&format!("{}/dashboard", app.address)).await;
    let landed = sign_in(&browser, &smtp, &app, "johan.lindqvist@example.org").await;
    assert_eq!(landed, format!("{}/dashboard", app.address));
    assert_eq!(browser.text("h1").await, "Årshjulet 2027");
    assert!(browser.count("svg.wheel circle.mark").await >= 5);
    assert_eq!(browser.count("svg.wheel text").await, 12, "twelve months");
    assert!(browser.count("tr[data-unit]").await >= 10, "every unit");
    assert_eq!(
        browser
            .count("tr[data-unit=tekniska] a[data-status=acknowledged]")
            .await,
        1
    );
    assert!(browser.text("tr[data-unit=tekniska]").await.contains("magnus.berg"));
    check_page(&browser, "year").await;

    // KLK starts a revision of the guidelines "vid behov": due on the day chosen, planned at once.
    // (A date field's typing order follows the browser's locale; the value is set as a picker would.)
    browser
        .script(
            "document.querySelector('#start-due').value = arguments[0]; return true;",
            json!(["2027-05-31"]),
        )
        .await;
    browser.click("form[action=\"/dashboard/start\"] button").await;
    assert_eq!(
        browser.text("h1").await,
        "Revidering av riktlinjerna och strategin för det internationella arbetet"
    );
    let revision = app
        .shared
        .store
        .occurrences()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.obligation == "revidering")
        .expect("the revision is an occurrence");
    assert_eq!(
        (
            revision.unit.as_str(),
            revision.period.as_str(),
            revision.due_at.to_string().as_str()
        ),
        ("klk", "started-2027-01-26", "2027-05-31T14:00:00Z")
    );
    assert!(
        browser.text("main").await.contains("johan.lindqvist"),
        "the start is in the history"
    );

    browser
        .goto(&format!("{}/dashboard/occurrences/{occurrence}", app.address))
        .await;
    let history = browser.text("main").await;
    assert!(
        history.contains("linnea.dahl") && history.contains("acknowledge"),
        "{history}"
    );
    assert_eq!(browser.text("#status").await, "kvitterat");
    check_page(&browser, "occurrence").await;

    browser
        .goto(&format!("{}/dashboard/report?year=2026", app.address))
        .await;
    assert_eq!(
        browser.text("#total").await,
        "Totalt 170 000 kr 130 000 kr 40 000 kr",
        "the totals of the two activities Linnea submitted"
    );
    assert_eq!(
        browser.text("#totals tr[data-kind=projekt]").await,
        "Projektmedel 120 000 kr 100 000 kr 20 000 kr",
        "the project apart from the twinning"
    );
    assert!(browser.text("#by-unit + div").await.contains("TN 2027/7"));
    check_page(&browser, "report").await;
    // A bounced reminder shows as dead in the outbox, and Retry puts it back in line.
    let sent = app.shared.store.deliveries_of(occurrence).await.unwrap();
    let bounced = sent.iter().find(|d| d.recipient == "linnea.dahl").unwrap();
    app.shared.store.bounce(&[bounced.id], clock_now(&clock)).await.unwrap();
    browser.goto(&format!("{}/dashboard/outbox", app.address)).await;
    browser
        .click(&format!("tr[data-delivery=\"{}\"] button", bounced.id))
        .await;
    assert!(browser.url().await.ends_with("/dashboard/outbox"));
    let retried = app.shared.store.delivery(bounced.id).await.unwrap().unwrap();
    assert!(
        matches!(retried.state.as_str(), "pending" | "sending" | "sent"),
        "{retried:?}"
    );
    for (path, name) in [("/dashboard/outbox", "outbox"), ("/dashboard/calls", "calls")] {
        browser.goto(&format!("{}{path}", app.address)).await;
        check_page(&browser, name).await;
    }

    // The English switch.
    browser.goto(&format!("{}/dashboard", app.address)).await;
    browser.click("a[lang=en]").await;
    assert_eq!(browser.text("h1").await, "The year 2027");
    assert_eq!(
        browser.script("return document.documentElement.lang;", json!([])).await,
        "en"
    );

    // The same totals from the command line, as CSV, Markdown and HTML.
    let csv = arshjul(&settings, &dir, &["report", "--year", "2026", "--format", "csv"], b"");
    let csv = String::from_utf8_lossy(&csv.stdout).into_owned();
    let tekniska: Vec<Vec<&str>> = csv
        .lines()
        .filter(|l| l.contains(",tekniska,"))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(tekniska.len(), 2, "{csv}");
    let sum = |column: usize| {
        tekniska
            .iter()
            .map(|row| row[column].parse::<i64>().unwrap())
            .sum::<i64>()
    };
    assert_eq!((sum(7), sum(8), sum(9)), (170_000, 130_000, 40_000), "{csv}");
    assert!(tekniska.iter().all(|row| row[3] == "on_time"), "{csv}");
    let markdown = arshjul(&settings, &dir, &["report", "--year", "2026"], b"");
    let markdown = String::from_utf8_lossy(&markdown.stdout).into_owned();
    assert!(
        markdown.contains("| **Totalt** | 170 000 kr | 130 000 kr | 40 000 kr |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- Attraktiv kommun att bo, verka och vistas i (1)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| Erasmus+ ungdomsutbyte (Erasmus+; Polen) | Projektmedel | 120 000 kr |"),
        "{markdown}"
    );
    let html = arshjul(&settings, &dir, &["report", "--year", "2026", "--format", "html"], b"");
    assert!(String::from_utf8_lossy(&html.stdout).contains("<td class=\"num\">170 000 kr</td>"));
    app.stop().await;
}

/// The first sign-in link to `base` (the links' base URL) the SMTP server holds, once one has
/// arrived.
pub(crate) async fn mailed_sign_in_link(smtp: &SmtpSink, base: &str) -> String {
    let mut link = None;
    eventually(|| {
        link = smtp
            .messages()
            .iter()
            .find_map(|m| link_in(&m.text(), &format!("{base}/sign-in/")));
        link.is_some()
    })
    .await;
    link.expect("a sign-in link")
}

/// The value of the `Set-Cookie` header that sets `name`.
pub(crate) fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// A form post of `fields` to `url`, with `cookie` when given.
pub(crate) fn post_form(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let request = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    match cookie {
        Some(cookie) => request.header("cookie", cookie.to_owned()),
        None => request,
    }
}

/// The `name=value` part of a `Set-Cookie` value.
pub(crate) fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

#[tokio::test]
async fn the_dashboard_is_not_public_and_sign_in_tells_nobody_who_is_in_the_directory() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let settings = dashboard_settings(&dir, &smtp).await;
    let app = TestApp::spawn(settings).await;
    arshjul::channels::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.address);

    for path in ["/dashboard", "/dashboard/report?format=csv", "/dashboard/outbox"] {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert!(
            response.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/sign-in?next=%2Fdashboard")
        );
    }

    let page = client.get(url("/sign-in?next=/dashboard/calls")).send().await.unwrap();
    let form_cookie = set_cookie(&page, "arshjul_form");
    assert!(
        form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Lax"),
        "{form_cookie}"
    );
    let token = pair(&form_cookie).trim_start_matches("arshjul_form=").to_owned();
    let ask = |email: &'static str, csrf: String| {
        post_form(
            &client,
            &url("/sign-in"),
            Some(pair(&form_cookie)),
            &[("email", email), ("next", "/dashboard/calls"), ("csrf", &csrf)],
        )
        .send()
    };
    assert_eq!(
        ask("linnea.dahl@example.org", String::new())
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let stranger = ask("stranger@example.org", token.clone()).await.unwrap();
    assert_eq!(stranger.status().as_u16(), 200);
    let stranger = stranger.text().await.unwrap();
    let known = ask("Linnea.Dahl@example.org", token.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stranger, known, "the same answer whoever asks");

    let link = mailed_sign_in_link(&smtp, &app.address).await;
    assert!(smtp.messages().iter().all(|m| !m.to().contains("stranger")));

    let forged = client.get(format!("{link}x")).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 410);
    let confirm = client.get(&link).send().await.unwrap();
    assert_eq!(confirm.status().as_u16(), 200, "showing the link does not use it");
    let without_token = post_form(&client, &link, None, &[("csrf", "")]).send().await.unwrap();
    assert_eq!(without_token.status().as_u16(), 403);
    let started = post_form(&client, &link, Some(pair(&form_cookie)), &[("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 303);
    assert_eq!(started.headers()["location"], "/dashboard/calls");
    let session = set_cookie(&started, "arshjul_session");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax") && !session.contains("Secure"),
        "{session}"
    );
    let calls = client
        .get(url("/dashboard/calls"))
        .header("cookie", pair(&session).to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(calls.status().as_u16(), 200);
    assert!(
        calls.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let sign_out = post_form(&client, &url("/sign-out"), Some(pair(&session)), &[])
        .send()
        .await
        .unwrap();
    assert_eq!(sign_out.status().as_u16(), 403, "signing out needs the CSRF token too");
    app.stop().await;
}
