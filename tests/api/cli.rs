//! The command line as an operator uses it: the real binary, the shipped configuration, and
//! broken configurations that must be refused with file, line and reason.

use std::collections::BTreeSet;
use std::process::Output;

use arshjul::domain::routing::Routing;
use icalendar::Component;

use crate::helpers::{TestDir, repo};

fn arshjul(args: &[&str]) -> Output {
    crate::helpers::arshjul_command()
        .args(args)
        .output()
        .expect("running arshjul")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn calendar_json_lists_every_obligation_and_unit_of_2027_on_business_days() {
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&arshjul(&["calendar", "--year", "2027", "--format", "json"]))).unwrap();

    let obligations: BTreeSet<_> = listed.iter().map(|o| o["obligation"].as_str().unwrap()).collect();
    let expected = [
        "eu-kontaktperson",
        "handlingsplan",
        "intern-uppfoljning",
        "kf-beslut",
        "ks-godkannande",
        "rapport-till-kf",
        "reseregler",
        "riktlinjer-uppdatering",
        "sammanstallning",
        "strategi-uppdatering",
        "uppfoljning",
        "vanortsredovisning",
        "verksamhetsberattelse",
        "verksamhetsplan",
    ];
    assert_eq!(obligations, expected.into_iter().collect());
    let follow_ups: BTreeSet<_> = listed
        .iter()
        .filter(|o| o["obligation"] == "uppfoljning")
        .map(|o| o["unit"].as_str().unwrap())
        .collect();
    assert_eq!(
        follow_ups.len(),
        15,
        "ten departments and four companies report: {follow_ups:?}"
    );
    for occurrence in &listed {
        for key in ["obligation", "unit", "period", "due", "responsible_role", "basis"] {
            assert!(occurrence[key].is_string(), "{key} missing in {occurrence}");
        }
        let due: jiff::Timestamp = occurrence["due"].as_str().unwrap().parse().expect("RFC 3339");
        let local = jiff::tz::TimeZone::get("Europe/Stockholm").unwrap().to_datetime(due);
        assert_eq!(local.date().year(), 2027);
        assert!(
            arshjul::domain::business_days::is_business_day(local.date()),
            "{occurrence}"
        );
        assert!(
            occurrence["due"].as_str().unwrap().ends_with("+01:00")
                || occurrence["due"].as_str().unwrap().ends_with("+02:00")
        );
    }
    let kf = listed.iter().find(|o| o["obligation"] == "rapport-till-kf").unwrap();
    assert_eq!(
        kf["due"], "2027-04-30T12:00:00+02:00",
        "KF's agenda deadline for its 18 May meeting, on valborgsmässoafton: at noon"
    );
    assert_eq!(kf["period"], "2026");
}

#[test]
fn calendar_ics_parses_with_one_event_per_occurrence_and_stable_uids() {
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&arshjul(&["calendar", "--year", "2027", "--format", "json"]))).unwrap();
    let text = stdout(&arshjul(&["calendar", "--year", "2027", "--format", "ics"]));
    assert!(text.contains("\r\n"), "lines end in CRLF");
    assert!(
        text.lines().all(|line| line.len() <= 76),
        "lines are folded at 75 octets"
    );

    let calendar: icalendar::Calendar = text.parse().expect("valid iCalendar");
    let events: Vec<_> = calendar.events().collect();

    assert_eq!(events.len(), json.len());
    let uids: BTreeSet<_> = events.iter().map(|e| e.get_uid().unwrap().to_owned()).collect();
    assert_eq!(uids.len(), events.len(), "UIDs are unique");
    assert!(uids.contains("uppfoljning.tekniska.2026@arshjul"));
    assert!(
        events
            .iter()
            .all(|e| e.get_timestamp().is_some() && e.get_summary().is_some())
    );
    let again = stdout(&arshjul(&["calendar", "--year", "2027", "--format", "ics"]));
    let again: icalendar::Calendar = again.parse().unwrap();
    let again: BTreeSet<_> = again.events().map(|e| e.get_uid().unwrap().to_owned()).collect();
    assert_eq!(again, uids, "UIDs are stable between runs");
}

