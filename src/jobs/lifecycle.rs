//! Starting and stopping the engine's tasks, and running due jobs inline
//! (tests, the CLI, "run now").

use std::sync::Arc;
use std::time::Duration;

use super::engine::Jobs;
use super::scheduler;
use super::worker::Finished;
use crate::services::ServiceError;
use crate::store::jobs::{self as store, Job};

impl Jobs {
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
        let finished = Finished::new(&job, outcome);
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
}
