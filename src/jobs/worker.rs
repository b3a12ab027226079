//! A worker task: claims due jobs in bounded batches, runs their handlers
//! concurrently on the runtime, records the outcomes in batches and keeps
//! the leases of everything it holds renewed.
//!
//! One worker holds at most [`JobSettings::batch`] running handlers. It
//! claims only for free places (so nothing it claims waits behind another
//! job, and no lease ticks for a job that has not started), and when a claim
//! came back full it wakes another idle worker, so a backlog is shared
//! instead of hoarded. Finished jobs are recorded together: one write
//! transaction for a batch (one UPDATE for all successes with the same
//! result), issued while the next claim is already under way; on SQLite
//! both land in the same group commit. A job is recorded only under its
//! lease (exactly once, by its owner); leases are renewed for all held jobs
//! at once, every third of the lease. On stop the worker claims nothing
//! more, lets its handlers finish and records them; what is still running
//! when the grace period ends is handed back by [`Jobs::shutdown`].
//!
//! [`JobSettings::batch`]: super::handler::JobSettings::batch

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::clock::to_chrono;
use super::engine::Jobs;
use super::handler::{HandlerResult, JobContext};
use crate::domain::jobs as rules;
use crate::services::ServiceError;
use crate::store::jobs::{self as store, Job};

/// Finished jobs wait at most this long for companions before they are
/// recorded while others of their batch still run.
const FLUSH_DELAY: Duration = Duration::from_millis(2);
/// The shortest idle sleep (a due job another worker is claiming right now).
const MIN_IDLE: Duration = Duration::from_millis(10);

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A batch being recorded: its ids, and how the write went.
type Recording<'a> = Boxed<'a, (Vec<i64>, Result<Vec<i64>, ServiceError>)>;

/// A handler run that ended (or could not start).
pub(super) struct Finished {
    id: i64,
    attempt: i32,
    max_attempts: i32,
    outcome: HandlerResult,
}

impl Finished {
    /// The outcome of `job`'s attempt.
    pub(super) fn new(job: &Job, outcome: HandlerResult) -> Finished {
        Finished { id: job.id, attempt: job.attempt, max_attempts: job.max_attempts, outcome }
    }
}

/// What a claim brought.
pub(super) struct Claimed {
    /// The jobs, now running under this engine's lease.
    pub(super) jobs: Vec<Job>,
    /// When a claim was short: when the next job becomes claimable.
    pub(super) next_due: Option<NaiveDateTime>,
}

/// Counts a waiting worker as idle until dropped (also when aborted).
struct Idle<'a>(&'a Jobs);

