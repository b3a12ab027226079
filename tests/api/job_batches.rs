//! The batching worker: claims in bounded batches, runs a batch's handlers
//! concurrently, records outcomes together, renews the leases of all it
//! holds, shares a backlog with an idle worker, wakes when a lease runs out,
//! and on shutdown hands back only the unfinished part of a batch. Real
//! workers run; every wait is for a signal or a stored state, bounded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use taskpulse::db::{Db, DbError};
use taskpulse::jobs::{
    Clock, EnqueueOptions, Handler, HandlerResult, JobContext, JobSettings, Jobs, ManualClock, SystemClock,
};
use taskpulse::store::jobs::{self as job_store, Job};
use tokio::sync::{Barrier, Notify};

use crate::both_backends;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);

type Handlers = HashMap<&'static str, Handler>;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 3, 4).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("valid date")
}

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobContext, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |ctx, payload| Box::pin(f(ctx, payload)))
}

/// Answers its payload's `n` (distinct results) or `{}` (shared ones).
fn echo() -> Handler {
    handler(
        |_, payload| async move { Ok(if payload["n"].is_null() { json!({}) } else { json!({ "n": payload["n"] }) }) },
    )
}

/// Never finishes on its own; signals when it starts.
fn stuck(started: &Arc<Notify>) -> Handler {
    let started = started.clone();
    handler(move |_, _| {
        let started = started.clone();
        async move {
            started.notify_one();
            std::future::pending::<()>().await;
            Ok(json!({}))
        }
    })
}

async fn enqueue(engine: &Jobs, kind: &str, payload: Value, options: EnqueueOptions) -> i64 {
    engine.enqueue(kind, payload, options).await.expect("enqueue answers").expect("a new job")
}

fn attempts(n: i32) -> EnqueueOptions {
    EnqueueOptions { max_attempts: Some(n), ..Default::default() }
}

