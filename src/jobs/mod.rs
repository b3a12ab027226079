//! Durable background jobs in the serve process: rows in the same database
//! (so they commit with the change that caused them and survive restarts),
//! claimed by tokio workers under a lease, retried with backoff, and a cron
//! scheduler that enqueues each slot once. Tests drive it with a manual
//! clock and [`Jobs::run_due_now`].

pub mod diagnostics;
pub mod kinds;
pub mod scheduler;
mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{Notify, watch};

use crate::db::{Db, DbConn, DbError};
use crate::domain::jobs::{self as rules, JobState};
use crate::live::LiveBus;
use crate::services::ServiceError;
use crate::store::jobs::{self as store, Job, NewJob};

/// Where the time comes from: the system clock, or a test's hand.
pub trait Clock: Send + Sync {
    /// Now (UTC, microseconds).
    fn now(&self) -> NaiveDateTime;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        match test_clock_file() {
            None => crate::db::now(),
            Some(path) => read_test_clock(path).unwrap_or_else(crate::db::now),
        }
    }
}

/// The process-level test hook: with `TASKPULSE_TEST_CLOCK_FILE` set, the
/// job engine's clock (and only it) reads the time from that file, which a
/// test rewrites to move several real server processes through a simulated
/// day together. Never set it in production; a warning is logged when it is.
fn test_clock_file() -> Option<&'static std::path::Path> {
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os("TASKPULSE_TEST_CLOCK_FILE").filter(|p| !p.is_empty())?;
        tracing::warn!(file = ?path, "TEST HOOK: the job clock is read from a file");
        Some(path.into())
    })
    .as_deref()
}

/// A time in the test clock file (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, UTC).
fn read_test_clock(path: &std::path::Path) -> Option<NaiveDateTime> {
    let text = std::fs::read_to_string(path).ok()?;
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// A clock that moves only when told (tests).
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: NaiveDateTime) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: NaiveDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a handler gets.
#[derive(Clone)]
pub struct JobContext {
    /// The database.
    pub db: Db,
    /// Live events (after a handler's commits).
    pub bus: LiveBus,
    /// The engine's clock reading when the attempt started.
    pub now: NaiveDateTime,
    /// The job.
    pub job_id: i64,
    /// Which attempt this is (from 1).
    pub attempt: i32,
    /// The engine's settings (e.g. the retention the cleanup job applies).
    pub settings: JobSettings,
}

/// A handler's answer: a JSON summary kept on the job row, or an error.
pub type HandlerResult = Result<serde_json::Value, String>;
/// A running handler.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
/// A job kind's code.
pub type Handler = Arc<dyn Fn(JobContext, serde_json::Value) -> HandlerFuture + Send + Sync>;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Worker tasks in `serve`.
    pub workers: usize,
    /// How long a claim holds before another worker may take the job (and
    /// so how soon a job whose server died runs again); renewed every third
    /// of it while the job runs.
    pub lease: Duration,
    /// Fallback poll interval (an enqueue in this process wakes a worker at
    /// once; an idle worker also wakes when the next job is due).
    pub poll: Duration,
    /// Most jobs one worker claims at once and runs concurrently.
    pub batch: usize,
    /// Retry base delay (doubled per attempt, with jitter).
    pub backoff_base: Duration,
    /// Attempts per job unless the enqueue says otherwise.
    pub max_attempts: i32,
    /// Succeeded jobs are pruned after this long.
    pub retention: Duration,
    /// Dead jobs are kept this long.
    pub dead_retention: Duration,
    /// Scheduler tick.
    pub tick: Duration,
    /// Outgoing mail (notification emails).
    pub mail: crate::mail::MailSettings,
}

/// The default lease: a job whose server died runs again at most this long
/// after its last renewal (a third of it before the death, at most).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(20);
/// The default batch of one worker.
pub const DEFAULT_BATCH: usize = 32;