#[test]
fn calendar_filters_by_unit_and_refuses_an_unknown_one() {
    let table = stdout(&arshjul(&["calendar", "--year", "2027", "--unit", "tekniska"]));
    let rows: Vec<_> = table.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        4,
        "the EU contact person, the 2026 internal follow-up and follow-up, the 2028 operational plan:\n{table}"
    );
    assert!(rows.iter().all(|row| row.contains(" tekniska ")), "{table}");
    assert!(table.starts_with("DUE"));

    let unknown = arshjul(&["calendar", "--unit", "tekniskaa"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown unit \"tekniskaa\""));
}

#[test]
fn check_config_accepts_the_shipped_configuration_with_a_summary() {
    let summary = stdout(&arshjul(&["check-config"]));

    assert!(summary.starts_with("configuration OK"), "{summary}");
    assert!(
        summary.contains("27 units (10 committees, 10 departments, 4 companies), 46 people"),
        "{summary}"
    );
    assert!(
        summary.contains("21 obligations, deadlines at 16:00 (12:00 on half days) Europe/Stockholm, 2 extra days off"),
        "{summary}"
    );
}

/// Runs `check-config --config bad.toml` with the directory and calendar changed by `edit`,
/// and returns what it printed on standard error.
/// Changes the shipped (directory, calendar) texts into a broken configuration.
type Edit = Box<dyn FnOnce(String, String) -> (String, String)>;

fn refused(edit: Edit) -> String {
    let dir = TestDir::new();
    let (directory, calendar) = edit(
        std::fs::read_to_string(repo().join("config/directory.toml")).unwrap(),
        std::fs::read_to_string(repo().join("config/calendar.toml")).unwrap(),
    );
    let directory = dir.write("directory.toml", &directory);
    let calendar = dir.write("calendar.toml", &calendar);
    let settings = dir.write(
        "bad.toml",
        &format!(
            "[files]\ndirectory = {:?}\ncalendar = {:?}\n",
            directory.display().to_string(),
            calendar.display().to_string()
        ),
    );
    let output = arshjul(&["check-config", "--config", settings.to_str().unwrap()]);
    assert!(!output.status.success(), "should be refused");
    String::from_utf8(output.stderr).unwrap()
}

/// The line (from 1) of the shipped `file` on which `pattern` first occurs after `after`.
fn shipped_line(file: &str, after: &str, pattern: &str) -> usize {
    let text = std::fs::read_to_string(repo().join("config").join(file)).unwrap();
    let start = text.find(after).unwrap_or_else(|| panic!("{after:?} in {file}"));
    let at = start
        + text[start..]
            .find(pattern)
            .unwrap_or_else(|| panic!("{pattern:?} in {file}"));
    text[..at].lines().count() + usize::from(text[..at].ends_with('\n'))
}

