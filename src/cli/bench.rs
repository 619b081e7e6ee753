//! `arshjul bench`: throughput, latency and memory of the delivery pipeline, measured on this
//! machine against a loopback HTTP sink, for SQLite and (given a URL) PostgreSQL; and the
//! planner's time over years of the calendar and hundreds of municipalities.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use jiff::Timestamp;

use crate::clock::{Clock as _, SystemClock};
use crate::domain::config::Transport;
use crate::domain::config::{Config, SourceFile};
use crate::domain::planner::{Delivery, plan};
use crate::domain::routing::{Route, Routing};
use crate::domain::steps::DeliveryState;
use crate::domain::steps::{Reason, Step, Subject};
use crate::outbox::DispatchOutcome;
use crate::settings::{CardFormat, Secret, Settings, TeamsWebhook};
use crate::startup::Application;
use crate::storage::Store;

/// Dispatch loops in the benchmark, as a daemon runs them.
const WORKERS: usize = 2;

/// What to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Deliveries to dispatch through the webhook channel per database.
    #[arg(long, default_value_t = 100_000)]
    pub deliveries: usize,
    /// Pending deliveries for the memory measurement.
    #[arg(long, default_value_t = 1_000_000)]
    pub pending: usize,
    /// Also measure on PostgreSQL: an admin URL such as postgres://postgres@127.0.0.1:5432/postgres;
    /// a database `arshjul_bench` is created there (and dropped first if it exists).
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Also measure the Matrix channel against this homeserver (a Synapse whose shared-secret
    /// registration is open to --matrix-secret), e.g. http://127.0.0.1:8008.
    #[arg(long, value_name = "URL", requires = "matrix_secret")]
    pub matrix: Option<String>,
    /// The homeserver's `registration_shared_secret`, to register the benchmark's bot.
    #[arg(long, value_name = "SECRET")]
    pub matrix_secret: Option<String>,
    /// Messages to send through the Matrix channel (and again with a plain HTTP client).
    #[arg(long, default_value_t = 2_000)]
    pub matrix_messages: usize,
    /// Deliver to this external receiver (e.g. an nginx that answers 204 on loopback) instead
    /// of the in-process sink, to compare with other dispatchers on the same receiver.
    #[arg(long, value_name = "URL")]
    pub sink: Option<String>,
}