/// A duration in milliseconds from the environment (operations and the
/// process-level tests: `TASKPULSE_JOB_LEASE_MS`, `TASKPULSE_JOB_POLL_MS`,
/// `TASKPULSE_JOB_TICK_MS`); unset, unreadable or zero means the default.
fn env_millis(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            tracing::warn!(setting = name, value = %raw, "ignored: not a positive number of milliseconds");
            None
        }
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            workers: 2,
            lease: env_millis("TASKPULSE_JOB_LEASE_MS").unwrap_or(DEFAULT_LEASE),
            poll: env_millis("TASKPULSE_JOB_POLL_MS").unwrap_or(Duration::from_secs(5)),
            batch: DEFAULT_BATCH,
            backoff_base: rules::DEFAULT_BACKOFF_BASE,
            max_attempts: rules::DEFAULT_MAX_ATTEMPTS,
            retention: Duration::from_secs(7 * 86_400),
            dead_retention: Duration::from_secs(30 * 86_400),
            tick: env_millis("TASKPULSE_JOB_TICK_MS").unwrap_or(Duration::from_secs(15)),
            mail: crate::mail::MailSettings::files(
                std::env::temp_dir().join("taskpulse-mail"),
                "http://127.0.0.1:8080",
            ),
        }
    }
}

/// Options of one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Run no earlier than this (default: now).
    pub run_at: Option<NaiveDateTime>,
    /// Attempts allowed (default: the engine's).
    pub max_attempts: Option<i32>,
    /// Refuse a second job with this key while one is waiting or running.
    pub unique_key: Option<String>,
}