#[test]
fn check_config_names_file_line_and_reason_for_each_kind_of_mistake() {
    let directory = |after: &str, pattern: &str| shipped_line("directory.toml", after, pattern);
    let calendar = |pattern: &str| shipped_line("calendar.toml", "", pattern);
    // Helena's matrix_id is taken out, so her `prefers` moves up a line.
    let prefers = directory("id = \"helena.akesson\"", "prefers") - 1;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "an empty calendar (a failed copy)",
            Box::new(|d, _| (d, String::new())),
            "calendar.toml: obligations: there are no obligations".into(),
        ),
        (
            "unknown role",
            Box::new(|d, c| (d.replacen("[units.roles.eu_contact]", "[units.roles.eu_kontakt]", 1), c)),
            format!(
                "directory.toml:{}: unknown variant `eu_kontakt`",
                directory("", "[units.roles.eu_contact]")
            ),
        ),
        (
            "unit without manager",
            Box::new(|d, c| {
                (
                    d.replacen(
                        "[units.roles.manager]\nperson = \"helena.akesson\"\n[units.roles.secretary]\nperson = \"lena.holmberg\"\ndeputy",
                        "[units.roles.secretary]\nperson = \"lena.holmberg\"\ndeputy",
                        1,
                    ),
                    c,
                )
            }),
            format!(
                "directory.toml:{}: units[1].roles: unit \"ks\" has no manager",
                directory("", "id = \"ks\"")
            ),
        ),
        (
            "due rule to a missing obligation",
            Box::new(|d, c| {
                (
                    d,
                    c.replace("obligation = \"uppfoljning\" }", "obligation = \"uppföljning\" }"),
                )
            }),
            format!(
                "calendar.toml:{}: obligations[6].due: due rule refers to unknown obligation \"uppföljning\"",
                calendar("obligation = \"uppfoljning\" }")
            ),
        ),
        (
            "cyclic due rules",
            Box::new(|d, c| {
                (
                    d,
                    c.replace(
                        "due = { date = \"02-15\", year_offset = 1 }",
                        "due = { business_days_after = 1, obligation = \"verksamhetsberattelse\" }",
                    ),
                )
            }),
            format!(
                "calendar.toml:{}: obligations[3].due: due rules form a cycle: uppfoljning → verksamhetsberattelse → \
                 sammanstallning → uppfoljning",
                calendar("due = { date = \"02-15\", year_offset = 1 }")
            ),
        ),
        (
            "bad date",
            Box::new(|d, c| (d, c.replace("date = \"03-31\"", "date = \"02-31\""))),
            format!(
                "calendar.toml:{}: obligations[14].due: \"02-31\" is not a day of the year",
                calendar("date = \"03-31\"")
            ),
        ),
        (
            "unknown time zone",
            Box::new(|d, c| {
                (
                    d,
                    c.replace(
                        "time_zone = \"Europe/Stockholm\"",
                        "time_zone = \"Europe/Kristianstad\"",
                    ),
                )
            }),
            format!(
                "calendar.toml:{}: time_zone: unknown time zone \"Europe/Kristianstad\"",
                calendar("time_zone = \"Europe/Stockholm\"")
            ),
        ),
        (
            "a preferred channel the person has no address on",
            Box::new(|d, c| (d.replacen("matrix_id = \"@helena.akesson:example.org\"\n", "", 1), c)),
            format!("directory.toml:{prefers}: people[14].prefers: matrix needs a matrix_id"),
        ),
        (
            "duplicate ids",
            Box::new(|d, c| (d.replacen("id = \"tekniska\"", "id = \"omsorg\"", 1), c)),
            format!(
                "directory.toml:{}: units[10].id: duplicate unit id \"omsorg\"",
                directory("", "id = \"tekniska\"")
            ),
        ),
    ];
    for (mistake, edit, expected) in cases {
        let stderr = refused(edit);
        assert!(
            stderr.contains(&expected),
            "{mistake}: expected {expected:?} in\n{stderr}"
        );
        assert!(stderr.ends_with("configuration refused\n"), "{mistake}: {stderr}");
    }
}

