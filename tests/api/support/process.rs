//! The real `taskpulse` binary as a child process, and what the
//! process-level tests share: a library view of its database, job rows and
//! bounded polling.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use taskpulse::config::Settings;
use taskpulse::db::{DatabaseUrl, Db, DbError};
use taskpulse::startup::connect_and_migrate;
use taskpulse::store::jobs::{self as job_store, Job};

use super::app::{TestApp, TestDb};

/// Upper bound of every [`wait_for`] (a hang fails the test instead of blocking).
const WAIT: Duration = Duration::from_secs(90);

/// `taskpulse serve` as a child process on 127.0.0.1 (a free port chosen by
/// the kernel, read from the URL it prints). Killed with SIGKILL and reaped
/// when dropped, so no test leaves it running, even on panic.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
}

impl Server {
    /// Starts the binary on `database` and waits (bounded) until it listens.
    pub fn start(database: &DatabaseUrl, data_dir: &Path) -> Server {
        Server::start_with(database, data_dir, &[])
    }

    /// [`Server::start`] with extra environment variables (e.g. a short job
    /// lease for the job engine's process-level tests).
    pub fn start_with(database: &DatabaseUrl, data_dir: &Path, env: &[(&str, String)]) -> Server {
        let database_url = match database {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_taskpulse"))
            .arg("serve")
            .env("TASKPULSE_DATA_DIR", data_dir)
            .env("DATABASE_URL", database_url)
            .env("TASKPULSE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            // The defaults under test: synchronous=FULL, no demo data.
            .env_remove("TASKPULSE_SQLITE_SYNCHRONOUS")
            .env_remove("TASKPULSE_DEMO")
            .env_remove("TASKPULSE_PUBLIC_URL")
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start taskpulse serve");
        let stdout = child.stdout.take().expect("child stdout");
        let mut server = Server { child, base: String::new() };
        let (found, url) = std::sync::mpsc::channel();
        // Reads (and keeps draining) the child's stdout until it exits.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Taskpulse is running at ") {
                    let _ = found.send(url.trim().trim_end_matches('/').to_string());
                }
            }
        });
        server.base = url.recv_timeout(Duration::from_secs(120)).expect("the server starts and prints its URL");
        assert!(server.base.starts_with("http://127.0.0.1:"), "served on 127.0.0.1 only: {}", server.base);
        server
    }

    /// Sends SIGTERM: the server shuts down gracefully.
    pub fn terminate(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success(), "SIGTERM sent");
    }

    /// Sends SIGKILL (`kill -9`): no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits (bounded) for the killed process to be gone.
    pub fn reap(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            assert!(Instant::now() < deadline, "the killed server did not go away");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A [`TestApp`] with no server of its own: the database opened through the
/// library (migrated), so the fixtures can seed and read it while the real
/// binary serves it.
pub async fn library_app(url: &DatabaseUrl, database: TestDb) -> TestApp {
    let settings = Settings::for_tests(url.clone());
    let db = connect_and_migrate(&settings.db).await.expect("database opens through the library");
    TestApp { address: String::new(), port: 0, db, settings, bus: Default::default(), _database: database }
}

/// The stored job `id` (it must exist).
pub async fn job_row(db: &Db, id: i64) -> Job {
    db.read(move |c| Ok::<_, DbError>(job_store::find(c, id)?)).await.expect("read job").expect("job exists")
}

/// Polls `probe` every few milliseconds until it answers, at most [`WAIT`].
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