/// Runs every measurement and prints the figures.
pub async fn run(base: Settings, args: &BenchArgs, clock: SystemClock) -> anyhow::Result<()> {
    let work = tempfile_dir()?;
    let (sink_url, received) = match &args.sink {
        Some(url) => (url.clone(), None),
        None => {
            let (url, received) = start_sink().await?;
            (url, Some(received))
        }
    };
    let ceiling = sink_ceiling(&sink_url, (args.deliveries / 3).clamp(1_000, 30_000)).await?;
    println!("HTTP sink {sink_url} ceiling: {ceiling:.0} requests/s (64 connections, keep-alive)");
    let counted = |received: &Option<Arc<AtomicU64>>| received.as_ref().map(|r| r.load(Ordering::Relaxed));

    let config_files = write_synthetic_directory(&work, 200, None)?;
    let sqlite = |name: &str| format!("sqlite://{}/{name}.db", work.display());
    let mut runs = vec![("SQLite, webhook", sqlite("webhook"), Transport::Webhook)];
    if let Some(admin) = &args.postgres {
        runs.push(("PostgreSQL, webhook", fresh_postgres(admin).await?, Transport::Webhook));
    }
    runs.push(("SQLite, Teams", sqlite("teams"), Transport::Teams));
    for (name, url, transport) in runs {
        let before = counted(&received);
        let settings = bench_settings(&base, &config_files, &url, &sink_url);
        let result = dispatch(settings, args.deliveries, &Route::personal(transport), clock).await?;
        let posts = counted(&received).zip(before).map_or_else(
            || "an external sink".to_owned(),
            |(after, before)| format!("{} requests", after - before),
        );
        println!(
            "{name}: {} deliveries in {:.2} s = {:.0} deliveries/s ({:.0} % of the sink's ceiling; {posts}), \
             lag due→sent p50 {} s, p99 {} s, RSS {} MB",
            args.deliveries,
            result.elapsed.as_secs_f64(),
            result.per_second,
            100.0 * result.per_second / ceiling,
            result.p50,
            result.p99,
            result.rss,
        );
    }
    if let (Some(homeserver), Some(secret)) = (&args.matrix, &args.matrix_secret) {
        matrix(&base, &work, &sink_url, homeserver, secret, args.matrix_messages, clock).await?;
    }

    let (pass_10_years, occurrences) = planner_pass_over_years(10)?;
    println!(
        "planner: one pass over 10 years of the example calendar ({occurrences} occurrences): {pass_10_years:.1} ms"
    );
    let (simulated, days) = simulate_year()?;
    println!("planner: a simulated year of the example calendar ({days} planning passes): {simulated:.1} ms");
    let (pass_300, occurrences) = planner_pass_municipalities(300)?;
    println!("planner: one pass over 300 municipalities ({occurrences} occurrences of one year): {pass_300:.1} ms");

    let (before, during) = pending_rss(&base, &config_files, &work, args.pending, clock).await?;
    println!(
        "memory: RSS {before} MB before filling the outbox, {during} MB with {} pending deliveries while dispatching",
        args.pending
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("arshjul-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// An in-process HTTP sink on loopback that answers every POST with 200 and counts them.
async fn start_sink() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { "1" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, received))
}

/// Requests per second the sink takes from a keep-alive client with 64 in flight.
async fn sink_ceiling(url: &str, requests: usize) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let body = serde_json::json!({ "id": "ceiling", "items": [] }).to_string();
    let started = Instant::now();
    let mut sends = futures_util::stream::iter(0..requests)
        .map(|_| {
            client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
        })
        .buffer_unordered(64);
    while let Some(response) = sends.next().await {
        response.context("the sink refused a request")?;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}

/// The Matrix channel to Synapse, beside Synapse's own rate for the same number of messages of
/// the same size from a plain HTTP client with as many in flight.
async fn matrix(
    base: &Settings,
    work: &std::path::Path,
    sink: &str,
    homeserver: &str,
    secret: &str,
    count: usize,
    clock: SystemClock,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let localpart = format!("arshjul-bench-{}-{}", std::process::id(), clock.now().as_second());
    let (_, token) =
        crate::channels::matrix::register_with_shared_secret(&client, homeserver, secret, &localpart, "bench-password")
            .await?;
    let api = |path: &str| format!("{}/_matrix/client/v3/{path}", homeserver.trim_end_matches('/'));
    let created: serde_json::Value = client
        .post(api("createRoom"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"preset": "private_chat", "name": "arshjul bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let room = created["room_id"]
        .as_str()
        .context("createRoom gave no room_id")?
        .to_owned();
    let files = write_synthetic_directory(work, 200, Some(&room))?;
    let mut settings = bench_settings(base, &files, &format!("sqlite://{}/matrix.db", work.display()), sink);
    settings.matrix.homeserver_url = homeserver.to_owned();
    settings.matrix.access_token = Secret::new(token.clone());
    // Synapse serialises sends to one room; 128 in flight wait long, and must not time out.
    settings.matrix.timeout_seconds = 300;
    let route = Route {
        transport: Transport::Matrix,
        channel: Some("bench".into()),
    };
    let result = dispatch(settings, count, &route, clock).await?;
    let per_message = result.messages as f64 / result.elapsed.as_secs_f64();
    println!(
        "SQLite, Matrix (Synapse): {count} deliveries as {} messages in {:.2} s = {per_message:.0} messages/s, \
         lag due→sent p50 {} s, p99 {} s",
        result.messages,
        result.elapsed.as_secs_f64(),
        result.p50,
        result.p99,
    );
    // The same room, as many messages of the size arshjul sends, 64 in flight per dispatch loop.
    let content = serde_json::json!({
        "msgtype": "m.text", "body": "x".repeat(1_200), "format": "org.matrix.custom.html",
        "formatted_body": "x".repeat(1_600), "m.mentions": {"user_ids": ["@p00000:localhost"]},
    });
    let started = Instant::now();
    let room_path = room.replace('!', "%21").replace(':', "%3A");
    let mut sends = futures_util::stream::iter(0..result.messages)
        .map(|i| {
            client
                .put(api(&format!(
                    "rooms/{room_path}/send/m.room.message/plain-{localpart}-{i}"
                )))
                .bearer_auth(&token)
                .json(&content)
                .send()
        })
        .buffer_unordered(64 * WORKERS);
    while let Some(response) = sends.next().await {
        response?.error_for_status()?;
    }
    let plain = result.messages as f64 / started.elapsed().as_secs_f64();
    println!(
        "Synapse itself, plain HTTP client: {} messages in {:.2} s = {plain:.0} messages/s (arshjul reaches {:.0} %)",
        result.messages,
        started.elapsed().as_secs_f64(),
        100.0 * per_message / plain
    );
    Ok(())
}

/// A directory of `units` departments with ten people each, so that a batch of deliveries
/// goes to many different recipients (the worst case: one message per delivery). Everyone has
/// the Teams webhook `bench`; with `room`, the channel `bench` is that Matrix room.
fn write_synthetic_directory(
    work: &std::path::Path,
    units: usize,
    room: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let mut toml = String::new();
    for u in 0..units {
        let _ = write!(
            toml,
            "[[units]]\nid = \"u{u:04}\"\nkind = \"forvaltning\"\nname = \"Förvaltning {u}\"\n\
             [units.roles.manager]\nperson = \"p{u:04}0\"\n[units.roles.eu_contact]\nperson = \"p{u:04}1\"\n\n"
        );
        for p in 0..10 {
            let _ = write!(
                toml,
                "[[people]]\nid = \"p{u:04}{p}\"\nname = \"Person {u} {p}\"\nemail = \"p{u:04}{p}@example.org\"\n\
                 matrix_id = \"@p{u:04}{p}:localhost\"\nteams = \"bench\"\n\n"
            );
        }
    }
    if let Some(room) = room {
        let _ = write!(toml, "[channels.bench]\nmatrix_room = \"{room}\"\n");
    }
    let directory = work.join(if room.is_some() {
        "directory-matrix.toml"
    } else {
        "directory.toml"
    });
    std::fs::write(&directory, toml)?;
    let calendar = work.join("calendar.toml");
    std::fs::write(&calendar, include_str!("../../config/calendar.toml"))?;
    Ok((directory.display().to_string(), calendar.display().to_string()))
}

async fn fresh_postgres(admin: &str) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(admin)
        .await
        .context("connecting to PostgreSQL")?;
    sqlx::query("DROP DATABASE IF EXISTS arshjul_bench")
        .execute(&mut connection)
        .await?;
    sqlx::query("CREATE DATABASE arshjul_bench")
        .execute(&mut connection)
        .await?;
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Ok(format!("{base}/arshjul_bench"))
}

/// Settings for a benchmark application on `url`, posting to `sink`.
fn bench_settings(base: &Settings, files: &(String, String), url: &str, sink: &str) -> Settings {
    let mut settings = base.clone();
    settings.server.port = 0;
    settings.database.url = Secret::new(url);
    settings.database.max_connections = 8;
    settings.files.directory = files.0.clone().into();
    settings.files.calendar = files.1.clone().into();
    // The synthetic directory has no EU network to post calls in.
    settings.calls.network = Vec::new();
    settings.delivery.batch_size = 1_000;
    settings.delivery.workers = WORKERS;
    settings.delivery.concurrency = 64;
    settings.webhook.url = Secret::new(sink);
    settings.webhook.secret = Secret::new("bench-0123456789abcdef0123456789abcdef");
    settings.teams.webhooks.insert(
        "bench".into(),
        TeamsWebhook {
            url: Secret::new(sink),
            format: CardFormat::AdaptiveCard,
        },
    );
    settings
}

struct DispatchResult {
    elapsed: Duration,
    /// Messages sent (a digest of several deliveries is one).
    messages: usize,
    per_second: f64,
    p50: i64,
    p99: i64,
    /// Resident memory right after dispatching, before the benchmark reads the results back.
    rss: u64,
}

/// Fills the outbox of an application with `settings` with `count` deliveries on `route` and
/// dispatches them as the daemon would.
async fn dispatch(
    settings: Settings,
    count: usize,
    route: &Route,
    clock: SystemClock,
) -> anyhow::Result<DispatchResult> {
    let application = Application::build(settings, Arc::new(clock)).await?;
    let app = application.app();
    let now = clock.now();
    app.materialise().await?;
    fill(&app.store, &app.config(), count, now, route).await?;
    let progress = Progress::new("dispatching", count);
    let began = clock.now().as_second();
    let started = Instant::now();
    // The daemon's dispatch loops, run until the outbox is empty.
    let done = Arc::new(AtomicU64::new(0));
    let messages = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (dispatcher, done, messages) = (
            Arc::clone(application.dispatcher()),
            Arc::clone(&done),
            Arc::clone(&messages),
        );
        workers.spawn(async move {
            while let DispatchOutcome::Dispatched(batch) = dispatcher.try_next().await? {
                done.fetch_add((batch.sent + batch.dead + batch.retried) as u64, Ordering::Relaxed);
                messages.fetch_add(batch.messages as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while !workers.is_empty() {
        tokio::select! {
            finished = workers.join_next() => { finished.context("a dispatch loop panicked")?.context("joining")??; }
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        progress.show(usize::try_from(done.load(Ordering::Relaxed)).unwrap_or(usize::MAX));
    }
    let elapsed = started.elapsed();
    let rss = current_rss_mb();
    progress.finish();
    let sent = app.store.outbox(Some(DeliveryState::Sent), count + 10).await?;
    anyhow::ensure!(
        sent.len() == count,
        "only {} of {count} deliveries were sent",
        sent.len()
    );
    // Everything was due before dispatching began; lag counts from then.
    let mut lags: Vec<i64> = sent
        .iter()
        .filter_map(|r| r.sent_at.map(|at| at.as_second() - r.not_before.as_second().max(began)))
        .collect();
    lags.sort_unstable();
    let percentile = |p: usize| {
        lags.get(lags.len().saturating_sub(1) * p / 100)
            .copied()
            .unwrap_or_default()
    };
    app.store.close().await;
    Ok(DispatchResult {
        elapsed,
        messages: usize::try_from(messages.load(Ordering::Relaxed)).unwrap_or(usize::MAX),
        per_second: count as f64 / elapsed.as_secs_f64(),
        p50: percentile(50),
        p99: percentile(99),
        rss,
    })
}

/// Writes `count` due deliveries on `route`, cycling through every person of `config`.
async fn fill(store: &Store, config: &Config, count: usize, now: Timestamp, route: &Route) -> anyhow::Result<()> {
    let occurrence = store
        .occurrences()
        .await?
        .first()
        .map(|o| o.id)
        .context("no occurrence to deliver about")?;
    let people = &config.directory.people;
    let progress = Progress::new("filling the outbox", count);
    for start in (0..count).step_by(10_000) {
        let chunk: Vec<Delivery> = (start..count.min(start + 10_000))
            .map(|i| Delivery {
                subject: Subject::Occurrence(occurrence),
                step: Step::Due,
                recipient: people[i % people.len()].id.to_string(),
                route: route.clone(),
                not_before: now,
                reason: Reason::Holder,
                idempotency_key: format!("bench/{i}"),
            })
            .collect();
        store.enqueue(&chunk, now).await?;
        progress.show(start + chunk.len());
    }
    progress.finish();
    Ok(())
}

fn shipped() -> anyhow::Result<Config> {
    Config::parse(
        SourceFile {
            name: "config/directory.toml",
            text: include_str!("../../config/directory.toml"),
        },
        SourceFile {
            name: "config/calendar.toml",
            text: include_str!("../../config/calendar.toml"),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Milliseconds for one planner pass over every occurrence due in `years` years.
fn planner_pass_over_years(years: i16) -> anyhow::Result<(f64, usize)> {
    let config = shipped()?;
    let occurrences = stored(&config, 2027..=2026 + years);
    let now: Timestamp = "2031-06-15T08:00:00Z".parse()?;
    // Warm up: the business-day table is built on first use.
    std::hint::black_box(plan(&config, &occurrences[..1], now, &Routing::default()));
    let started = Instant::now();
    let planned = plan(&config, &occurrences, now, &Routing::default());
    std::hint::black_box(planned);
    Ok((started.elapsed().as_secs_f64() * 1e3, occurrences.len()))
}

/// Milliseconds for `arshjul simulate` over one year.
fn simulate_year() -> anyhow::Result<(f64, usize)> {
    let config = shipped()?;
    let (from, to) = (jiff::civil::date(2027, 1, 1), jiff::civil::date(2027, 12, 31));
    let started = Instant::now();
    let made = crate::domain::simulation::simulate(&config, &Routing::default(), from, to, Default::default());
    std::hint::black_box(made);
    let days = (0..365)
        .filter(|d| {
            config
                .calendar
                .workdays
                .is_business_day(from + jiff::Span::new().days(*d))
        })
        .count();
    Ok((started.elapsed().as_secs_f64() * 1e3, days))
}

/// Milliseconds for one planner pass over a year of `count` copies of the example municipality.
fn planner_pass_municipalities(count: usize) -> anyhow::Result<(f64, usize)> {
    let shipped = include_str!("../../config/directory.toml");
    let mut directory = String::new();
    for m in 0..count {
        // Every id and reference gets the municipality's prefix; keys are at line starts.
        let copy: String = shipped
            .lines()
            .map(|line| {
                let prefixed = [
                    "id = \"",
                    "person = \"",
                    "deputy = \"",
                    "governed_by = \"",
                    "matrix_id = \"@",
                ]
                .iter()
                .find(|key| line.starts_with(*key))
                .map(|key| format!("{key}m{m}-{}", &line[key.len()..]));
                let line = prefixed.unwrap_or_else(|| line.replace("[channels.", &format!("[channels.m{m}-")));
                line + "\n"
            })
            .collect();
        directory.push_str(&copy);
        directory.push('\n');
    }
    let config = Config::parse(
        SourceFile {
            name: "synthetic directory",
            text: &directory,
        },
        SourceFile {
            name: "config/calendar.toml",
            text: include_str!("../../config/calendar.toml"),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let occurrences = stored(&config, 2027..=2027);
    let now: Timestamp = "2027-02-16T08:00:00Z".parse()?;
    let started = Instant::now();
    let planned = plan(&config, &occurrences, now, &Routing::default());
    std::hint::black_box(planned);
    Ok((started.elapsed().as_secs_f64() * 1e3, occurrences.len()))
}

fn stored(config: &Config, years: std::ops::RangeInclusive<i16>) -> Vec<crate::domain::occurrence::StoredOccurrence> {
    (1..)
        .zip(config.occurrences_due_in(years))
        .map(|(id, o)| o.stored_open(id))
        .collect()
}

/// RSS (MB) before filling the outbox and while dispatching with `count` deliveries pending:
/// the dispatcher holds one batch, so memory should not grow with the backlog.
async fn pending_rss(
    base: &Settings,
    files: &(String, String),
    work: &std::path::Path,
    count: usize,
    clock: SystemClock,
) -> anyhow::Result<(u64, u64)> {
    let url = format!("sqlite://{}/pending.db", work.display());
    // Nobody listens here: every send fails fast and is retried later, so the backlog stays.
    let application = Application::build(
        bench_settings(base, files, &url, "http://127.0.0.1:9/hook"),
        Arc::new(clock),
    )
    .await?;
    let app = application.app();
    app.materialise().await?;
    let before = current_rss_mb();
    let webhook = Route::personal(Transport::Webhook);
    fill(&app.store, &app.config(), count, clock.now(), &webhook).await?;
    for _ in 0..3 {
        application.dispatcher().try_next().await?;
    }
    Ok((before, current_rss_mb()))
}

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or_default()
}

fn current_rss_mb() -> u64 {
    proc_status_kb("VmRSS:") / 1024
}

/// A one-line progress display on a terminal; silent when the output is piped.
struct Progress {
    label: &'static str,
    total: usize,
    enabled: bool,
}

impl Progress {
    fn new(label: &'static str, total: usize) -> Self {
        Self {
            label,
            total,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: usize) {
        if self.enabled {
            let percent = 100 * done / self.total.max(1);
            eprint!("\r{}: {done}/{} ({percent} %)   ", self.label, self.total);
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}
