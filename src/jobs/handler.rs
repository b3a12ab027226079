//! What a job kind is: a handler taking a context and a payload, and the
//! engine settings handlers see.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::Db;
use crate::domain::jobs as rules;
use crate::live::LiveBus;

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
pub const DEFAULT_LEASE: Duration = crate::config::JobTiming::DEFAULT.lease;
/// The default fallback poll interval.
pub const DEFAULT_POLL: Duration = crate::config::JobTiming::DEFAULT.poll;
/// The default scheduler tick.
pub const DEFAULT_TICK: Duration = crate::config::JobTiming::DEFAULT.tick;
/// The default batch of one worker.
pub const DEFAULT_BATCH: usize = 32;

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            workers: 2,
            lease: DEFAULT_LEASE,
            poll: DEFAULT_POLL,
            batch: DEFAULT_BATCH,
            backoff_base: rules::DEFAULT_BACKOFF_BASE,
            max_attempts: rules::DEFAULT_MAX_ATTEMPTS,
            retention: Duration::from_secs(7 * 86_400),
            dead_retention: Duration::from_secs(30 * 86_400),
            tick: DEFAULT_TICK,
            mail: crate::mail::MailSettings::files(
                std::env::temp_dir().join("taskpulse-mail"),
                "http://127.0.0.1:8080",
            ),
        }
    }
}