impl<'a> Idle<'a> {
    fn enter(jobs: &'a Jobs) -> Idle<'a> {
        jobs.idle.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Idle(jobs)
    }
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.0.idle.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits for the future in `slot`, if any (never ready otherwise).
async fn in_slot<T>(slot: &mut Option<Boxed<'_, T>>) -> T {
    match slot {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

impl Jobs {
    /// Claims up to `limit` due jobs under a fresh lease; a short claim also
    /// says when the next job is due.
    pub(super) async fn claim_batch(&self, limit: usize) -> Result<Claimed, ServiceError> {
        let now = self.clock.now();
        let until = now + to_chrono(self.settings.lease);
        let owner = self.owner.clone();
        let wanted = i64::try_from(limit).unwrap_or(i64::MAX);
        let claimed = self
            .db
            .write(move |conn| {
                let jobs = store::claim(conn, &owner, now, until, wanted)?;
                let next_due = if jobs.len() < limit { store::next_due(conn)? } else { None };
                Ok::<_, ServiceError>(Claimed { jobs, next_due })
            })
            .await?;
        if !claimed.jobs.is_empty() {
            self.bus.jobs_changed();
        }
        Ok(claimed)
    }

    /// Runs one claimed job's handler (on its own task, stopped if this
    /// future is dropped) to its outcome, without recording it.
    pub(super) async fn execute(&self, job: &Job) -> HandlerResult {
        if job.attempt > job.max_attempts {
            // Its last attempt's worker died: nothing left to try.
            return Err("the worker stopped during the last attempt".into());
        }
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return Err(format!("no handler for job kind '{}'", job.kind));
        };
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
        let context = JobContext {
            db: self.db.clone(),
            bus: self.bus.clone(),
            now: self.clock.now(),
            job_id: job.id,
            attempt: job.attempt,
            settings: self.settings.clone(),
        };
        let work = tokio::spawn(handler(context, payload));
        // If this run is dropped (its worker aborted at the end of the
        // shutdown grace period), the handler stops too: its job is handed
        // back and must not keep running here beside the queue.
        let _stop_with_run = AbortOnDrop(work.abort_handle());
        work.await.unwrap_or_else(|e| Err(format!("the job panicked: {e}")))
    }

    async fn execute_owned(&self, job: Job) -> Finished {
        let outcome = self.execute(&job).await;
        Finished::new(&job, outcome)
    }

    /// Records finished jobs in one write transaction: the successes
    /// together, each failure with its retry time (or dead). Returns the ids
    /// handled (recorded, or found taken over by another worker).
    pub(super) async fn record_batch(&self, batch: Vec<Finished>) -> Result<Vec<i64>, ServiceError> {
        let now = self.clock.now();
        let owner = self.owner.clone();
        let base = self.settings.backoff_base;
        let ids: Vec<i64> = batch.iter().map(|f| f.id).collect();
        let mut successes = Vec::new();
        let mut failures = Vec::new();
        for finished in batch {
            match finished.outcome {
                Ok(result) => successes.push((finished.id, result.to_string())),
                Err(error) => {
                    tracing::warn!(job_id = finished.id, attempt = finished.attempt, error = %error, "job attempt failed");
                    // A job past its attempts (its last worker died) is dead.
                    let max = if finished.attempt > finished.max_attempts { 1 } else { finished.max_attempts };
                    let jitter: f64 = rand::random();
                    let retry_at =
                        rules::after_failure(finished.attempt, max, base, jitter).map(|delay| now + to_chrono(delay));
                    failures.push((finished.id, error, retry_at));
                }
            }
        }
        let kept = self
            .db
            .write(move |conn| {
                let mut kept = store::succeed_many(conn, &owner, &successes, now)?;
                for (id, error, retry_at) in &failures {
                    if store::fail(conn, *id, &owner, error, *retry_at, now)? {
                        kept.push(*id);
                    }
                }
                Ok::<_, ServiceError>(kept)
            })
            .await?;
        self.bus.jobs_changed();
        if kept.len() < ids.len() {
            let kept: BTreeSet<i64> = kept.into_iter().collect();
            for id in ids.iter().filter(|id| !kept.contains(id)) {
                tracing::warn!(job_id = id, "a job's lease was lost before its outcome was recorded");
            }
        }
        Ok(ids)
    }

    /// Extends the leases of `ids` (held by this engine).
    pub(super) async fn renew_leases(&self, ids: Vec<i64>) {
        let until = self.clock.now() + to_chrono(self.settings.lease);
        let owner = self.owner.clone();
        let count = ids.len();
        let renewed =
            self.db.write(move |conn| Ok::<_, ServiceError>(store::renew_many(conn, &ids, &owner, until)?)).await;
        match renewed {
            Ok(n) if n < count => tracing::debug!(held = count, renewed = n, "some leases were already released"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, jobs = count, "could not renew job leases"),
        }
    }

    /// The worker loop (see the module documentation).
    pub(super) async fn work(&self) {
        let mut stop = self.stop.subscribe();
        let cap = self.settings.batch.max(1);
        let flush_at = (cap / 2).max(1);
        let renew_every = (self.settings.lease / 3).max(Duration::from_millis(10));

        let mut running: FuturesUnordered<Boxed<'_, Finished>> = FuturesUnordered::new();
        let mut done: Vec<Finished> = Vec::new();
        // Claimed and not yet recorded: the leases to renew.
        let mut held: BTreeSet<i64> = BTreeSet::new();
        let mut claiming: Option<Boxed<'_, Result<Claimed, ServiceError>>> = None;
        let mut claim_limit = 0;
        let mut recording: Option<Recording<'_>> = None;
        let mut renewing: Option<Boxed<'_, ()>> = None;
        let mut want_claim = true;
        let mut idle_until = Instant::now();
        let mut flush_deadline: Option<Instant> = None;
        let mut renew_tick = tokio::time::interval_at(Instant::now() + renew_every, renew_every);
        renew_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            let stopping = *stop.borrow();
            // Jobs an enqueue claimed for this engine: run them at once.
            let handed: Vec<Job> =
                std::mem::take(&mut *self.handoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            for job in handed {
                held.insert(job.id);
                running.push(Box::pin(self.execute_owned(job)));
            }
            // Record what finished: a whole batch, half a batch, or whatever
            // waited long enough (a slow job does not hold the others back).
            if recording.is_none()
                && !done.is_empty()
                && (running.is_empty()
                    || stopping
                    || done.len() >= flush_at
                    || flush_deadline.is_some_and(|d| d <= Instant::now()))
            {
                let batch = std::mem::take(&mut done);
                let ids: Vec<i64> = batch.iter().map(|f| f.id).collect();
                flush_deadline = None;
                recording = Some(Box::pin(async move { (ids, self.record_batch(batch).await) }));
            }
            let free = cap.saturating_sub(running.len());
            let can_claim = !stopping
                && claiming.is_none()
                && free > 0
                && held.len() < 2 * cap
                && (running.is_empty() || free >= (cap / 4).max(1));
            if can_claim && want_claim {
                want_claim = false;
                claim_limit = free;
                claiming = Some(Box::pin(self.claim_batch(free)));
            }
            let can_claim = can_claim && claiming.is_none();
            if stopping && running.is_empty() && done.is_empty() && recording.is_none() && claiming.is_none() {
                return;
            }
            // Counted idle (for enqueues to hand their job over) while it
            // waits with nothing running or being claimed.
            let _idle = (!stopping && running.is_empty() && claiming.is_none()).then(|| Idle::enter(self));
            tokio::select! {
                Some(finished) = running.next(), if !running.is_empty() => {
                    done.push(finished);
                    while let Some(Some(finished)) = running.next().now_or_never() {
                        done.push(finished);
                    }
                    flush_deadline.get_or_insert_with(|| Instant::now() + FLUSH_DELAY);
                }
                claimed = in_slot(&mut claiming) => {
                    claiming = None;
                    match claimed {
                        Ok(Claimed { jobs, next_due }) => {
                            if jobs.len() >= claim_limit {
                                // More may be due: claim again when there is
                                // room, and let an idle worker share them.
                                want_claim = true;
                                self.wake.notify_one();
                            } else {
                                let wait = next_due.map_or(self.settings.poll, |at| {
                                    (at - self.clock.now()).to_std().unwrap_or(Duration::ZERO)
                                });
                                idle_until = Instant::now() + wait.clamp(MIN_IDLE, self.settings.poll.max(MIN_IDLE));
                            }
                            for job in jobs {
                                held.insert(job.id);
                                running.push(Box::pin(self.execute_owned(job)));
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "could not claim jobs");
                            idle_until = Instant::now() + self.settings.poll.max(MIN_IDLE);
                        }
                    }
                }
                (ids, recorded) = in_slot(&mut recording) => {
                    recording = None;
                    if let Err(err) = recorded {
                        // Left running under a lease nobody renews: another
                        // worker takes them over when it runs out.
                        tracing::warn!(error = %err, jobs = ids.len(), "could not record job outcomes");
                    }
                    for id in ids {
                        held.remove(&id);
                    }
                }
                () = in_slot(&mut renewing) => renewing = None,
                _ = renew_tick.tick(), if !held.is_empty() && renewing.is_none() => {
                    let ids: Vec<i64> = held.iter().copied().collect();
                    renewing = Some(Box::pin(self.renew_leases(ids)));
                }
                () = self.wake.notified(), if can_claim => want_claim = true,
                () = tokio::time::sleep_until(idle_until), if can_claim => want_claim = true,
                () = tokio::time::sleep_until(flush_deadline.unwrap_or_else(Instant::now)),
                    if flush_deadline.is_some() && recording.is_none() => {}
                _ = stop.changed(), if !stopping => {}
            }
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
