//! Calendar feeds over HTTP, read back with an iCalendar parser: one person's, one unit's and
//! the whole municipality's deadlines, with stable UIDs, following a moved deadline.

use icalendar::{Calendar, Component};

use arshjul::domain::feeds::FeedScope;
use arshjul::settings::Secret;

use crate::helpers::{TestApp, TestDir, http, test_now, test_settings};

/// The feed of `scope` as the daemon serves it, parsed: (UID, start date) of every event.
async fn feed(app: &TestApp, scope: FeedScope) -> Vec<(String, String)> {
    read(app, &app.shared.links.feed_url(scope, test_now())).await
}

/// The feed at `url` (made for another host), fetched from `app` and parsed.
async fn read(app: &TestApp, url: &str) -> Vec<(String, String)> {
    let path = &url[url.find("/calendar/").unwrap()..];
    let response = http().get(format!("{}{path}", app.address)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let calendar: Calendar = response.text().await.unwrap().parse().expect("RFC 5545");
    let mut events: Vec<(String, String)> = calendar
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .map(|e| {
            let start = match e.get_start() {
                Some(icalendar::DatePerhapsTime::Date(date)) => date.to_string(),
                other => panic!("an all-day event, not {other:?}"),
            };
            (e.get_uid().unwrap().to_owned(), start)
        })
        .collect();
    events.sort();
    events
}

#[tokio::test]
async fn feeds_show_their_scope_with_stable_uids_and_follow_a_moved_deadline() {
    let dir = TestDir::new().with_shipped_config();
    let mut settings = test_settings(&dir).await;
    // The secret `arshjul feed` is run with below.
    settings.links.secret = Secret::new("inbound-test-0123456789abcdef0123456789abcdef");
    let app = TestApp::spawn(settings.clone()).await;
    app.shared.materialise().await.unwrap();
    let stored = app.shared.store.occurrences().await.unwrap();

    let tekniska = feed(&app, FeedScope::Unit("tekniska".into())).await;
    let expected = stored.iter().filter(|o| o.unit == "tekniska").count();
    assert_eq!(tekniska.len(), expected, "{tekniska:?}");
    assert!(
        tekniska
            .iter()
            .all(|(uid, _)| uid.contains(".tekniska.") && uid.ends_with("@arshjul"))
    );
    let follow_up = "uppfoljning.tekniska.2026@arshjul";
    assert!(
        tekniska.contains(&(follow_up.to_owned(), "2027-02-15".to_owned())),
        "{tekniska:?}"
    );

    let linnea = feed(&app, FeedScope::Person("linnea.dahl".into())).await;
    assert_eq!(linnea, tekniska, "Linnea holds roles only at Tekniska");
    // An event reads as an official reads it: the role by name, the local deadline, the year.
    let url = app
        .shared
        .links
        .feed_url(FeedScope::Person("linnea.dahl".into()), test_now());
    let path = &url[url.find("/calendar/").unwrap()..];
    let raw = http().get(format!("{}{path}", app.address)).send().await.unwrap();
    let calendar: Calendar = raw.text().await.unwrap().parse().unwrap();
    let event = calendar
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .find(|e| e.get_uid() == Some(follow_up))
        .unwrap();
    let description = event.get_description().unwrap();
    for expected in [
        "Ansvarig: EU-kontaktperson Linnea Dahl",
        "Avser: år 2026",
        "Sista dag: måndag 15 februari 2027 kl. 16.00",
    ] {
        assert!(description.contains(expected), "missing {expected:?} in {description}");
    }
    assert!(!description.contains("eu_contact"), "{description}");
    assert!(
        event
            .get_summary()
            .unwrap()
            .ends_with("– Tekniska förvaltningen (år 2026)")
    );
    let printed = crate::inbound::arshjul(&settings, &dir, &["feed", "--person", "linnea.dahl"], b"");
    let url = String::from_utf8_lossy(&printed.stdout).trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:8080/calendar/v2.") && url.ends_with(".ics"),
        "{url}"
    );
    assert_eq!(read(&app, &url).await, linnea, "`arshjul feed` prints the same feed");
    let unknown = crate::inbound::arshjul(&settings, &dir, &["feed", "--person", "nobody"], b"");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--person: unknown person \"nobody\""));
    let all = feed(&app, FeedScope::All).await;
    assert_eq!(all.len(), stored.len());

    // The calendar moves the follow-up to 26 February: the same event moves.
    let calendar = std::fs::read_to_string(dir.path().join("calendar.toml")).unwrap();
    let moved = calendar.replace(
        "due = { date = \"02-15\", year_offset = 1 }",
        "due = { date = \"02-26\", year_offset = 1 }",
    );
    assert_ne!(moved, calendar);
    dir.write("calendar.toml", &moved);
    app.shared.reload().await.unwrap();
    let tekniska = feed(&app, FeedScope::Unit("tekniska".into())).await;
    assert!(
        tekniska.contains(&(follow_up.to_owned(), "2027-02-26".to_owned())),
        "{tekniska:?}"
    );

    let forged = format!("{}/calendar/v2.e30.AAAA.ics", app.address);
    assert_eq!(http().get(forged).send().await.unwrap().status().as_u16(), 404);
    app.stop().await;
}

/// `arshjul feed --person … --rotate` replaces one person's feed address: the old one gets 404
/// (counted as revoked), the new one works, and other feeds are untouched.
#[tokio::test]
async fn a_rotated_feed_refuses_its_old_address_and_leaves_the_others() {
    let dir = TestDir::new().with_shipped_config();
    let mut settings = test_settings(&dir).await;
    settings.links.secret = Secret::new("inbound-test-0123456789abcdef0123456789abcdef");
    let app = TestApp::spawn(settings.clone()).await;
    app.shared.materialise().await.unwrap();
    let earlier = test_now() - jiff::SignedDuration::from_mins(1);
    let linnea = app
        .shared
        .links
        .feed_url(FeedScope::Person("linnea.dahl".into()), earlier);
    let magnus = app
        .shared
        .links
        .feed_url(FeedScope::Person("magnus.berg".into()), earlier);
    let shown = read(&app, &linnea).await;
    assert!(!shown.is_empty());

    let rotated = crate::inbound::arshjul(&settings, &dir, &["feed", "--person", "linnea.dahl", "--rotate"], b"");
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let new = String::from_utf8_lossy(&rotated.stdout).trim().to_owned();
    assert_ne!(new, linnea);

    let status = |url: &str| {
        let path = url[url.find("/calendar/").unwrap()..].to_owned();
        let address = app.address.clone();
        async move {
            http()
                .get(format!("{address}{path}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(&linnea).await, 404, "the old address is refused");
    assert_eq!(read(&app, &new).await, shown, "the new one shows the same deadlines");
    assert_eq!(status(&magnus).await, 200, "another person's feed is untouched");
    let metrics = http().get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("arshjul_rejected_links_total{reason=\"revoked\"} 1")
    );
    app.stop().await;
}
