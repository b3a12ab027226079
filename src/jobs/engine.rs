//! The job engine: the registered kinds, enqueueing (with a hand-over to an
//! idle worker), and its identity as a lease owner. Workers run in
//! `worker.rs`, the scheduler in `scheduler.rs`, admin queries in
//! `admin.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use tokio::sync::{Notify, watch};

use super::clock::{Clock, to_chrono};
use super::handler::{Handler, JobSettings};
use super::{diagnostics, kinds};
use crate::db::Db;
use crate::live::LiveBus;
use crate::services::ServiceError;
use crate::store::enqueue::{EnqueueOptions, new_job};
use crate::store::jobs::{self as store, Job};

/// The job engine.
pub struct Jobs {
    pub(super) db: Db,
    pub(super) bus: LiveBus,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: JobSettings,
    pub(super) handlers: HashMap<&'static str, Handler>,
    pub(super) wake: Notify,
    /// Workers waiting with nothing to run: an enqueue then claims its job
    /// itself and hands it over (see [`Jobs::enqueue`]).
    pub(super) idle: std::sync::atomic::AtomicUsize,
    /// Jobs enqueued already claimed for this engine, for the next worker.
    pub(super) handoff: Mutex<Vec<Job>>,
    pub(super) owner: String,
    pub(super) stop: watch::Sender<bool>,
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
            self.handoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(job);
            self.wake();
        }
        Ok(id)
    }

    /// Wakes an idle worker (after a use case committed a job it enqueued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