/// Waits (bounded) until every job in `ids` satisfies `done`.
async fn until_all(db: &Db, ids: &[i64], done: impl Fn(&Job) -> bool) -> Vec<Job> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut rows = Vec::new();
        for id in ids {
            rows.push(job_row(db, *id).await);
        }
        if rows.iter().all(&done) {
            return rows;
        }
        assert!(Instant::now() < deadline, "jobs never reached the state: {rows:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

both_backends! {
    // One batch, mixed outcomes: each job is recorded with its own result
    // (shared and distinct ones), the failure alone goes to retrying.
    async fn a_batch_with_one_failure_records_each_job_on_its_own(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let handlers: Handlers = HashMap::from([
            ("echo", echo()),
            ("boom", handler(|_, _| async { Err("boom".to_string()) })),
        ]);
        let settings = JobSettings { workers: 1, batch: 16, ..Default::default() };
        let engine = Jobs::with_handlers(app.db.clone(), clock.clone(), settings, handlers);
        let mut ok = Vec::new();
        for n in 0..6 {
            let payload = if n % 2 == 0 { json!({ "n": n }) } else { json!({}) };
            ok.push((enqueue(&engine, "echo", payload.clone(), attempts(3)).await, payload));
        }
        let failing = enqueue(&engine, "boom", json!({}), attempts(3)).await;
        let workers = engine.start();
        let ids: Vec<i64> = ok.iter().map(|(id, _)| *id).chain([failing]).collect();
        until_all(&app.db, &ids, |j| j.state != "pending" && j.state != "running").await;
        engine.shutdown(workers, WAIT).await;

        for (id, payload) in &ok {
            let done = job_row(&app.db, *id).await;
            assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1), "job {id}");
            let result: Value = serde_json::from_str(done.result.as_deref().expect("result")).expect("JSON");
            let expected = if payload["n"].is_null() { json!({}) } else { json!({ "n": payload["n"] }) };
            assert_eq!(result, expected, "job {id} keeps its own result");
            assert_eq!((done.lease_owner, done.finished_at), (None, Some(t0())));
        }
        let failed = job_row(&app.db, failing).await;
        assert_eq!((failed.state.as_str(), failed.attempt), ("retrying", 1));
        assert_eq!(failed.last_error.as_deref(), Some("boom"));
        assert!(failed.run_at > t0(), "retried later, not at once: {}", failed.run_at);
        assert_eq!((failed.result, failed.finished_at, failed.lease_owner), (None, None, None));
    }

    // Shutdown in the middle of a batch: the finished jobs are recorded, only
    // the unfinished one is handed back, its attempt not used.
    async fn shutdown_mid_batch_hands_back_only_the_unfinished_jobs(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let started = Arc::new(Notify::new());
        let handlers: Handlers = HashMap::from([("echo", echo()), ("stuck", stuck(&started))]);
        let settings = JobSettings { workers: 1, batch: 16, ..Default::default() };
        let engine = Jobs::with_handlers(app.db.clone(), clock.clone(), settings, handlers);
        let slow = enqueue(&engine, "stuck", json!({}), attempts(1)).await;
        let mut quick = Vec::new();
        for n in 0..5 {
            quick.push(enqueue(&engine, "echo", json!({ "n": n }), attempts(1)).await);
        }
        let workers = engine.start();
        tokio::time::timeout(WAIT, started.notified()).await.expect("the slow job starts");
        // The quick ones are recorded while the slow one still runs.
        until_all(&app.db, &quick, |j| j.state == "succeeded").await;
        let running = job_row(&app.db, slow).await;
        assert_eq!((running.state.as_str(), running.attempt), ("running", 1));

        engine.shutdown(workers, Duration::ZERO).await;
        let back = job_row(&app.db, slow).await;
        assert_eq!((back.state.as_str(), back.attempt, back.lease_owner), ("pending", 0, None), "handed back");
        for id in &quick {
            let done = job_row(&app.db, *id).await;
            assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1), "job {id} stays done");
        }
    }

    // Two workers with batches of four: eight jobs that each wait for all
    // eight to have started finish only if the second worker took its share
    // while the first held a full batch, and each batch ran concurrently.
    async fn a_full_batch_brings_an_idle_worker_in_and_runs_concurrently(app: TestApp) {
        const JOBS: usize = 8;
        let clock = Arc::new(ManualClock::new(t0()));
        let barrier = Arc::new(Barrier::new(JOBS));
        let b = barrier.clone();
        let handlers: Handlers = HashMap::from([(
            "together",
            handler(move |ctx, _| {
                let barrier = b.clone();
                async move {
                    barrier.wait().await;
                    Ok(json!({ "job": ctx.job_id }))
                }
            }),
        )]);
        let settings = JobSettings { workers: 2, batch: 4, poll: Duration::from_secs(3600), ..Default::default() };
        let engine = Jobs::with_handlers(app.db.clone(), clock.clone(), settings, handlers);
        let now = clock.now();
        let ids = app
            .db
            .write(move |c| {
                let mut ids = Vec::new();
                for _ in 0..JOBS {
                    ids.extend(taskpulse::jobs::enqueue_in(c, "together", &json!({}), &EnqueueOptions::default(), now)?);
                }
                Ok::<_, DbError>(ids)
            })
            .await
            .expect("enqueued");
        let workers = engine.start();
        let done = until_all(&app.db, &ids, |j| j.state == "succeeded").await;
        engine.shutdown(workers, WAIT).await;
        assert!(done.iter().all(|j| j.attempt == 1), "each ran once: {done:?}");
    }

    // A long batch keeps its leases: renewed for every job the worker holds,
    // so another instance does not take them over while they run.
    async fn the_leases_of_a_running_batch_are_renewed(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let (s, r) = (started.clone(), release.clone());
        let handlers = move || -> Handlers {
            let (s, r) = (s.clone(), r.clone());
            HashMap::from([(
                "gated",
                handler(move |_, _| {
                    let (started, release) = (s.clone(), r.clone());
                    async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        release.acquire().await.map_err(|e| e.to_string())?.forget();
                        Ok(json!({}))
                    }
                }),
            )])
        };
        let lease = Duration::from_millis(300);
        let settings = JobSettings { workers: 1, batch: 8, lease, ..Default::default() };
        let engine = Jobs::with_handlers(app.db.clone(), clock.clone(), settings.clone(), handlers());
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(enqueue(&engine, "gated", json!({}), attempts(1)).await);
        }
        let workers = engine.start();
        let first = until_all(&app.db, &ids, |j| j.state == "running").await;
        assert!(first.iter().all(|j| j.lease_expires_at == Some(t0() + chrono::Duration::milliseconds(300))));

        // Time passes well beyond the first lease, in steps shorter than a
        // lease: after each, a renewal moves every lease on.
        for _ in 0..5 {
            clock.advance(chrono::Duration::milliseconds(200));
            let renewed_until = clock.now() + chrono::Duration::milliseconds(300);
            let renewed = until_all(&app.db, &ids, |j| j.lease_expires_at == Some(renewed_until)).await;
            assert!(renewed.iter().all(|j| j.state == "running" && j.attempt == 1));
            assert!(renewed.iter().all(|j| j.lease_owner.as_deref() == Some(engine.owner())));
        }
        assert!(clock.now() > t0() + chrono::Duration::milliseconds(900), "three first leases long");
        let other = Jobs::with_handlers(app.db.clone(), clock.clone(), settings, handlers());
        assert_eq!(other.run_due_now().await.expect("run"), 0, "nothing to take over");

        let deadline = Instant::now() + WAIT;
        while started.load(Ordering::SeqCst) < ids.len() {
            assert!(Instant::now() < deadline, "every handler starts");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        release.add_permits(ids.len());
        let done = until_all(&app.db, &ids, |j| j.state == "succeeded").await;
        engine.shutdown(workers, WAIT).await;
        assert!(done.iter().all(|j| j.attempt == 1), "each ran once: {done:?}");
    }

    // An idle worker wakes when a dead worker's lease runs out, not a poll
    // interval later (the poll here is an hour).
    async fn an_idle_worker_takes_over_when_a_lease_runs_out_without_polling(app: TestApp) {
        let count = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(Notify::new());
        let (c, r) = (count.clone(), ran.clone());
        let handlers: Handlers = HashMap::from([(
            "count",
            handler(move |_, _| {
                let (count, ran) = (c.clone(), r.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    ran.notify_one();
                    Ok(json!({}))
                }
            }),
        )]);
        let settings = JobSettings { workers: 1, poll: Duration::from_secs(3600), ..Default::default() };
        let engine = Jobs::with_handlers(app.db.clone(), Arc::new(SystemClock), settings, handlers);
        let id = enqueue(&engine, "count", json!({}), attempts(3)).await;
        // A worker of another instance claims it and dies: its lease runs
        // out 300 ms from now.
        let now = taskpulse::db::now();
        let claimed = app
            .db
            .write(move |c| {
                Ok::<_, DbError>(job_store::claim(c, "dead-worker", now, now + chrono::Duration::milliseconds(300), 10)?)
            })
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        let workers = engine.start();
        tokio::time::timeout(WAIT, ran.notified()).await.expect("taken over once the lease ran out");
        let done = until_all(&app.db, &[id], |j| j.state == "succeeded").await;
        engine.shutdown(workers, WAIT).await;
        assert_eq!(done[0].attempt, 2);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
