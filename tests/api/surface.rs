//! The surface on the open network, attacked as a penetration test would: redirects that leave
//! the site, floods of sign-in requests, slow clients, pages without their headers, readable
//! state files, oversized mail and mail servers that stall.

use crate::dashboard::{dashboard_settings, link_in, mailed_sign_in_link, pair, post_form, set_cookie};
use crate::helpers::{TestApp, TestDir};
use crate::peers::{SmtpSink, eventually};

fn client() -> reqwest::Client {
    arshjul::channels::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `next` is followed after a language switch and after signing in only when it is a path of
/// this site: a tab (which browsers drop, reading `/\t/evil` as `//evil`) or a backslash
/// sends the visitor to the dashboard instead — even through a genuine sign-in mail.
#[tokio::test]
async fn a_redirect_never_leaves_the_site_however_next_is_spelt() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let app = TestApp::spawn(dashboard_settings(&dir, &smtp).await).await;
    let client = client();
    let url = |path: &str| format!("{}{path}", app.address);
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%2Fevil.example",
    ] {
        let switched = client
            .get(url(&format!("/language/en?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(switched.status().as_u16(), 303);
        assert_eq!(switched.headers()["location"], "/dashboard", "{next}");
    }
    let kept = client
        .get(url("/language/en?next=%2Fdashboard%2Fcalls"))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["location"], "/dashboard/calls");

    let page = client
        .get(url("/sign-in?next=%2F%09%2Fevil.example"))
        .send()
        .await
        .unwrap();
    let form_cookie = pair(&set_cookie(&page, "arshjul_form")).to_owned();
    let csrf = form_cookie.trim_start_matches("arshjul_form=").to_owned();
    let asked = post_form(
        &client,
        &url("/sign-in"),
        Some(&form_cookie),
        &[
            ("email", "linnea.dahl@example.org"),
            ("next", "/\t/evil.example"),
            ("csrf", &csrf),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(asked.status().as_u16(), 200);
    let link = mailed_sign_in_link(&smtp, &app.address).await;
    let started = post_form(&client, &link, Some(&form_cookie), &[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 303);
    assert_eq!(started.headers()["location"], "/dashboard");
    app.stop().await;
}

/// The pages whose address is a capability — an acknowledgement, a call's answer, a feed —
/// get the dashboard's security headers, and nothing of them is cached.
#[tokio::test]
async fn every_page_forbids_framing_scripts_referrers_and_caching() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let app = TestApp::spawn(dashboard_settings(&dir, &smtp).await).await;
    let client = client();
    for path in [
        "/ack/forged",
        "/calls/answer/forged",
        "/calendar/forged.ics",
        "/sign-in",
        "/readyz",
    ] {
        let response = client.get(format!("{}{path}", app.address)).send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
    app.stop().await;
}

/// What arshjul writes only its own user reads: the state directory it creates is 0700, the
/// database (with the key that signs every link) and mail files (with live links) are 0600.
#[test]
fn state_is_readable_by_arshjul_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TestDir::new();
    let state = dir.path().join("state");
    let mail = dir.path().join("mail");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let run = |args: &[&str]| {
        let output = crate::helpers::arshjul_command()
            .args(args)
            .env(
                "ARSHJUL__DATABASE__URL",
                format!("sqlite://{}/arshjul.db", state.display()),
            )
            .env("ARSHJUL__EMAIL__FILE_DIR", &mail)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    run(&["migrate"]);
    run(&["channels", "test", "email", "--to", "linnea.dahl"]);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("arshjul.db")), 0o600);
    assert_eq!(mode(&mail), 0o700);
    let written: Vec<_> = std::fs::read_dir(&mail).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!written.is_empty());
    for file in written {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

/// A client that sends half a request head, or announces a body it does not send, is cut off
/// within the configured times, and the server keeps answering others meanwhile.
#[tokio::test]
async fn slow_clients_are_cut_off_and_do_not_hold_the_server() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = dashboard_settings(&dir, &smtp).await;
    settings.server.header_read_timeout_seconds = 1;
    settings.server.request_timeout_seconds = 2;
    settings.server.max_connections = 64;
    let app = TestApp::spawn(settings).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let started = std::time::Instant::now();
    let mut half_heads = Vec::new();
    for _ in 0..100 {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        half_heads.push(stream);
    }
    let mut body_never_sent = tokio::net::TcpStream::connect(&host).await.unwrap();
    body_never_sent
        .write_all(b"POST /sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nemail=")
        .await
        .unwrap();
    // Others are still served: the 100 half-open connections are fewer than the cap.
    let (status, _) = app.get_json("/livez").await;
    assert_eq!(status, 200);
    for mut stream in half_heads {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a half-sent head still held its connection");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(6),
        body_never_sent.read_to_end(&mut answer),
    )
    .await
    .expect("an unsent body still held its connection")
    .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    app.stop().await;
}

/// The sign-in page's form cookie (`name=value`) and the CSRF token it carries.
async fn sign_in_form(client: &reqwest::Client, app: &TestApp) -> (String, String) {
    let page = client.get(format!("{}/sign-in", app.address)).send().await.unwrap();
    let form_cookie = pair(&set_cookie(&page, "arshjul_form")).to_owned();
    let csrf = form_cookie.trim_start_matches("arshjul_form=").to_owned();
    (form_cookie, csrf)
}

/// Asks for a sign-in link for `email` from `forwarded_for` and returns the page's status.
async fn ask_link(client: &reqwest::Client, app: &TestApp, email: &str, forwarded_for: &str) -> u16 {
    let (form_cookie, csrf) = sign_in_form(client, app).await;
    post_form(
        client,
        &format!("{}/sign-in", app.address),
        Some(&form_cookie),
        &[("email", email), ("next", "/dashboard"), ("csrf", &csrf)],
    )
    .header("x-forwarded-for", forwarded_for)
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

/// 50 requests for one address mail one link; a minute later one more, which revokes the
/// first; one client can have only so many mailed an hour, counted by the proxy's header; and
/// every request gets the same answer.
#[tokio::test]
async fn a_flood_of_sign_in_requests_mails_one_link_and_a_new_link_revokes_the_old() {
    use std::sync::Arc;
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = dashboard_settings(&dir, &smtp).await;
    settings.sign_in.links_per_client_per_hour = 3;
    settings.server.client_address_header = "X-Forwarded-For".into();
    let clock = Arc::new(arshjul::clock::ManualClock::new(
        "2027-01-26T09:00:00Z".parse().unwrap(),
    ));
    let app = TestApp::spawn_with_clock(settings, clock.clone()).await;
    let client = client();
    let links = |smtp: &SmtpSink, to: &str| -> Vec<String> {
        smtp.messages()
            .iter()
            .filter(|m| m.to().contains(to))
            .filter_map(|m| link_in(&m.text(), &format!("{}/sign-in/", app.address)))
            .collect()
    };
    for _ in 0..50 {
        assert_eq!(
            ask_link(&client, &app, "linnea.dahl@example.org", "10.0.0.1, 192.0.2.7").await,
            200
        );
    }
    eventually(|| links(&smtp, "linnea.dahl").len() == 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(links(&smtp, "linnea.dahl").len(), 1, "one link for 50 requests");
    let first = links(&smtp, "linnea.dahl").remove(0);

    clock.set("2027-01-26T09:01:01Z".parse().unwrap());
    assert_eq!(
        ask_link(&client, &app, "linnea.dahl@example.org", "192.0.2.7").await,
        200
    );
    eventually(|| links(&smtp, "linnea.dahl").len() == 2).await;
    let second = links(&smtp, "linnea.dahl")
        .into_iter()
        .find(|link| *link != first)
        .unwrap();
    let (form_cookie, csrf) = sign_in_form(&client, &app).await;
    let use_link = |link: String| post_form(&client, &link, Some(&form_cookie), &[("csrf", &csrf)]).send();
    assert_eq!(
        use_link(first).await.unwrap().status().as_u16(),
        403,
        "the older link is revoked"
    );
    assert_eq!(use_link(second).await.unwrap().status().as_u16(), 303);

    // 192.0.2.7 has had two links mailed this hour; a third person is its last.
    assert_eq!(
        ask_link(&client, &app, "magnus.berg@example.org", "192.0.2.7").await,
        200
    );
    eventually(|| links(&smtp, "magnus.berg").len() == 1).await;
    assert_eq!(
        ask_link(&client, &app, "helena.akesson@example.org", "192.0.2.7").await,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(links(&smtp, "helena.akesson").is_empty(), "the client's limit");
    // Another client, as the proxy saw it, may still ask.
    assert_eq!(
        ask_link(&client, &app, "helena.akesson@example.org", "198.51.100.9").await,
        200
    );
    eventually(|| links(&smtp, "helena.akesson").len() == 1).await;
    app.stop().await;
}

/// A mail of `body_bytes` bytes of text from Magnus.
fn mail_of(body_bytes: usize, id: &str) -> Vec<u8> {
    let mut raw = format!(
        "From: magnus.berg@example.org\r\nTo: arshjul@example.org\r\nSubject: Re: rapport\r\n\
         Message-ID: <{id}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKlart.\r\n"
    )
    .into_bytes();
    raw.extend(std::iter::repeat_n(b'x', body_bytes));
    raw.extend(b"\r\n");
    raw
}

/// A mail larger than `email.max_message_bytes` is refused by mailgate with EX_DATAERR (the MTA
/// returns it) and stored nowhere; a large one under the limit is kept as its first 64 KiB.
#[tokio::test]
async fn an_oversized_mail_is_refused_unread_and_a_large_one_kept_in_part() {
    let dir = TestDir::new();
    let settings = crate::helpers::test_settings(&dir).await;
    let huge = mail_of(settings.email.max_message_bytes, "huge");
    let refused = crate::inbound::arshjul(&settings, &dir, &["mailgate"], &huge);
    assert_eq!(
        refused.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("larger than email.max_message_bytes"));
    let large = crate::inbound::arshjul(&settings, &dir, &["mailgate"], &mail_of(1_000_000, "large"));
    assert!(large.status.success(), "{}", String::from_utf8_lossy(&large.stderr));

    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    let inbox = store.inbox(None, 10).await.unwrap();
    assert_eq!(inbox.len(), 1, "the oversized mail is not stored");
    assert_eq!(inbox[0].reference, "large@example.org");
    assert!(inbox[0].text.starts_with("Klart."));
    assert!(inbox[0].text.len() <= 64 * 1024, "{} bytes kept", inbox[0].text.len());
    store.close().await;
}

/// The IMAP poller does not fetch a mail larger than the limit: it moves it to the processed
/// folder unread (kept there, and logged) and stores nothing of it.
#[tokio::test]
async fn the_imap_poller_moves_an_oversized_mail_away_unread() {
    let dir = TestDir::new();
    let mut settings = crate::helpers::test_settings(&dir).await;
    let folder = format!("oversized-{}", fastrand::u32(..));
    settings.email.imap_url = arshjul::settings::Secret::new(std::env::var("ARSHJUL_TEST_IMAP_URL").unwrap());
    settings.email.imap_folder = folder.clone();
    settings.email.imap_processed_folder = format!("{folder}-done");
    settings.email.max_message_bytes = 100_000;
    let mut imap = crate::inbound::imap_session().await;
    imap.create(&folder).await.unwrap();
    imap.append(&folder, None, None, mail_of(200_000, "big")).await.unwrap();
    let worker = crate::helpers::Worker::build(settings.clone()).await;
    let app = worker.app.app();
    let taken = arshjul::inbound::imap::poll_once(&app, &settings.email).await.unwrap();
    assert_eq!(taken, 0);
    assert!(app.store.inbox(None, 10).await.unwrap().is_empty());
    assert_eq!(
        imap.select(&format!("{folder}-done")).await.unwrap().exists,
        1,
        "kept, unread"
    );
    assert_eq!(imap.select(&folder).await.unwrap().exists, 0);
    imap.logout().await.unwrap();
}

/// An IMAP server that accepts the connection and then says nothing fails the poll within
/// `email.timeout_seconds`, instead of stopping the poller (and the daemon's shutdown).
#[tokio::test]
async fn a_stalled_imap_server_fails_the_poll_in_time() {
    let dir = TestDir::new();
    let mut settings = crate::helpers::test_settings(&dir).await;
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = stalled.local_addr().unwrap().port();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = stalled.accept().await {
            held.push(stream);
        }
    });
    settings.email.imap_url = arshjul::settings::Secret::new(format!("imap://arshjul:hemligt@127.0.0.1:{port}"));
    settings.email.timeout_seconds = 1;
    let worker = crate::helpers::Worker::build(settings.clone()).await;
    let started = std::time::Instant::now();
    let polled = arshjul::inbound::imap::poll_once(&worker.app.app(), &settings.email).await;
    let error = format!("{:#}", polled.unwrap_err());
    assert!(
        error.contains("reading the IMAP greeting: no answer within email.timeout_seconds"),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    holding.abort();
}

/// Over https the session cookie carries the `__Host-` prefix (Secure, Path=/, no Domain), and a
/// session left unused for `sign_in.session_idle_minutes` ends — while one in use goes on.
#[tokio::test]
async fn the_session_cookie_is_host_bound_and_an_idle_session_ends() {
    use std::sync::Arc;
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = dashboard_settings(&dir, &smtp).await;
    settings.links.base_url = "https://arshjul.example.org".into();
    settings.sign_in.session_idle_minutes = 60;
    let clock = Arc::new(arshjul::clock::ManualClock::new(
        "2027-01-26T09:00:00Z".parse().unwrap(),
    ));
    let app = TestApp::spawn_with_clock(settings, clock.clone()).await;
    let client = client();
    assert_eq!(
        ask_link(&client, &app, "linnea.dahl@example.org", "192.0.2.7").await,
        200
    );
    let link = mailed_sign_in_link(&smtp, "https://arshjul.example.org")
        .await
        .replace("https://arshjul.example.org", &app.address);
    let (form_cookie, csrf) = sign_in_form(&client, &app).await;
    let started = post_form(&client, &link, Some(&form_cookie), &[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 303);
    let session = set_cookie(&started, "__Host-arshjul_session");
    assert!(
        session.contains("; Secure") && session.contains("; Path=/;") && !session.contains("Domain"),
        "{session}"
    );
    let dashboard = |at: &'static str| {
        clock.set(at.parse().unwrap());
        client
            .get(format!("{}/dashboard", app.address))
            .header("cookie", pair(&session).to_owned())
            .send()
    };
    assert_eq!(dashboard("2027-01-26T09:59:00Z").await.unwrap().status().as_u16(), 200);
    assert_eq!(
        dashboard("2027-01-26T10:58:00Z").await.unwrap().status().as_u16(),
        200,
        "in use"
    );
    let idle = dashboard("2027-01-26T12:00:00Z").await.unwrap();
    assert_eq!(idle.status().as_u16(), 303, "61 minutes unused");
    assert!(idle.headers()["location"].to_str().unwrap().starts_with("/sign-in"));
    app.stop().await;
}

/// With `server.metrics_token` set, `/metrics` answers only the scraper that sends it; the
/// health probes stay open to load balancers.
#[tokio::test]
async fn metrics_answer_only_the_scraper_with_the_token() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = dashboard_settings(&dir, &smtp).await;
    settings.server.metrics_token = arshjul::settings::Secret::new("prometheus-scrape-token-0123456789");
    let app = TestApp::spawn(settings).await;
    let client = client();
    let metrics = |token: Option<&str>| {
        let request = client.get(format!("{}/metrics", app.address));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    assert_eq!(metrics(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(metrics(Some("guess")).await.unwrap().status().as_u16(), 401);
    let scraped = metrics(Some("prometheus-scrape-token-0123456789")).await.unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(scraped.text().await.unwrap().contains("arshjul_database_up"));
    assert_eq!(app.get_json("/readyz").await.0, 200);
    app.stop().await;
}

/// The inbox forgets what people sent after `jobs.inbox_retention_days`, except a message
/// still being taken in; newer messages stay.
#[tokio::test]
async fn the_inbox_forgets_settled_messages_after_their_retention() {
    let dir = TestDir::new();
    let settings = crate::helpers::test_settings(&dir).await;
    let worker = crate::helpers::Worker::build(settings).await;
    let app = worker.app.app();
    let then = arshjul::clock::Clock::now(&*worker.clock);
    let receive = |reference: &'static str, at: jiff::Timestamp| {
        let app = &app;
        async move {
            app.store
                .inbox_receive("email", reference, "magnus.berg@example.org", "ok", at)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let settled = arshjul::storage::Settled {
        outcome: "recorded",
        detail: "test",
        ..Default::default()
    };
    let old = receive("old", then).await;
    app.store.inbox_settle(old, &settled).await.unwrap();
    receive("old-unsettled", then).await;
    let later = then + jiff::SignedDuration::from_hours(24 * 300);
    let recent = receive("recent", later).await;
    app.store.inbox_settle(recent, &settled).await.unwrap();

    worker.clock.set(then + jiff::SignedDuration::from_hours(24 * 401));
    assert_eq!(app.forget_old_inbox(0).await.unwrap(), 0, "0 keeps for ever");
    assert_eq!(app.forget_old_inbox(400).await.unwrap(), 1);
    let mut left: Vec<String> = app
        .store
        .inbox(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.reference)
        .collect();
    left.sort();
    assert_eq!(left, ["old-unsettled", "recent"]);
}

/// One client may make only so many requests a minute to the endpoints that do work (429 with
/// Retry-After beyond it); another client, as the proxy names it, is not held up, and the
/// health probes are not limited.
#[tokio::test]
async fn a_client_over_the_request_limit_is_told_to_wait_and_others_are_not() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let mut settings = dashboard_settings(&dir, &smtp).await;
    settings.server.requests_per_minute_per_client = 5;
    settings.server.client_address_header = "X-Forwarded-For".into();
    let app = TestApp::spawn(settings).await;
    let client = client();
    let get = |path: &'static str, from: &'static str| {
        client
            .get(format!("{}{path}", app.address))
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..5 {
        assert_ne!(get("/ack/forged", "192.0.2.7").await.unwrap().status().as_u16(), 429);
    }
    let refused = get("/calls/answer/forged", "192.0.2.7").await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_ne!(get("/ack/forged", "198.51.100.9").await.unwrap().status().as_u16(), 429);
    for _ in 0..10 {
        assert_eq!(get("/readyz", "192.0.2.7").await.unwrap().status().as_u16(), 200);
    }
    app.stop().await;
}

/// arshjul reaches PostgreSQL over TLS with `sslmode=verify-full` and a CA file: the server
/// sees every connection of the daemon encrypted, and a server whose certificate another
/// authority signed, or that is asked for by a name its certificate does not carry, is
/// refused.
#[tokio::test]
async fn postgresql_is_reached_over_tls_with_the_server_verified() {
    use sqlx::Connection as _;
    let server = std::env::var("ARSHJUL_TEST_PG_SERVER").expect("scripts/test starts PostgreSQL");
    let ca = crate::peers::test_ca().display().to_string();
    let other_ca = std::env::var("ARSHJUL_TEST_OTHER_CA").expect("scripts/test makes a second CA");
    let url = crate::helpers::fresh_postgres_database(&server).await;
    let database = url.rsplit('/').next().unwrap().to_owned();
    let dir = TestDir::new();
    let mut settings = crate::helpers::test_settings(&dir).await;
    settings.database.url = arshjul::settings::Secret::new(format!("{url}?sslmode=verify-full&sslrootcert={ca}"));
    assert_eq!(settings.database.unencrypted_warning(), None);
    let app = TestApp::spawn(settings.clone()).await;
    let ready = client().get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    let mut admin = sqlx::AnyConnection::connect(&server).await.unwrap();
    let (encrypted, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
    )
    .bind(&database)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(encrypted >= 1, "the daemon's connections: {encrypted} encrypted");
    assert_eq!(plain, 0, "the daemon's connections: {plain} unencrypted");
    app.stop().await;

    let connect = |url: String| {
        let mut database = settings.database.clone();
        database.url = arshjul::settings::Secret::new(url);
        async move { arshjul::storage::Store::connect(&database).await.map(drop) }
    };
    let other = connect(format!("{url}?sslmode=verify-full&sslrootcert={other_ca}")).await;
    assert!(format!("{:#}", other.unwrap_err()).contains("certificate"));
    let by_name = url.replacen("127.0.0.1", "localhost", 1);
    let misnamed = connect(format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(format!("{:#}", misnamed.unwrap_err()).contains("certificate"));
}

/// SMTP and IMAP over TLS trust the authorities of `email.ca_file` beside the public roots:
/// a server whose certificate an internal authority signed is refused without it and reached
/// with it; a file that holds no certificate is refused naming the setting.
#[tokio::test]
async fn mail_servers_of_an_internal_authority_are_trusted_through_ca_file() {
    let dir = TestDir::new();
    let smtp = SmtpSink::start_tls(dir.path());
    let ca = crate::peers::test_ca();
    let send = |ca_file: &std::path::Path| {
        crate::helpers::arshjul_command()
            .args(["channels", "test", "email", "--to", "linnea.dahl"])
            .env(
                "ARSHJUL__DATABASE__URL",
                format!("sqlite://{}/arshjul.db", dir.path().display()),
            )
            .env("ARSHJUL__EMAIL__TRANSPORT", "smtp")
            .env("ARSHJUL__EMAIL__SMTP_URL", smtp.url())
            .env("ARSHJUL__EMAIL__CA_FILE", ca_file)
            .output()
            .unwrap()
    };
    let untrusted = send(std::path::Path::new(""));
    assert!(!untrusted.status.success());
    assert!(
        String::from_utf8_lossy(&untrusted.stdout).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&untrusted.stdout)
    );
    assert!(smtp.messages().is_empty());
    let trusted = send(&ca);
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stdout));
    assert!(
        eventually(|| smtp.messages().len() == 1).await,
        "the test mail arrives over TLS"
    );
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hemligt\n").unwrap();
    let refused = send(&not_pem);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("email.ca_file: {}", not_pem.display())),
        "{stderr}"
    );

    let mut settings = crate::helpers::test_settings(&dir).await;
    let folder = format!("tls-{}", fastrand::u32(..));
    settings.email.imap_url = arshjul::settings::Secret::new(std::env::var("ARSHJUL_TEST_IMAPS_URL").unwrap());
    settings.email.imap_folder = folder.clone();
    settings.email.imap_processed_folder = format!("{folder}-done");
    let mut imap = crate::inbound::imap_session().await;
    imap.create(&folder).await.unwrap();
    imap.append(&folder, None, None, mail_of(10, "tls")).await.unwrap();
    let worker = crate::helpers::Worker::build(settings.clone()).await;
    let app = worker.app.app();
    let error = arshjul::inbound::imap::poll_once(&app, &settings.email)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("certificate"), "{error:#}");
    settings.email.ca_file = ca;
    assert_eq!(
        arshjul::inbound::imap::poll_once(&app, &settings.email).await.unwrap(),
        1
    );
    assert_eq!(app.store.inbox(None, 10).await.unwrap().len(), 1);
    imap.logout().await.unwrap();
}

/// Each kind of token is signed with its own key: a genuine token of one kind presented where
/// another is expected — a calendar feed's at /ack, an action link's at /sign-in — is refused
/// as forged, and a genuine one still works where it belongs.
#[tokio::test]
async fn a_token_made_for_one_purpose_is_forged_for_every_other() {
    use arshjul::domain::calls::Interest;
    use arshjul::domain::feeds::FeedScope;
    use arshjul::domain::occurrence::Action;
    let dir = TestDir::new();
    let smtp = SmtpSink::start(dir.path());
    let app = TestApp::spawn(dashboard_settings(&dir, &smtp).await).await;
    let links = &app.shared.links;
    let now = crate::helpers::test_now();
    let token = |url: String| url.rsplit('/').next().unwrap().trim_end_matches(".ics").to_owned();
    let tokens = [
        ("/ack/", token(links.url(1, "magnus.berg", Action::Acknowledge, now))),
        (
            "/calls/answer/",
            token(links.call_url(1, "magnus.berg", Interest::Interested, now)),
        ),
        ("/calendar/", token(links.feed_url(FeedScope::All, now))),
        (
            "/sign-in/",
            token(links.sign_in_url("magnus.berg", "/dashboard", now).unwrap()),
        ),
    ];
    let client = client();
    let mut refused = 0;
    for (endpoint, _) in &tokens {
        for (made_for, token) in &tokens {
            if made_for == endpoint {
                continue;
            }
            let suffix = if *endpoint == "/calendar/" { ".ics" } else { "" };
            let url = format!("{}{endpoint}{token}{suffix}", app.address);
            let status = client.get(&url).send().await.unwrap().status();
            assert!(status.is_client_error(), "{made_for} token at {endpoint}: {status}");
            refused += 1;
        }
    }
    let metrics = client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(&format!("arshjul_rejected_links_total{{reason=\"forged\"}} {refused}")),
        "{metrics}"
    );
    let feed = format!("{}/calendar/{}.ics", app.address, tokens[2].1);
    assert_eq!(client.get(feed).send().await.unwrap().status().as_u16(), 200);
    app.stop().await;
}