/// Builds the row of a new job (for enqueues inside a use case's transaction).
pub fn new_job(kind: &str, payload: &serde_json::Value, options: &EnqueueOptions, now: NaiveDateTime) -> NewJob {
    NewJob {
        kind: kind.to_string(),
        payload: payload.to_string(),
        state: JobState::Pending.as_str().to_string(),
        max_attempts: options.max_attempts.unwrap_or(rules::DEFAULT_MAX_ATTEMPTS).max(1),
        run_at: options.run_at.unwrap_or(now),
        unique_key: options.unique_key.clone(),
        created_at: now,
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The job engine.
pub struct Jobs {
    db: Db,
    bus: LiveBus,
    clock: Arc<dyn Clock>,
    settings: JobSettings,
    handlers: HashMap<&'static str, Handler>,
    wake: Notify,
    /// Workers waiting with nothing to run: an enqueue then claims its job
    /// itself and hands it over (see [`Jobs::enqueue`]).
    idle: std::sync::atomic::AtomicUsize,
    /// Jobs enqueued already claimed for this engine, for the next worker.
    handoff: Mutex<Vec<Job>>,
    owner: String,
    stop: watch::Sender<bool>,
}

impl Jobs {
    /// An engine with every built-in job kind registered.
    pub fn new(db: Db, bus: LiveBus, clock: Arc<dyn Clock>, settings: JobSettings) -> Arc<Jobs> {
        let owner = format!("{}-{}", std::process::id(), crate::security::random_hex(4));
        Arc::new(Jobs {
            db,
            bus,
            clock,
            settings,
            handlers: {
                let mut handlers = kinds::handlers();
                handlers.extend(diagnostics::handlers());
                handlers
            },
            wake: Notify::new(),
            idle: std::sync::atomic::AtomicUsize::new(0),
            handoff: Mutex::new(Vec::new()),
            owner,
            stop: watch::channel(false).0,
        })
    }

    /// An engine with the given handlers only (tests).
    pub fn with_handlers(
        db: Db,
        clock: Arc<dyn Clock>,
        settings: JobSettings,
        handlers: HashMap<&'static str, Handler>,
    ) -> Arc<Jobs> {
        let jobs = Jobs::new(db, LiveBus::default(), clock, settings);
        let mut jobs = Arc::into_inner(jobs).unwrap_or_else(|| unreachable!("a fresh Arc has one owner"));
        jobs.handlers = handlers;
        Arc::new(jobs)
    }

    /// This engine's worker identity (lease owner).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The clock.
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }

    /// The registered job kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// The settings.
    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Enqueues a job of a registered kind; `None` when an active job has
    /// the same unique key. Wakes an idle worker at once.
    pub async fn enqueue(
        &self,
        kind: &str,
        payload: serde_json::Value,
        options: EnqueueOptions,
    ) -> Result<Option<i64>, ServiceError> {
        if !self.handlers.contains_key(kind) {
            return Err(ServiceError::field("kind", format!("Unknown job '{kind}'.")));
        }
        let mut job = new_job(kind, &payload, &options, self.clock.now());
        if options.max_attempts.is_none() {
            job.max_attempts = self.settings.max_attempts;
        }
        let now = job.created_at;
        // A worker sits idle: the enqueue claims the job in its own
        // transaction and hands it over, sparing the worker a claim (a
        // commit, an fsync on SQLite) between the enqueue and the start.
        let hand_over =
            job.run_at <= now && self.idle.load(std::sync::atomic::Ordering::SeqCst) > 0 && !*self.stop.borrow();
        if !hand_over {
            let id = self.db.write(move |conn| Ok::<_, ServiceError>(store::enqueue(conn, &job)?)).await?;
            self.wake();
            self.bus.jobs_changed();
            return Ok(id);
        }
        let owner = self.owner.clone();
        let until = now + to_chrono(self.settings.lease);
        let claimed = self
            .db
            .write(move |conn| Ok::<_, ServiceError>(store::enqueue_claimed(conn, &job, &owner, until)?))
            .await?;
        let id = claimed.as_ref().map(|job| job.id);
        self.bus.jobs_changed();
        if let Some(job) = claimed {
            // Should every worker have stopped meanwhile, the job is handed
            // back by the shutdown (it runs under this engine's lease).
            self.handoff.lock().unwrap_or_else(|p| p.into_inner()).push(job);
            self.wake();
        }
        Ok(id)
    }

    /// Wakes an idle worker (after a use case committed a job it enqueued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs one claimed job to its recorded outcome, renewing its lease
    /// while it runs (inline: tests, the CLI, `run now`).
    async fn run(&self, job: Job) -> Result<(), ServiceError> {
        let outcome = {
            let work = self.execute(&job);
            let renew = self.keep_lease(job.id);
            tokio::pin!(work);
            tokio::pin!(renew);
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    () = &mut renew => {}
                }
            }
        };
        let finished = worker::Finished::new(&job, outcome);
        self.record_batch(vec![finished]).await.map(|_| ())
    }

    /// Renews a running job's lease at a third of its length, for as long as
    /// the job runs (the caller drops this future when the job ends).
    async fn keep_lease(&self, id: i64) {
        let every = self.settings.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            self.renew_leases(vec![id]).await;
        }
    }

    /// Claims and runs every job due now, inline, until none is left (tests,
    /// the CLI, and `run now`). Returns how many attempts ran.
    pub async fn run_due_now(&self) -> Result<usize, ServiceError> {
        let mut ran = 0;
        loop {
            let batch = self.claim_batch(16).await?.jobs;
            if batch.is_empty() {
                return Ok(ran);
            }
            for job in batch {
                self.run(job).await?;
                ran += 1;
            }
        }
    }

    /// Starts the worker tasks and the scheduler; they stop after [`Jobs::shutdown`].
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for _ in 0..self.settings.workers.max(1) {
            let engine = self.clone();
            handles.push(tokio::spawn(async move { engine.work().await }));
        }
        let engine = self.clone();
        handles.push(tokio::spawn(async move { scheduler::run(engine).await }));
        handles
    }

    /// Stops claiming, lets running jobs finish within `grace`, then hands
    /// what is still running back without using up its attempt.
    pub async fn shutdown(&self, workers: Vec<tokio::task::JoinHandle<()>>, grace: Duration) {
        // Stored even while no task listens yet (a stop during start-up).
        self.stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        for handle in workers {
            let abort = handle.abort_handle();
            if tokio::time::timeout_at(deadline, handle).await.is_err() {
                abort.abort();
            }
        }
        let owner = self.owner.clone();
        let now = self.clock.now();
        match self.db.write(move |conn| Ok::<_, ServiceError>(store::release(conn, &owner, now)?)).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(jobs = n, "handed unfinished jobs back to the queue");
                self.bus.jobs_changed();
            }
            Err(err) => tracing::warn!(error = %err, "could not hand unfinished jobs back"),
        }
    }

    /// Counts per state, recent jobs: what the Jobs page and CLI show.
    pub async fn overview(&self, recent: i64) -> Result<(Vec<(String, i64)>, Vec<Job>), ServiceError> {
        self.db.read(move |conn| Ok::<_, ServiceError>((store::counts(conn)?, store::recent(conn, recent)?))).await
    }

    /// One job.
    pub async fn find(&self, id: i64) -> Result<Option<Job>, ServiceError> {
        self.db.read(move |conn| Ok::<_, ServiceError>(store::find(conn, id)?)).await
    }

    /// The job kind behind a name: a schedule's name or a kind itself.
    pub async fn kind_of(&self, name: &str) -> Result<String, ServiceError> {
        let key = name.trim().to_string();
        let schedule = {
            let key = key.clone();
            self.db.read(move |conn| Ok::<_, ServiceError>(store::schedule(conn, &key)?)).await?
        };
        let kind = schedule.map_or(key, |s| s.job_kind);
        if self.handlers.contains_key(kind.as_str()) {
            Ok(kind)
        } else {
            let known = self.kinds().join(", ");
            Err(ServiceError::field("name", format!("Unknown job '{name}'. Known jobs: {known}.")))
        }
    }

    /// The schedules with their next run (UTC; `None` when paused or unreadable).
    pub async fn schedules(&self) -> Result<Vec<(store::Schedule, Option<NaiveDateTime>)>, ServiceError> {
        let now = self.clock.now();
        let all = self.db.read(|conn| Ok::<_, ServiceError>(store::schedules(conn)?)).await?;
        Ok(all
            .into_iter()
            .map(|s| {
                let next = if s.enabled { scheduler::next_run(&s, now) } else { None };
                (s, next)
            })
            .collect())
    }

    /// Edits a schedule (validated: every error at once, nothing saved on error).
    pub async fn edit_schedule(
        &self,
        name: &str,
        cron: &str,
        timezone: &str,
        enabled: bool,
        catch_up: &str,
    ) -> Result<(), ServiceError> {
        let mut errors = scheduler::parse(cron, timezone).err().unwrap_or_default();
        if !matches!(catch_up, "once" | "skip") {
            errors.insert("catch_up", "Choose \"run once\" or \"skip\".".into());
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let (name, cron, timezone, catch_up) =
            (name.to_string(), cron.trim().to_string(), timezone.trim().to_string(), catch_up.to_string());
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                let mut schedule = store::schedule(conn, &name)?.ok_or(ServiceError::NotFound)?;
                schedule.cron = cron;
                schedule.timezone = timezone;
                schedule.enabled = enabled;
                schedule.catch_up = catch_up;
                schedule.updated_at = now;
                store::update_schedule(conn, &schedule)?;
                Ok::<_, ServiceError>(())
            })
            .await
    }

    /// Re-enqueues a dead job once.
    pub async fn retry(&self, id: i64) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let retried = match self.db.write(move |conn| Ok::<_, ServiceError>(store::retry_dead(conn, id, now)?)).await {
            // Its unique key is held by an active job enqueued since it died.
            Err(ServiceError::Db(DbError::Query(err))) if crate::db::is_unique_violation(&err) => {
                return Err(ServiceError::Conflict("An identical job is already waiting or running.".into()));
            }
            other => other?,
        };
        if !retried {
            return Err(ServiceError::Conflict("Only a dead job can be retried.".into()));
        }
        self.wake();
        self.bus.jobs_changed();
        Ok(())
    }
}

/// Enqueues inside a use case's transaction (the job exists only if the
/// change commits); call [`Jobs::wake`] after the commit.
pub fn enqueue_in(
    conn: &mut DbConn,
    kind: &str,
    payload: &serde_json::Value,
    options: &EnqueueOptions,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<i64>> {
    store::enqueue(conn, &new_job(kind, payload, options, now))
}