#[test]
fn check_config_reports_bad_settings_and_missing_files() {
    let dir = TestDir::new();
    let typo = dir.write("typo.toml", "[server]\nport = 8080\n\n[delivery]\nbatchsize = 5\n");
    let output = arshjul(&["check-config", "--config", typo.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:5: settings:", typo.display())) && stderr.contains("unknown field `batchsize`"),
        "{stderr}"
    );

    let missing = dir.write("missing.toml", "[files]\ncalendar = \"/nonexistent/calendar.toml\"\n");
    let output = arshjul(&["check-config", "--config", missing.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("/nonexistent/calendar.toml: cannot be read"),
        "{output:?}"
    );

    let cron = dir.write("cron.toml", "[jobs]\nmaterialise = \"every night\"\n");
    let output = arshjul(&["check-config", "--config", cron.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("jobs.materialise: \"every night\""),
        "{output:?}"
    );

    // Signing keys that could be guessed are refused by check-config and by the daemon.
    let keys = dir.write(
        "keys.toml",
        "[links]\nsecret = \"hemligt\"\n\n[webhook]\nurl = \"http://127.0.0.1:9/hook\"\n",
    );
    for command in ["check-config", "serve"] {
        let output = arshjul(&[command, "--config", keys.to_str().unwrap()]);
        assert!(!output.status.success(), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("links.secret is 7 bytes long") && stderr.contains("webhook.secret is 0 bytes long"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn simulate_shows_the_reminders_of_a_period_and_how_acting_stops_them() {
    let run = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec![
            "simulate",
            "--from",
            "2027-01-01",
            "--to",
            "2027-03-31",
            "--unit",
            "tekniska",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&stdout(&arshjul(&args))).unwrap()
    };
    let idle = run(&[]);
    let follow_up: Vec<_> = idle
        .iter()
        .filter(|d| d["obligation"] == "uppfoljning")
        .map(|d| {
            format!(
                "{} {} {}",
                d["when"].as_str().unwrap(),
                d["step"].as_str().unwrap(),
                d["recipient"].as_str().unwrap()
            )
        })
        .take(6)
        .collect();
    assert_eq!(
        follow_up,
        [
            "2027-01-04 08:00 before-30 linnea.dahl",
            "2027-02-01 08:00 before-10 linnea.dahl",
            "2027-02-11 08:00 before-2 linnea.dahl",
            "2027-02-15 08:00 due linnea.dahl",
            "2027-02-18 08:00 overdue-1 linnea.dahl",
            "2027-02-22 08:00 overdue-2 linnea.dahl",
        ]
    );
    let acting = run(&["--submit-after-days", "1"]);
    let steps: Vec<_> = acting
        .iter()
        .filter(|d| d["obligation"] == "uppfoljning")
        .map(|d| d["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["before-30", "acknowledge"]);
    let table = stdout(&arshjul(&["simulate", "--from", "2027-01-01", "--to", "2027-01-31"]));
    assert!(
        table.starts_with("WHEN")
            && table
                .trim_end()
                .ends_with("(one digest per recipient, channel and send window)")
    );
}

/// A settings file pointing the CLI at `url`.
fn settings_file(dir: &TestDir, url: &str) -> String {
    let path = dir.write("cli.toml", &format!("[database]\nurl = {url:?}\n"));
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_outbox_can_be_listed_retried_and_cancelled_from_the_command_line() {
    let dir = TestDir::new();
    let settings = crate::helpers::test_settings(&dir).await;
    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let config = settings.files.load().unwrap();
    store.materialise(&config, crate::helpers::test_now()).await.unwrap();
    store
        .plan(crate::helpers::test_now(), |occurrences| {
            arshjul::domain::planner::plan(&config, occurrences, crate::helpers::test_now(), &Routing::default())
        })
        .await
        .unwrap();
    let lease = jiff::SignedDuration::from_secs(60);
    let claimed = store.claim(crate::helpers::test_now(), lease, 1).await.unwrap();
    let outcome = arshjul::storage::DeliveryOutcome::Dead {
        error: "HTTP 404".into(),
    };
    store
        .record(&[(claimed[0].id, outcome)], crate::helpers::test_now())
        .await
        .unwrap();
    let file = settings_file(&dir, settings.database.url.expose());
    let id = claimed[0].id.to_string();

    let dead = stdout(&arshjul(&["--config", &file, "outbox", "--state", "dead"]));
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(
        dead.contains("HTTP 404") && dead.lines().nth(1).unwrap().starts_with(&id),
        "{dead}"
    );
    assert_eq!(
        stdout(&arshjul(&["--config", &file, "outbox", "retry", &id])).trim(),
        format!("delivery {id} is due again")
    );
    assert!(stdout(&arshjul(&["--config", &file, "outbox", "--state", "pending"])).contains(&format!("\n{id} ")));
    assert_eq!(
        stdout(&arshjul(&["--config", &file, "outbox", "cancel", &id])).trim(),
        format!("delivery {id} is cancelled")
    );
    assert!(
        !arshjul(&["--config", &file, "outbox", "cancel", &id]).status.success(),
        "only once"
    );
    let bad = arshjul(&["--config", &file, "outbox", "--state", "lost"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown delivery state \"lost\""));
}

#[tokio::test]
async fn the_registrar_records_actions_from_the_command_line_with_a_note() {
    let dir = TestDir::new();
    let settings = crate::helpers::test_settings(&dir).await;
    let store = arshjul::storage::Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    store
        .materialise(&settings.files.load().unwrap(), crate::helpers::test_now())
        .await
        .unwrap();
    let occurrences = store.occurrences().await.unwrap();
    // KLK's registrar records KLK's paper submissions; its manager acknowledges.
    let occurrence = occurrences.iter().find(|o| o.unit == "klk").unwrap().clone();
    let file = settings_file(&dir, settings.database.url.expose());
    let id = occurrence.id.to_string();
    let ack_as = |person: &str, action: &str| {
        arshjul(&[
            "--config",
            &file,
            "ack",
            &id,
            "--as",
            person,
            "--action",
            action,
            "--note",
            "Dnr KS 2026/114",
        ])
    };
    let ack = |action: &str| {
        ack_as(
            if action == "acknowledge" {
                "helena.akesson"
            } else {
                "eva.persson"
            },
            action,
        )
    };

    assert_eq!(
        stdout(&ack("submit")).trim(),
        format!("occurrence {id}: open → submitted")
    );
    assert_eq!(
        stdout(&ack("submit")).trim(),
        format!("occurrence {id} is already submitted; nothing changed")
    );
    assert_eq!(
        stdout(&ack("acknowledge")).trim(),
        format!("occurrence {id}: submitted → acknowledged")
    );
    let refused = ack("waive");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is acknowledged: cannot waive"));

    let audit = store.audit_log(Some(occurrence.id)).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("helena.akesson", "acknowledge")
    );
    assert!(
        last.detail.contains("Dnr KS 2026/114") && last.detail.contains("\"channel\":\"cli\""),
        "{}",
        last.detail
    );
    let not_registrar = arshjul(&[
        "--config",
        &file,
        "ack",
        &id,
        "--as",
        "magnus.berg",
        "--action",
        "waive",
    ]);
    assert!(
        String::from_utf8_lossy(&not_registrar.stderr).contains(
            "only the registrar of Municipal Executive Office or the Municipal Executive Office's strategist can waive"
        ),
        "{}",
        String::from_utf8_lossy(&not_registrar.stderr)
    );
    // Another unit's items are not hers to record.
    let tekniska = occurrences
        .iter()
        .find(|o| o.unit == "tekniska")
        .unwrap()
        .id
        .to_string();
    let elsewhere = arshjul(&[
        "--config",
        &file,
        "ack",
        &tekniska,
        "--as",
        "eva.persson",
        "--action",
        "submit",
    ]);
    assert!(!elsewhere.status.success());
    assert!(
        String::from_utf8_lossy(&elsewhere.stderr)
            .contains("not (or no longer) responsible for this item in Technical"),
        "{}",
        String::from_utf8_lossy(&elsewhere.stderr)
    );
    let unknown = arshjul(&["--config", &file, "ack", &id, "--as", "nobody", "--action", "submit"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--as: unknown person \"nobody\""));
}

#[test]
fn bench_prints_throughput_latency_memory_and_planner_figures() {
    let homeserver = crate::matrix::Homeserver::get();
    let output = stdout(&arshjul(&[
        "bench",
        "--deliveries",
        "300",
        "--pending",
        "2000",
        "--matrix",
        &homeserver.url,
        "--matrix-secret",
        homeserver.secret(),
        "--matrix-messages",
        "20",
    ]));

    let line = |prefix: &str| {
        output
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {output}"))
            .to_owned()
    };
    assert!(line("HTTP sink http://127.0.0.1:").ends_with("requests/s (64 connections, keep-alive)"));
    for channel in ["webhook", "Teams"] {
        let sqlite = line(&format!("SQLite, {channel}: 300 deliveries in "));
        assert!(
            sqlite.contains("deliveries/s") && sqlite.contains("300 requests") && sqlite.contains("p99"),
            "{sqlite}"
        );
    }
    assert!(line("SQLite, Matrix (Synapse): 20 deliveries as 20 messages in ").contains("messages/s"));
    assert!(line("Synapse itself, plain HTTP client: 20 messages in ").contains("arshjul reaches"));
    assert!(line("planner: one pass over 10 years").contains(" ms"));
    assert!(line("planner: one pass over 300 municipalities").contains("20700 occurrences"));
    assert!(line("memory: RSS ").contains("2000 pending deliveries"));
    assert!(!output.contains('\r'), "no progress display when piped");
}

#[test]
fn bench_delivers_to_an_external_sink_when_given_one() {
    let dir = TestDir::new();
    let sink = crate::peers::WebhookSink::start(dir.path(), &["200"]);
    let output = stdout(&arshjul(&[
        "bench",
        "--deliveries",
        "100",
        "--pending",
        "100",
        "--sink",
        &sink.url,
    ]));
    assert!(
        output.contains(&format!("HTTP sink {} ceiling: ", sink.url)),
        "{output}"
    );
    assert!(
        output.contains("SQLite, webhook: 100 deliveries in ") && output.contains("an external sink"),
        "{output}"
    );
    let delivered = sink
        .received()
        .iter()
        .filter(|p| p.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Idempotency-Key")))
        .count();
    assert!(
        delivered >= 100,
        "the deliveries reached the external sink: {delivered}"
    );
}

#[test]
fn check_config_refuses_channel_settings_that_cannot_work_without_showing_secrets() {
    let dir = TestDir::new();
    for (settings, expected) in [
        (
            "[teams.webhooks.eu-network]\nurl = \"http://teams.example.org/hook?sig=hemligt\"\n",
            "teams.webhooks.eu-network.url: must be https:// (plain http only to this machine)",
        ),
        (
            "[matrix.webhooks.eu-network]\nurl = \"not a url sig=hemligt\"\n",
            "matrix.webhooks.eu-network.url: not a valid URL",
        ),
        (
            "[matrix]\nhomeserver_url = \"https://matrix.example.org\"\n",
            "matrix: set access_token, or user and password, for the bot",
        ),
        (
            "[routing]\nescalations = [\"preferred\", \"klk-internationl\"]\n",
            "routing.escalations: unknown channel \"klk-internationl\"; use preferred, email, matrix, teams, \
             webhook or a channel of the directory (eu-network, klk-international, skane-nordost)",
        ),
        (
            "[routing]\nreminders = [\"matrix\"]\n",
            "routing.reminders: \"matrix\" needs the Matrix bot: set matrix.homeserver_url",
        ),
        (
            "[routing]\nacknowledgements = []\n",
            "routing.acknowledgements: name at least one channel",
        ),
    ] {
        let file = dir.write("channels.toml", settings);
        let output = arshjul(&["check-config", "--config", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{settings} should be refused");
        assert!(stderr.contains(expected), "expected {expected:?} in\n{stderr}");
        assert!(!stderr.contains("hemligt"), "a secret URL is never shown: {stderr}");
    }
}

#[test]
fn check_config_shows_the_channels_set_up_and_what_still_cannot_reach_people() {
    let dir = TestDir::new();
    let file = dir.write(
        "channels.toml",
        "[teams.webhooks.eu-network]\nurl = \"https://example.org/workflows/x?sig=hemligt\"\n",
    );
    let output = arshjul(&["check-config", "--config", file.to_str().unwrap()]);
    let text = stdout(&output);
    assert!(text.contains("teams (eu-network)"), "{text}");
    assert!(!text.contains("hemligt"), "{text}");
    assert!(
        text.contains("channels.klk-international: channel \"klk-international\" has no Teams webhook that is set up"),
        "{text}"
    );
    assert!(
        !text.contains("channels.eu-network: channel \"eu-network\" has no Teams webhook"),
        "{text}"
    );
    assert!(
        text.contains("1 people prefer teams but cannot be reached there with these settings; they get their other channels or email: magnus.berg"),
        "{text}"
    );
}

#[test]
fn channels_test_posts_one_message_and_reports_each_answer() {
    let dir = TestDir::new();
    let sink = crate::peers::WebhookSink::start(dir.path(), &["202"]);
    let output = crate::helpers::arshjul_command()
        .args(["channels", "test", "eu-network"])
        .env("ARSHJUL__TEAMS__WEBHOOKS__EU_NETWORK__URL", &sink.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "Matrix is not set up: {text}");
    assert!(text.contains("teams:eu-network: sent\n"), "{text}");
    assert!(
        text.contains(
            "matrix:eu-network: FAILED: not set up: channel \"eu-network\" has no Matrix room or webhook that is set up"
        ),
        "{text}"
    );
    let posted = sink.received();
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].body.contains("Testmeddelande från arshjul"),
        "{}",
        posted[0].body
    );

    let output = arshjul(&["channels", "test", "pigeon"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "unknown channel \"pigeon\"; use email, matrix, teams or webhook with --to PERSON, or one of the directory's channels: eu-network, klk-international"
        ),
        "{output:?}"
    );
}

/// `check-config` renders every template with sample items: an operator's template that does
/// not parse, or fails when rendered, is reported with its file and line, and so is a file
/// that replaces no template.
#[test]
fn check_config_reports_a_broken_template_by_file_and_line() {
    let dir = TestDir::new();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("email")).unwrap();
    std::fs::create_dir_all(templates.join("calls")).unwrap();
    let check = || {
        let output = crate::helpers::arshjul_command()
            .arg("check-config")
            .env("ARSHJUL__FILES__TEMPLATES", &templates)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let at = |file: &str| templates.join(file).display().to_string();
    std::fs::write(templates.join("email/sv.txt"), "Hej {{ name }}!\n\n{{ intro }\n").unwrap();
    std::fs::write(templates.join("email/sv.text"), "typo\n").unwrap();
    let (ok, stderr) = check();
    assert!(!ok);
    for expected in [
        format!("{}:3: syntax error", at("email/sv.txt")),
        format!(
            "{}: \"email/sv.text\" replaces no message template",
            at("email/sv.text")
        ),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in\n{stderr}");
    }

    std::fs::write(templates.join("email/sv.txt"), "Hej {{ name }}!\n{{ intro }}\n").unwrap();
    std::fs::remove_file(templates.join("email/sv.text")).unwrap();
    std::fs::write(templates.join("calls/en.txt"), "Hello\n{{ items | nosuch }}\n").unwrap();
    let (ok, stderr) = check();
    assert!(!ok);
    let expected = format!("{}:2: unknown filter", at("calls/en.txt"));
    assert!(stderr.contains(&expected), "missing {expected:?} in\n{stderr}");

    std::fs::write(templates.join("calls/en.txt"), "Hello {{ name }},\n").unwrap();
    let (ok, stderr) = check();
    assert!(ok, "{stderr}");
}

#[tokio::test]
async fn klk_starts_a_revision_when_needed_and_it_is_reminded_like_any_other() {
    let dir = TestDir::new().with_shipped_config();
    let settings = crate::helpers::test_settings(&dir).await;
    let run = |args: &[&str]| crate::inbound::arshjul(&settings, &dir, args, b"");
    let said = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let refused = run(&["start", "revidering", "--as", "linnea.dahl"]);
    assert!(!refused.status.success());
    assert_eq!(said(&refused), "--as linnea.dahl: only KLK starts items on demand\n");
    let unknown = run(&["start", "uppfoljning", "--as", "johan.lindqvist"]);
    assert_eq!(
        said(&unknown),
        "\"uppfoljning\" is no obligation started on demand; those are: revidering\n"
    );
    let past = run(&["start", "revidering", "--as", "johan.lindqvist", "--due", "2026-01-01"]);
    assert!(!past.status.success());
    assert!(
        said(&past).starts_with("the due date 2026-01-01 is not after today"),
        "{}",
        said(&past)
    );

    // The binaries' clock stands at Friday 27 November 2026: three months on is 26 February.
    let started = run(&[
        "start",
        "revidering",
        "--as",
        "johan.lindqvist",
        "--note",
        "ny lag om vänorter",
    ]);
    assert!(started.status.success(), "{}", said(&started));
    assert!(
        said(&started).starts_with("started revidering for klk, due 2027-02-26 (occurrence "),
        "{}",
        said(&started)
    );
    assert_eq!(
        said(&run(&["start", "revidering", "--as", "johan.lindqvist"])),
        "revidering was started today already; nothing changed\n"
    );
    let status = run(&["status", "--year", "2027", "--unit", "klk"]);
    let table = String::from_utf8_lossy(&status.stdout);
    let line = table
        .lines()
        .find(|l| l.contains(" revidering "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains(" started-2026-11-27 ") && line.contains(" open "),
        "{line}"
    );
    assert!(line.contains("before-"), "its reminders are planned: {line}");
}
