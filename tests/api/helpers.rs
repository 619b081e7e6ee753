//! Test scaffolding: a database of its own for every test (a SQLite file, or a fresh database
//! in the PostgreSQL cluster the test script started), settings that point at it, and a
//! running `Application` on a free port.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arshjul::app::App;
use arshjul::clock::{FixedClock, ManualClock};
use arshjul::outbox::DispatchOutcome;
use arshjul::settings::{Secret, Settings};
use arshjul::startup::Application;
use arshjul::storage::Store;
use sqlx::Connection as _;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Set by `scripts/test` to an admin URL of a throwaway PostgreSQL cluster; unset means SQLite.
const POSTGRES_ENV: &str = "ARSHJUL_TEST_POSTGRES_URL";

/// The repository root, where `config/` lives.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An HTTP client for tests (rustls needs its crypto provider installed once per process).
pub fn http() -> reqwest::Client {
    arshjul::channels::install_crypto_provider();
    reqwest::Client::new()
}

/// A directory for one test's files, removed when dropped.
pub struct TestDir {
    dir: TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` in this directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing a test file");
        path
    }

    /// Copies the shipped directory and calendar here, so a test can change them.
    pub fn with_shipped_config(self) -> Self {
        for name in ["directory.toml", "calendar.toml"] {
            std::fs::copy(repo().join("config").join(name), self.path().join(name)).expect("copying config");
        }
        self
    }
}

/// A database URL that no other test uses.
pub async fn fresh_database_url(dir: &TestDir) -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) => fresh_postgres_database(&admin_url).await,
        Err(_) => format!("sqlite://{}", dir.path().join("arshjul.db").display()),
    }
}

/// A new database in the test run's PostgreSQL cluster (`admin_url` names it), its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "arshjul_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(admin_url)
        .await
        .expect("connecting to the test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("creating a test database");
    let base = admin_url.rsplit_once('/').expect("admin URL ends in a database name").0;
    format!("{base}/{name}")
}

/// The defaults, with a fresh database, a free port and the config files in `dir` when present.
pub async fn test_settings(dir: &TestDir) -> Settings {
    let mut settings = Settings::load(None).expect("defaults load");
    settings.database.url = Secret::new(fresh_database_url(dir).await);
    settings.server.port = 0;
    settings.email.file_dir = dir.path().join("outbox-mail");
    for (slot, name) in [
        (&mut settings.files.directory, "directory.toml"),
        (&mut settings.files.calendar, "calendar.toml"),
    ] {
        let local = dir.path().join(name);
        *slot = if local.exists() {
            local
        } else {
            repo().join("config").join(name)
        };
    }
    settings
}

/// Sends every kind of step on `channels` (routing names) and nothing else.
pub fn route_all(settings: &mut Settings, channels: &[&str]) {
    let names: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
    settings.routing.reminders = names.clone();
    settings.routing.escalations = names.clone();
    settings.routing.acknowledgements = names;
}

/// A connected, migrated store on a fresh database.
pub async fn test_store(dir: &TestDir) -> Store {
    let settings = test_settings(dir).await;
    let store = Store::connect(&settings.database).await.expect("connecting");
    store.migrate().await.expect("migrating");
    store
}

/// 27 November 2026, 09:00 in Stockholm.
pub fn test_now() -> jiff::Timestamp {
    "2026-11-27T08:00:00Z".parse().unwrap()
}

/// A peer's process (a sink, the browser's driver), on the real clock also when the suite runs
/// on a moved one (`ARSHJUL_TEST_AS_OF` in `scripts/test` preloads libfaketime, which Python's
/// sleeps and Chromium do not survive): only arshjul's own code runs on the moved clock.
pub fn peer_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.env_remove("LD_PRELOAD");
    command
}

/// A process a test started; killed and reaped when dropped, so it ends with its test even when
/// the test fails. Started in a process group of its own, which is killed whole: the browser's
/// driver leaves Chromium's processes behind otherwise.
pub struct Spawned(pub std::process::Child);

impl Spawned {
    /// Starts `command` in a process group of its own.
    pub fn start(command: &mut std::process::Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0).spawn().map(Self)
    }
}

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The group's id is the leader's pid; the group outlives a leader that already exited.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// [`test_now`], running on from the moment this test first asked: the one timeline that every
/// binary a test starts agrees on, however far apart they start.
fn running_test_now() -> jiff::Timestamp {
    static STARTED: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);
    let elapsed = jiff::SignedDuration::try_from(STARTED.elapsed()).unwrap_or_default();
    test_now().checked_add(elapsed).unwrap()
}

/// The `arshjul` binary, run from the repository with its clock started on the test's timeline
/// (see [`running_test_now`]), so what it decides does not depend on the day the suite runs.
pub fn arshjul_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_arshjul"));
    command
        .current_dir(repo())
        .env(arshjul::clock::START_VARIABLE, running_test_now().to_string());
    command
}

/// A running daemon on a free port.
pub struct TestApp {
    pub address: String,
    pub shared: Arc<App>,
    pub dispatcher: Arc<arshjul::outbox::Dispatcher>,
    pub shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(settings: Settings) -> Self {
        Self::spawn_with_clock(settings, Arc::new(FixedClock(test_now()))).await
    }

    /// A running daemon whose time is `clock`'s.
    pub async fn spawn_with_clock(settings: Settings, clock: Arc<dyn arshjul::clock::Clock>) -> Self {
        let app = Application::build(settings, clock).await.expect("building the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let shared = app.app();
        let dispatcher = Arc::clone(app.dispatcher());
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self {
            address,
            shared,
            dispatcher,
            shutdown,
            running,
        }
    }

    /// GET `path`, returning status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = http()
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Dispatches until nothing is due (beside the daemon's own dispatcher).
    pub async fn drain(&self) {
        for _ in 0..100 {
            if matches!(self.dispatcher.try_next().await.unwrap(), DispatchOutcome::Idle) {
                return;
            }
        }
        panic!("the outbox never emptied");
    }

    /// Cancels the shutdown token and waits for a clean stop.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.expect("joined").expect("stopped cleanly");
    }
}

/// An application that is built but not running: the test drives planning and dispatching.
pub struct Worker {
    pub app: Application,
    pub clock: Arc<ManualClock>,
}

impl Worker {
    pub async fn build(settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::new(test_now()));
        let app = Application::build(settings, clock.clone())
            .await
            .expect("building the app");
        Self { app, clock }
    }

    pub async fn materialise_and_plan(&self) -> usize {
        let shared = self.app.app();
        shared.materialise().await.unwrap();
        shared.plan().await.unwrap()
    }

    /// Dispatches until nothing is due; returns the summed counts.
    pub async fn drain(&self) -> arshjul::outbox::dispatcher::Dispatched {
        let mut total = arshjul::outbox::dispatcher::Dispatched::default();
        for _ in 0..100 {
            match self.app.dispatcher().try_next().await.unwrap() {
                DispatchOutcome::Idle => return total,
                DispatchOutcome::Dispatched(d) => {
                    total.messages += d.messages;
                    total.sent += d.sent;
                    total.retried += d.retried;
                    total.dead += d.dead;
                    total.fell_back += d.fell_back;
                }
            }
        }
        panic!("the outbox never emptied");
    }

    /// The worker's clock.
    pub fn now(&self) -> jiff::Timestamp {
        arshjul::clock::Clock::now(self.clock.as_ref())
    }

    /// The occurrence of the first delivery to `recipient` in the outbox.
    pub async fn occurrence_reminding(&self, recipient: &str) -> i64 {
        self.outbox()
            .await
            .into_iter()
            .find(|r| r.recipient == recipient)
            .and_then(|r| r.occurrence_id)
            .unwrap_or_else(|| panic!("{recipient} has a delivery"))
    }

    pub async fn outbox(&self) -> Vec<arshjul::storage::OutboxRow> {
        self.app.app().store.outbox(None, 10_000).await.unwrap()
    }
}

/// The shipped directory with every chat address and preference taken out, so that everyone
/// gets email, except `person`, who gets `lines` (e.g. a matrix_id and prefers) added.
pub fn directory_reaching(person: &str, lines: &str) -> String {
    let shipped = std::fs::read_to_string(repo().join("config/directory.toml")).expect("the shipped directory");
    let chat_keys = ["matrix_id =", "prefers =", "teams =", "matrix_room ="];
    let plain: String = shipped
        .lines()
        .filter(|line| !chat_keys.iter().any(|key| line.starts_with(key)))
        .map(|line| format!("{line}\n"))
        .collect();
    let email = format!("email = \"{person}@example.org\"\n");
    assert!(plain.contains(&email), "{person} is in the shipped directory");
    plain.replacen(&email, &format!("{email}{lines}\n"), 1)
}
