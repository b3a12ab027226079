//! The job engine of issue 4, driven deterministically: engines are built on
//! the test's database with a [`ManualClock`] and test handlers
//! ([`Jobs::with_handlers`]), and run through [`Jobs::run_due_now`] and
//! [`scheduler::tick`] instead of timers. Covers ../shared/RELIABILITY.md #4
//! (lease expiry, dead after the last attempt's worker died), #5 (idempotent
//! handler), #6 (shutdown hands jobs back without using an attempt), #7
//! (growing jittered backoff, dead, retry once, pruning), #8 (uniqueness
//! under concurrent enqueue from two instances), #9 (each slot once across
//! two instances, catch-up) and #12 (two instances drain a queue, each job
//! executed exactly once). No test waits on time: where real workers run,
//! the test waits (bounded) for a signal from the handler.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde_json::{Value, json};
use taskpulse::db::{Db, DbError};
use taskpulse::domain::role::Role;
use taskpulse::jobs::{
    Clock, EnqueueOptions, Handler, HandlerResult, JobContext, JobSettings, Jobs, ManualClock, enqueue_in, kinds,
    scheduler,
};
use taskpulse::live::LiveBus;
use taskpulse::schema::notifications;
use taskpulse::services::ServiceError;
use taskpulse::startup::connect_and_migrate;
use taskpulse::store::jobs::{self as job_store, Job};
use taskpulse::store::schedules::{self as schedule_store, Schedule};
use tokio::sync::{Barrier, Notify};

use crate::both_backends;
use crate::support::*;

/// Upper bound for waiting on a signal from a handler run by real workers
/// (a hang fails the test instead of blocking the suite; never a timing check).
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(60);

type Handlers = HashMap<&'static str, Handler>;

/// A fixed instant on a minute boundary (a Monday).
fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 3, 4).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("valid date")
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobContext, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |ctx, payload| Box::pin(f(ctx, payload)))
}

/// Counts its executions; answers `{"count": n}`.
fn counting(count: &Arc<AtomicUsize>) -> Handler {
    let count = count.clone();
    handler(move |_, _| {
        let count = count.clone();
        async move { Ok(json!({ "count": count.fetch_add(1, Ordering::SeqCst) + 1 })) }
    })
}

/// Fails its first `failures` calls (error "failure <n>"), then succeeds.
fn flaky(failures: usize, calls: &Arc<AtomicUsize>) -> Handler {
    let calls = calls.clone();
    handler(move |_, _| {
        let calls = calls.clone();
        async move {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call <= failures { Err(format!("failure {call}")) } else { Ok(json!({ "succeeded_on_call": call })) }
        }
    })
}

/// Always fails.
fn failing() -> Handler {
    handler(|_, _| async { Err("boom".to_string()) })
}

/// An engine on `db` with the test's clock and handlers.
fn engine_on(db: &Db, clock: &Arc<ManualClock>, settings: JobSettings, handlers: Handlers) -> Arc<Jobs> {
    Jobs::with_handlers(db.clone(), clock.clone(), settings, handlers)
}

/// A second instance's own connection to the test database (own pool and,
/// on SQLite, its own writer), as another server process would have.
async fn second_db(app: &TestApp) -> Db {
    connect_and_migrate(&app.settings.db).await.expect("second connection")
}

async fn job(db: &Db, id: i64) -> Job {
    db.read(move |c| Ok::<_, DbError>(job_store::find(c, id)?)).await.expect("read job").expect("job exists")
}

/// Every job, by id.
async fn all_jobs(db: &Db) -> Vec<Job> {
    let mut jobs = db.read(|c| Ok::<_, DbError>(job_store::recent(c, i64::MAX)?)).await.expect("read jobs");
    jobs.sort_by_key(|j| j.id);
    jobs
}

fn result_of(job: &Job) -> Value {
    serde_json::from_str(job.result.as_deref().expect("the job has a result")).expect("result is JSON")
}

/// Claims due jobs directly through the store, as a worker of `owner` would.
async fn claim_as(db: &Db, owner: &str, now: NaiveDateTime, lease: chrono::Duration) -> Vec<Job> {
    let owner = owner.to_string();
    db.write(move |c| Ok::<_, DbError>(job_store::claim(c, &owner, now, now + lease, 100)?)).await.expect("claim")
}

async fn enqueue(engine: &Jobs, kind: &str, payload: Value, options: EnqueueOptions) -> i64 {
    engine.enqueue(kind, payload, options).await.expect("enqueue answers").expect("a new job")
}

fn unique(key: &str) -> EnqueueOptions {
    EnqueueOptions { unique_key: Some(key.to_string()), ..Default::default() }
}

fn attempts(n: i32) -> EnqueueOptions {
    EnqueueOptions { max_attempts: Some(n), ..Default::default() }
}

/// Notifies when dropped: shows a handler's future was dropped (cancelled).
struct SignalOnDrop(Arc<Notify>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

fn schedule(name: &str, kind: &str, cron: &str, catch_up: &str) -> Schedule {
    Schedule {
        name: name.into(),
        job_kind: kind.into(),
        cron: cron.into(),
        timezone: "UTC".into(),
        enabled: true,
        catch_up: catch_up.into(),
        last_slot: None,
        updated_at: t0(),
    }
}

async fn add_schedules(db: &Db, list: Vec<Schedule>) {
    db.write(move |c| {
        for s in &list {
            assert_eq!(schedule_store::ensure_schedule(c, s)?, 1, "schedule {} added", s.name);
        }
        Ok::<_, DbError>(())
    })
    .await
    .expect("schedules added");
}

async fn slots(db: &Db, name: &str) -> Vec<(NaiveDateTime, Option<i64>)> {
    let name = name.to_string();
    db.read(move |c| Ok::<_, DbError>(schedule_store::slots(c, &name)?)).await.expect("read slots")
}

async fn last_slot(db: &Db, name: &str) -> Option<NaiveDateTime> {
    let name = name.to_string();
    db.read(move |c| Ok::<_, DbError>(schedule_store::schedule(c, &name)?))
        .await
        .expect("read schedule")
        .expect("schedule exists")
        .last_slot
}

/// Every notification as (user, kind, title, task, created at), by id.
async fn all_notifications(db: &Db) -> Vec<(i64, String, String, Option<i64>, NaiveDateTime)> {
    db.read(|c| {
        Ok::<_, DbError>(
            notifications::table
                .select((
                    notifications::user_id,
                    notifications::kind,
                    notifications::title,
                    notifications::task_id,
                    notifications::created_at,
                ))
                .order(notifications::id.asc())
                .load(c)?,
        )
    })
    .await
    .expect("read notifications")
}

both_backends! {
    // ---------------------------------------------------------------------
    // A job runs and keeps its result.
    // ---------------------------------------------------------------------
    async fn a_job_succeeds_and_keeps_its_result(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let engine =
            engine_on(&app.db, &clock, JobSettings::default(), HashMap::from([("count", counting(&count))]));

        let id = enqueue(&engine, "count", json!({ "n": 1 }), EnqueueOptions::default()).await;
        let waiting = job(&app.db, id).await;
        assert_eq!((waiting.state.as_str(), waiting.attempt, waiting.run_at), ("pending", 0, t0()));
        assert_eq!(waiting.max_attempts, engine.settings().max_attempts, "the engine's attempts by default");

        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        let done = job(&app.db, id).await;
        assert_eq!(done.state, "succeeded");
        assert_eq!(done.attempt, 1);
        assert_eq!(result_of(&done), json!({ "count": 1 }));
        assert_eq!((done.started_at, done.finished_at), (Some(t0()), Some(t0())));
        assert_eq!((done.lease_owner, done.lease_expires_at, done.last_error), (None, None, None));
        assert_eq!(serde_json::from_str::<Value>(&done.payload).expect("payload"), json!({ "n": 1 }));

        assert_eq!(engine.run_due_now().await.expect("run"), 0, "nothing left");
        assert_eq!(count.load(Ordering::SeqCst), 1);

        // A job for later waits for its time.
        let later = EnqueueOptions { run_at: Some(t0() + minutes(10)), ..Default::default() };
        let id = enqueue(&engine, "count", json!({}), later).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 0, "not due yet");
        clock.advance(minutes(10));
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        assert_eq!(job(&app.db, id).await.state, "succeeded");

        // An unknown kind is refused and nothing is stored.
        let before = all_jobs(&app.db).await.len();
        let unknown = engine.enqueue("no-such-job", json!({}), EnqueueOptions::default()).await;
        assert!(matches!(unknown, Err(ServiceError::Invalid(_))), "unknown kind: {unknown:?}");
        assert_eq!(all_jobs(&app.db).await.len(), before);
    }

    // An enqueue wakes an idle worker: with the fallback poll an hour long,
    // the job still runs (the test waits for the handler's signal).
    async fn an_enqueue_wakes_an_idle_worker(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let ran = Arc::new(Notify::new());
        let signal = ran.clone();
        let handlers: Handlers = HashMap::from([(
            "ping",
            handler(move |_, _| {
                let signal = signal.clone();
                async move {
                    signal.notify_one();
                    Ok(json!({ "pong": true }))
                }
            }),
        )]);
        let settings = JobSettings { workers: 1, poll: Duration::from_secs(3600), ..Default::default() };
        let engine = engine_on(&app.db, &clock, settings, handlers);
        let workers = engine.start();
        let id = enqueue(&engine, "ping", json!({}), EnqueueOptions::default()).await;
        tokio::time::timeout(SIGNAL_TIMEOUT, ran.notified()).await.expect("the woken worker runs the job");
        engine.shutdown(workers, SIGNAL_TIMEOUT).await;
        let done = job(&app.db, id).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1));
        assert_eq!(result_of(&done), json!({ "pong": true }));
    }

    // ---------------------------------------------------------------------
    // #7: growing, jittered gaps, then dead; retry re-enqueues it once.
    // ---------------------------------------------------------------------
    async fn backoff_grows_then_the_job_is_dead_and_retry_requeues_it_once(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let calls = Arc::new(AtomicUsize::new(0));
        let handlers: Handlers = HashMap::from([("flaky", flaky(4, &calls)), ("boom", failing())]);
        let engine = engine_on(&app.db, &clock, JobSettings::default(), handlers);
        let base = chrono::Duration::from_std(engine.settings().backoff_base).expect("base");

        let id = enqueue(&engine, "flaky", json!({}), attempts(4)).await;
        let mut gaps = Vec::new();
        for attempt in 1..=4 {
            assert_eq!(engine.run_due_now().await.expect("run"), 1, "attempt {attempt} runs");
            let row = job(&app.db, id).await;
            assert_eq!(row.attempt, attempt);
            assert_eq!(row.last_error.as_deref(), Some(format!("failure {attempt}").as_str()));
            assert_eq!((row.lease_owner.as_deref(), row.lease_expires_at), (None, None));
            if attempt == 4 {
                assert_eq!(row.state, "dead", "out of attempts");
                assert_eq!(row.finished_at, Some(clock.now()));
                break;
            }
            assert_eq!(row.state, "retrying");
            let gap = row.run_at - clock.now();
            // base × 2^(attempt-1), spread ±25 % (1 µs for PostgreSQL's rounding).
            let nominal = base * 2_i32.pow(u32::try_from(attempt - 1).expect("attempt"));
            assert!(
                gap >= nominal * 3 / 4 - chrono::Duration::microseconds(1) && gap <= nominal * 5 / 4,
                "attempt {attempt}: gap {gap} within ±25 % of {nominal}"
            );
            gaps.push(gap);
            clock.set(row.run_at - chrono::Duration::seconds(1));
            assert_eq!(engine.run_due_now().await.expect("run"), 0, "attempt {attempt}: not retried early");
            clock.set(row.run_at);
        }
        for pair in gaps.windows(2) {
            assert!(pair[1] > pair[0], "gaps grow: {gaps:?}");
            let ratio = pair[1].num_microseconds().expect("µs") as f64 / pair[0].num_microseconds().expect("µs") as f64;
            assert!((1.2..=3.34).contains(&ratio), "roughly doubling within the jitter band: {gaps:?}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        // Dead stays dead, however long one waits.
        clock.advance(chrono::Duration::days(30));
        assert_eq!(engine.run_due_now().await.expect("run"), 0);
        assert_eq!(job(&app.db, id).await.state, "dead");

        // Retry puts it back once, with fresh attempts.
        engine.retry(id).await.expect("a dead job can be retried");
        let back = job(&app.db, id).await;
        assert_eq!((back.state.as_str(), back.attempt), ("pending", 0));
        assert_eq!((back.run_at, back.finished_at), (clock.now(), None));
        let again = engine.retry(id).await;
        assert!(matches!(again, Err(ServiceError::Conflict(_))), "a pending job is not retried again: {again:?}");
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        let done = job(&app.db, id).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1));
        assert_eq!(result_of(&done), json!({ "succeeded_on_call": 5 }));
        let again = engine.retry(id).await;
        assert!(matches!(again, Err(ServiceError::Conflict(_))), "a succeeded job is not retried: {again:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 5);

        // Jobs failing together do not retry together (jitter).
        let now = clock.now();
        for _ in 0..8 {
            enqueue(&engine, "boom", json!({}), attempts(2)).await;
        }
        assert_eq!(engine.run_due_now().await.expect("run"), 8);
        let retry_times: BTreeSet<NaiveDateTime> = all_jobs(&app.db)
            .await
            .into_iter()
            .filter(|j| j.kind == "boom")
            .inspect(|j| assert_eq!(j.state, "retrying"))
            .map(|j| j.run_at)
            .collect();
        assert!(retry_times.len() > 1, "jittered retry times: {retry_times:?}");
        assert!(retry_times.iter().all(|t| *t > now), "all in the future");
    }

    // A dead job whose unique key an active job holds now cannot be put
    // back beside it: a conflict, and nothing changes.
    async fn retrying_a_dead_job_whose_key_is_taken_is_a_conflict(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let handlers: Handlers = HashMap::from([("boom", failing()), ("count", counting(&count))]);
        let engine = engine_on(&app.db, &clock, JobSettings::default(), handlers);
        let options = EnqueueOptions { max_attempts: Some(1), ..unique("report:7") };
        let dead = enqueue(&engine, "boom", json!({}), options.clone()).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        assert_eq!(job(&app.db, dead).await.state, "dead");

        let fresh = enqueue(&engine, "count", json!({}), options).await;
        let refused = engine.retry(dead).await;
        assert!(matches!(refused, Err(ServiceError::Conflict(_))), "key held by job {fresh}: {refused:?}");
        assert_eq!(job(&app.db, dead).await.state, "dead", "unchanged");
        assert_eq!(job(&app.db, fresh).await.state, "pending", "unchanged");

        // Once the active one is done, the retry goes through.
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        engine.retry(dead).await.expect("the key is free again");
        assert_eq!(job(&app.db, dead).await.state, "pending");
    }

    // ---------------------------------------------------------------------
    // #8: one unique job from 10 concurrent enqueues through 2 instances.
    // ---------------------------------------------------------------------
    async fn a_unique_job_enqueued_ten_times_concurrently_from_two_instances_is_one_row(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let a = engine_on(&app.db, &clock, JobSettings::default(), HashMap::from([("count", counting(&count))]));
        let b_db = second_db(&app).await;
        let b = engine_on(&b_db, &clock, JobSettings::default(), HashMap::from([("count", counting(&count))]));
        let key = "digest:user-7";

        let barrier = Arc::new(Barrier::new(10));
        let mut tasks = Vec::new();
        for copy in 0..10 {
            let engine = if copy % 2 == 0 { a.clone() } else { b.clone() };
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                engine.enqueue("count", json!({ "copy": copy }), unique(key)).await
            }));
        }
        let mut created = Vec::new();
        for task in tasks {
            let answer = task.await.expect("enqueue task").expect("every enqueue answers, none fails");
            created.extend(answer);
        }
        assert_eq!(created.len(), 1, "exactly one enqueue created a job: {created:?}");
        let first = created[0];
        let keyed: Vec<Job> =
            all_jobs(&app.db).await.into_iter().filter(|j| j.unique_key.as_deref() == Some(key)).collect();
        assert_eq!(keyed.len(), 1, "one row: {keyed:?}");

        // Still refused while it runs.
        let claimed = claim_as(&app.db, "busy-worker", clock.now(), minutes(5)).await;
        assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
        for engine in [&a, &b] {
            let refused = engine.enqueue("count", json!({}), unique(key)).await.expect("answers");
            assert_eq!(refused, None, "refused while running");
        }

        // Once it finished, the key is free again.
        let now = clock.now();
        let finished = app
            .db
            .write(move |c| Ok::<_, DbError>(job_store::succeed(c, first, "busy-worker", "{}", now)?))
            .await
            .expect("record");
        assert!(finished);
        let second = enqueue(&b, "count", json!({}), unique(key)).await;
        assert_ne!(second, first);
        assert_eq!(a.run_due_now().await.expect("run"), 1);
        assert_eq!(job(&app.db, second).await.state, "succeeded");
        let keyed = all_jobs(&app.db).await.into_iter().filter(|j| j.unique_key.as_deref() == Some(key)).count();
        assert_eq!(keyed, 2);
    }

    // ---------------------------------------------------------------------
    // #4: a dead worker's job runs again after its lease and completes once;
    // a job whose last attempt's worker died is dead, not re-queued.
    // ---------------------------------------------------------------------
    async fn a_job_whose_worker_died_runs_again_after_its_lease_and_completes_once(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let b_db = second_db(&app).await;
        let b = engine_on(&b_db, &clock, JobSettings::default(), HashMap::from([("count", counting(&count))]));

        let id = enqueue(&b, "count", json!({}), attempts(3)).await;
        // Engine A's worker claims it and dies without a word.
        let claimed = claim_as(&app.db, "dead-worker", clock.now(), chrono::Duration::seconds(30)).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].attempt, claimed[0].lease_owner.as_deref()), (1, Some("dead-worker")));

        assert_eq!(b.run_due_now().await.expect("run"), 0, "held while the lease lasts");
        clock.advance(chrono::Duration::seconds(20));
        assert_eq!(b.run_due_now().await.expect("run"), 0, "held while the lease lasts");
        assert_eq!(count.load(Ordering::SeqCst), 0);

        clock.advance(chrono::Duration::seconds(11));
        assert_eq!(b.run_due_now().await.expect("run"), 1, "taken over after the lease ran out");
        let done = job(&app.db, id).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 2));
        assert_eq!(result_of(&done), json!({ "count": 1 }));
        assert_eq!(b.run_due_now().await.expect("run"), 0);
        assert_eq!(count.load(Ordering::SeqCst), 1, "completed once");

        // The dead worker coming back cannot overwrite the outcome.
        let then = t0();
        let late = app
            .db
            .write(move |c| {
                let ok = job_store::succeed(c, id, "dead-worker", "{\"late\":true}", then)?;
                let failed = job_store::fail(c, id, "dead-worker", "late", None, then)?;
                Ok::<_, DbError>((ok, failed))
            })
            .await
            .expect("late record");
        assert_eq!(late, (false, false), "the lost lease records nothing");
        assert_eq!(job(&app.db, id).await, done);

        // A job whose last attempt's worker died: dead, handler not run.
        let last = enqueue(&b, "count", json!({}), attempts(1)).await;
        let claimed = claim_as(&app.db, "dead-worker", clock.now(), chrono::Duration::seconds(30)).await;
        assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [last]);
        clock.advance(chrono::Duration::seconds(31));
        assert_eq!(b.run_due_now().await.expect("run"), 1);
        let dead = job(&app.db, last).await;
        assert_eq!(dead.state, "dead");
        assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("worker")), "says why: {:?}", dead.last_error);
        assert_eq!(dead.finished_at, Some(clock.now()));
        clock.advance(chrono::Duration::days(1));
        assert_eq!(b.run_due_now().await.expect("run"), 0, "not back in the queue");
        assert_eq!(job(&app.db, last).await.state, "dead");
        assert_eq!(count.load(Ordering::SeqCst), 1, "its handler never ran again");
    }

    // ---------------------------------------------------------------------
    // #12: two instances with eight workers each drain the queue; each job
    // is executed exactly once and none is left.
    // ---------------------------------------------------------------------
    async fn two_instances_drain_the_queue_each_job_executed_exactly_once(app: TestApp) {
        const JOBS: usize = 10_000;
        let clock = Arc::new(ManualClock::new(t0()));
        let log: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
        let executed = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(Notify::new());
        let handlers = || -> Handlers {
            let (log, executed, drained) = (log.clone(), executed.clone(), drained.clone());
            HashMap::from([(
                "work",
                handler(move |ctx, _| {
                    let (log, executed, drained) = (log.clone(), executed.clone(), drained.clone());
                    async move {
                        *log.lock().expect("log").entry(ctx.job_id).or_default() += 1;
                        if executed.fetch_add(1, Ordering::SeqCst) + 1 == JOBS {
                            drained.notify_one();
                        }
                        Ok(json!({}))
                    }
                }),
            )])
        };
        let now = clock.now();
        app.db
            .write(move |c| {
                for n in 0..JOBS {
                    enqueue_in(c, "work", &json!({ "n": n }), &EnqueueOptions::default(), now)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .expect("jobs enqueued");

        let settings = JobSettings { workers: 8, poll: Duration::from_millis(50), ..Default::default() };
        let a = engine_on(&app.db, &clock, settings.clone(), handlers());
        let b_db = second_db(&app).await;
        let b = engine_on(&b_db, &clock, settings, handlers());
        let (workers_a, workers_b) = (a.start(), b.start());
        tokio::time::timeout(Duration::from_secs(600), drained.notified()).await.expect("the queue drains");
        tokio::join!(a.shutdown(workers_a, SIGNAL_TIMEOUT), b.shutdown(workers_b, SIGNAL_TIMEOUT));

        let log = log.lock().expect("log").clone();
        assert_eq!(log.len(), JOBS, "every job executed");
        let twice: Vec<_> = log.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "executed more than once: {twice:?}");
        let jobs = all_jobs(&app.db).await;
        assert_eq!(jobs.len(), JOBS);
        let left: Vec<&Job> = jobs.iter().filter(|j| j.state != "succeeded" || j.attempt != 1).collect();
        assert!(left.is_empty(), "none left or retried: {:?}", left.first());
    }

    // ---------------------------------------------------------------------
    // #6 (in-process): shutdown hands running jobs back without an attempt.
    // ---------------------------------------------------------------------
    async fn shutdown_hands_claimed_jobs_back_without_using_an_attempt(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let handlers = || HashMap::from([("count", counting(&count))]);
        let engine = engine_on(&app.db, &clock, JobSettings::default(), handlers());
        let mine = enqueue(&engine, "count", json!({}), attempts(1)).await;
        let claimed = claim_as(&app.db, engine.owner(), clock.now(), minutes(1)).await;
        assert_eq!(claimed.iter().map(|j| (j.id, j.attempt)).collect::<Vec<_>>(), [(mine, 1)]);
        // Another instance's running job is not this engine's to hand back.
        let theirs = enqueue(&engine, "count", json!({}), EnqueueOptions::default()).await;
        claim_as(&app.db, "other-instance", clock.now(), minutes(1)).await;

        clock.advance(chrono::Duration::seconds(5));
        engine.shutdown(vec![], Duration::ZERO).await;
        let back = job(&app.db, mine).await;
        assert_eq!((back.state.as_str(), back.attempt), ("pending", 0), "handed back, attempt not used");
        assert_eq!((back.lease_owner, back.lease_expires_at), (None, None));
        assert_eq!(back.run_at, clock.now(), "due at once");
        let other = job(&app.db, theirs).await;
        assert_eq!((other.state.as_str(), other.lease_owner.as_deref()), ("running", Some("other-instance")));

        // After a restart it runs with its one attempt intact.
        let restarted = engine_on(&app.db, &clock, JobSettings::default(), handlers());
        assert_eq!(restarted.run_due_now().await.expect("run"), 1);
        let done = job(&app.db, mine).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    // A shutdown right after start (a SIGTERM during start-up) still stops
    // every worker and the scheduler: with an hour of grace, it returns
    // as soon as they have stopped instead of waiting out the grace.
    async fn shutdown_right_after_start_stops_every_task(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let count = Arc::new(AtomicUsize::new(0));
        let settings = JobSettings { workers: 4, ..Default::default() };
        let engine = engine_on(&app.db, &clock, settings, HashMap::from([("count", counting(&count))]));
        let tasks = engine.start();
        tokio::time::timeout(SIGNAL_TIMEOUT, engine.shutdown(tasks, Duration::from_secs(3600)))
            .await
            .expect("every worker and the scheduler stop when told, however early");
        // Stopped for good: a job enqueued now waits for the next start.
        let id = enqueue(&engine, "count", json!({}), EnqueueOptions::default()).await;
        assert_eq!(job(&app.db, id).await.state, "pending");
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    // A handler still running when the grace period ends is stopped, not
    // left running beside the queue that now offers its job again.
    async fn shutdown_stops_an_unfinished_handler_and_hands_its_job_back(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let started = Arc::new(Notify::new());
        let dropped = Arc::new(Notify::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let handlers = || -> Handlers {
            let (started, dropped) = (started.clone(), dropped.clone());
            let (calls, finished) = (calls.clone(), finished.clone());
            HashMap::from([(
                "slow",
                handler(move |_, _| {
                    let (started, dropped, calls, finished) =
                        (started.clone(), dropped.clone(), calls.clone(), finished.clone());
                    async move {
                        let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
                        if call == 1 {
                            // The first run never finishes on its own.
                            let _guard = SignalOnDrop(dropped);
                            started.notify_one();
                            std::future::pending::<()>().await;
                        }
                        finished.fetch_add(1, Ordering::SeqCst);
                        Ok(json!({ "call": call }))
                    }
                }),
            )])
        };
        let settings = JobSettings { workers: 2, ..Default::default() };
        let engine = engine_on(&app.db, &clock, settings, handlers());
        let id = enqueue(&engine, "slow", json!({}), attempts(1)).await;
        let workers = engine.start();
        tokio::time::timeout(SIGNAL_TIMEOUT, started.notified()).await.expect("the job starts");
        let running = job(&app.db, id).await;
        assert_eq!((running.state.as_str(), running.attempt), ("running", 1));
        assert_eq!(running.lease_owner.as_deref(), Some(engine.owner()));

        engine.shutdown(workers, Duration::ZERO).await;
        let back = job(&app.db, id).await;
        assert_eq!((back.state.as_str(), back.attempt, back.lease_owner), ("pending", 0, None));
        tokio::time::timeout(SIGNAL_TIMEOUT, dropped.notified())
            .await
            .expect("the unfinished handler is stopped when its job is handed back");
        assert_eq!(finished.load(Ordering::SeqCst), 0);

        let restarted = engine_on(&app.db, &clock, JobSettings::default(), handlers());
        assert_eq!(restarted.run_due_now().await.expect("run"), 1);
        let done = job(&app.db, id).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1));
        assert_eq!(result_of(&done), json!({ "call": 2 }));
        assert_eq!(finished.load(Ordering::SeqCst), 1, "one complete run");
    }

    // A job that finishes within the grace period is recorded, not handed back.
    async fn shutdown_lets_a_running_job_finish_within_the_grace_period(app: TestApp) {
        let clock = Arc::new(ManualClock::new(t0()));
        let started = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (s, r) = (started.clone(), release.clone());
        let handlers: Handlers = HashMap::from([(
            "gated",
            handler(move |_, _| {
                let (started, release) = (s.clone(), r.clone());
                async move {
                    started.notify_one();
                    release.notified().await;
                    Ok(json!({ "released": true }))
                }
            }),
        )]);
        let engine = engine_on(&app.db, &clock, JobSettings { workers: 1, ..Default::default() }, handlers);
        let id = enqueue(&engine, "gated", json!({}), EnqueueOptions::default()).await;
        let workers = engine.start();
        tokio::time::timeout(SIGNAL_TIMEOUT, started.notified()).await.expect("the job starts");
        let stopping = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.shutdown(workers, SIGNAL_TIMEOUT).await })
        };
        release.notify_one();
        stopping.await.expect("shutdown");
        let done = job(&app.db, id).await;
        assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1));
        assert_eq!(result_of(&done), json!({ "released": true }));
    }

    // ---------------------------------------------------------------------
    // #9 (in-process): two instances ticking together through a simulated
    // day of per-minute slots run each slot once; after downtime "once"
    // runs the latest missed slot, "skip" none.
    // ---------------------------------------------------------------------
    async fn two_instances_ticking_together_run_each_slot_exactly_once(app: TestApp) {
        const STEPS: i64 = 24 * 60;
        let hour = |h: i64| t0() + minutes(60 * h);
        let clock = Arc::new(ManualClock::new(t0()));
        let runs: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let handlers = || -> Handlers {
            let runs = runs.clone();
            HashMap::from([(
                "record-slot",
                handler(move |_, payload| {
                    let runs = runs.clone();
                    async move {
                        let schedule = payload["schedule"].as_str().unwrap_or("?");
                        let key = format!("{schedule}@{}", payload["slot"].as_str().unwrap_or("?"));
                        *runs.lock().expect("runs").entry(key).or_default() += 1;
                        Ok(json!({}))
                    }
                }),
            )])
        };
        add_schedules(
            &app.db,
            vec![
                schedule("every-minute", "record-slot", "* * * * *", "once"),
                schedule("hourly-once", "record-slot", "0 * * * *", "once"),
                schedule("hourly-skip", "record-slot", "0 * * * *", "skip"),
            ],
        )
        .await;
        let a = engine_on(&app.db, &clock, JobSettings::default(), handlers());
        let b_db = second_db(&app).await;
        let b = engine_on(&b_db, &clock, JobSettings::default(), handlers());
        let slot_times = |rows: Vec<(NaiveDateTime, Option<i64>)>| rows.into_iter().map(|(s, _)| s).collect::<Vec<_>>();

        // Baseline: a new schedule starts at the current slot without running it.
        let (ta, tb) = tokio::join!(scheduler::tick(&a), scheduler::tick(&b));
        assert_eq!(ta.expect("tick A").len() + tb.expect("tick B").len(), 0);
        assert_eq!(last_slot(&app.db, "every-minute").await, Some(t0()));

        for step in 1..=STEPS {
            clock.advance(minutes(1));
            let (ta, tb) = tokio::join!(scheduler::tick(&a), scheduler::tick(&b));
            let due = if step % 60 == 0 { 3 } else { 1 };
            let enqueued = ta.expect("tick A").len() + tb.expect("tick B").len();
            assert_eq!(enqueued, due, "minute {step}: each due slot enqueued once across both instances");
            let (ra, rb) = tokio::join!(a.run_due_now(), b.run_due_now());
            assert_eq!(ra.expect("run A") + rb.expect("run B"), due, "minute {step}: each job run once");
        }

        let minute_slots = slots(&app.db, "every-minute").await;
        let expected: Vec<NaiveDateTime> = (1..=STEPS).map(|m| t0() + minutes(m)).collect();
        assert_eq!(slot_times(minute_slots.clone()), expected, "none missing");
        let job_ids: BTreeSet<i64> =
            minute_slots.iter().map(|(slot, job)| job.unwrap_or_else(|| panic!("slot {slot} has its job"))).collect();
        assert_eq!(job_ids.len(), minute_slots.len(), "one job per slot");
        let hours: Vec<NaiveDateTime> = (1..=24).map(hour).collect();
        for name in ["hourly-once", "hourly-skip"] {
            assert_eq!(slot_times(slots(&app.db, name).await), hours, "{name}: on-time slots run whatever the policy");
        }
        {
            let runs = runs.lock().expect("runs");
            assert_eq!(runs.len(), STEPS as usize + 2 * 24, "every slot ran");
            assert!(runs.values().all(|n| *n == 1), "each slot ran exactly once");
        }
        assert!(all_jobs(&app.db).await.iter().all(|j| j.state == "succeeded"));

        // Downtime: no ticks from 24:00 to 26:30, then both instances tick.
        clock.set(hour(26) + minutes(30));
        let (ta, tb) = tokio::join!(scheduler::tick(&a), scheduler::tick(&b));
        assert_eq!(ta.expect("tick A").len() + tb.expect("tick B").len(), 2);
        let (ra, rb) = tokio::join!(a.run_due_now(), b.run_due_now());
        assert_eq!(ra.expect("run A") + rb.expect("run B"), 2);
        let once = slot_times(slots(&app.db, "hourly-once").await);
        assert_eq!(&once[24..], [hour(26)], "once: only the latest missed slot (26:00), once");
        assert_eq!(slot_times(slots(&app.db, "hourly-skip").await), hours, "skip: the missed slots are dropped");
        assert_eq!(last_slot(&app.db, "hourly-skip").await, Some(hour(26)), "and marked handled");
        let minute = slot_times(slots(&app.db, "every-minute").await);
        assert_eq!(&minute[STEPS as usize..], [hour(26) + minutes(30)], "missed minutes collapse into one run");

        // The next on-time slot runs again for both.
        clock.set(hour(27));
        let (ta, tb) = tokio::join!(scheduler::tick(&a), scheduler::tick(&b));
        assert_eq!(ta.expect("tick A").len() + tb.expect("tick B").len(), 3);
        let (ra, rb) = tokio::join!(a.run_due_now(), b.run_due_now());
        assert_eq!(ra.expect("run A") + rb.expect("run B"), 3);
        assert_eq!(slot_times(slots(&app.db, "hourly-skip").await).last(), Some(&hour(27)));
        let runs = runs.lock().expect("runs");
        assert_eq!(runs.len(), STEPS as usize + 2 * 24 + 2 + 3);
        assert!(runs.values().all(|n| *n == 1), "each slot ran exactly once");
    }

    // ---------------------------------------------------------------------
    // #5: overdue-tasks run twice for the same slot: same state, one
    // notification per assignee and team lead per task.
    // ---------------------------------------------------------------------
    async fn overdue_tasks_run_twice_for_a_slot_notifies_once(app: TestApp) {
        let admin = user_in_team(&app, "boss", Role::Admin, None).await;
        let lena = user_in_team(&app, "lena", Role::Lead, Some("Alpha")).await;
        let amy = user_in_team(&app, "amy", Role::Employee, Some("Alpha")).await;
        let bob = user_in_team(&app, "bob", Role::Employee, Some("Alpha")).await;
        let cid = user_in_team(&app, "cid", Role::Employee, Some("Beta")).await;

        let slot = taskpulse::db::truncate_micros(taskpulse::db::now()).with_nanosecond(0).expect("whole second");
        let future = (slot + chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M").to_string();
        let past = slot - chrono::Duration::days(1);
        let shared = create_task(&app, &admin, TaskSpec::new("Shared report", &[&amy, &bob]).due(&future)).await;
        let beta = create_task(&app, &admin, TaskSpec::new("Beta audit", &[&cid]).due(&future)).await;
        let leads_own = create_task(&app, &admin, TaskSpec::new("Lead's own", &[&lena]).due(&future)).await;
        let cancelled = create_task(&app, &admin, TaskSpec::new("Dropped", &[&amy]).due(&future)).await;
        let not_yet = create_task(&app, &admin, TaskSpec::new("Not yet due", &[&bob]).due(&future)).await;
        for task in [shared, beta, leads_own, cancelled] {
            set_due(&app, task, past).await;
        }
        set_status(&app, &admin, cancelled, "CANCELLED").await;
        forget_notifications(&app).await;

        let clock = Arc::new(ManualClock::new(slot));
        let engine = Jobs::new(app.db.clone(), LiveBus::default(), clock.clone(), JobSettings::default());
        let payload = json!({ "schedule": "overdue-tasks", "slot": slot.and_utc().to_rfc3339() });

        let first = enqueue(&engine, "overdue-tasks", payload.clone(), EnqueueOptions::default()).await;
        // The job and the email delivery it queued with its notifications.
        assert_eq!(engine.run_due_now().await.expect("run"), 2);
        let first = job(&app.db, first).await;
        assert_eq!(first.state, "succeeded", "error: {:?}", first.last_error);
        let date = slot.date().to_string();
        assert_eq!(result_of(&first), json!({ "date": date, "overdue_tasks": 3, "notifications_sent": 5 }));
        let after_first = all_notifications(&app.db).await;
        let sent: BTreeSet<(i64, Option<i64>)> = after_first.iter().map(|n| (n.0, n.3)).collect();
        let expected: BTreeSet<(i64, Option<i64>)> = [
            (amy.id, Some(shared)),
            (bob.id, Some(shared)),
            (lena.id, Some(shared)),
            (cid.id, Some(beta)),
            (lena.id, Some(leads_own)),
        ]
        .into();
        assert_eq!(sent, expected, "each assignee and their team lead, per task");
        assert_eq!(after_first.len(), expected.len(), "one each (the lead once per task)");
        assert!(after_first.iter().all(|n| n.1 == "overdue" && n.4 == slot));
        assert!(!after_first.iter().any(|n| n.3 == Some(not_yet) || n.3 == Some(cancelled)));

        // The same slot again (a retry an hour later): nothing new.
        clock.advance(minutes(60));
        let second = enqueue(&engine, "overdue-tasks", payload, EnqueueOptions::default()).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        let second = job(&app.db, second).await;
        assert_eq!(second.state, "succeeded", "error: {:?}", second.last_error);
        assert_eq!(result_of(&second), json!({ "date": date, "overdue_tasks": 3, "notifications_sent": 0 }));
        assert_eq!(all_notifications(&app.db).await, after_first, "same state, no second message");
    }

    // ---------------------------------------------------------------------
    // #7: cleanup prunes by the configured retention and keeps active jobs.
    // ---------------------------------------------------------------------
    async fn cleanup_prunes_old_finished_jobs_and_keeps_active_ones(app: TestApp) {
        let now = t0();
        let clock = Arc::new(ManualClock::new(now - chrono::Duration::days(10)));
        let count = Arc::new(AtomicUsize::new(0));
        let mut handlers = kinds::handlers();
        handlers.insert("ok", counting(&count));
        handlers.insert("boom", failing());
        let settings = JobSettings {
            retention: Duration::from_secs(2 * 86_400),
            dead_retention: Duration::from_secs(5 * 86_400),
            ..Default::default()
        };
        let engine = engine_on(&app.db, &clock, settings, handlers);
        let once = || attempts(1);

        // Ten days ago: a success and a death (both past retention), and a
        // job waiting since then for a later run time (active: kept).
        let old_ok = enqueue(&engine, "ok", json!({}), EnqueueOptions::default()).await;
        let old_dead = enqueue(&engine, "boom", json!({}), once()).await;
        let waiting =
            enqueue(&engine, "ok", json!({}), EnqueueOptions { run_at: Some(now + minutes(60)), ..Default::default() })
                .await;
        assert_eq!(engine.run_due_now().await.expect("run"), 2);
        add_schedules(&app.db, vec![schedule("nightly", "ok", "0 0 * * *", "once")]).await;
        let slot = now - chrono::Duration::days(10);
        app.db
            .write(move |c| {
                assert!(schedule_store::claim_slot(c, "nightly", slot, slot)?);
                schedule_store::link_slot(c, "nightly", slot, old_ok)?;
                Ok::<_, DbError>(())
            })
            .await
            .expect("slot linked");

        // Three days ago: a success (past the 2-day retention) and a death
        // (inside the 5-day dead retention).
        clock.set(now - chrono::Duration::days(3));
        let mid_ok = enqueue(&engine, "ok", json!({}), EnqueueOptions::default()).await;
        let mid_dead = enqueue(&engine, "boom", json!({}), once()).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 2);

        // Yesterday: a success inside retention.
        clock.set(now - chrono::Duration::days(1));
        let new_ok = enqueue(&engine, "ok", json!({}), EnqueueOptions::default()).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 1);

        // Now: a job waiting to retry, and one running elsewhere holding a
        // unique key (its uniqueness window must survive).
        clock.set(now);
        let retrying = enqueue(&engine, "boom", json!({}), attempts(3)).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 1);
        let running = enqueue(&engine, "ok", json!({}), unique("export:9")).await;
        assert_eq!(claim_as(&app.db, "other-instance", now, minutes(5)).await.len(), 1);

        let cleanup = enqueue(&engine, "cleanup-jobs", json!({}), EnqueueOptions::default()).await;
        assert_eq!(engine.run_due_now().await.expect("run"), 1, "only the cleanup is due");
        let done = job(&app.db, cleanup).await;
        assert_eq!(done.state, "succeeded", "error: {:?}", done.last_error);
        assert_eq!(result_of(&done), json!({ "pruned": 3 }));

        let kept: BTreeSet<i64> = all_jobs(&app.db).await.iter().map(|j| j.id).collect();
        let expected: BTreeSet<i64> = [waiting, mid_dead, new_ok, retrying, running, cleanup].into();
        assert_eq!(kept, expected, "pruned: {old_ok} {old_dead} {mid_ok}");
        assert_eq!(job(&app.db, retrying).await.state, "retrying");
        assert_eq!(job(&app.db, running).await.state, "running");
        assert_eq!(slots(&app.db, "nightly").await, [(slot, None)], "the slot stays claimed, unlinked");
        let refused = engine.enqueue("ok", json!({}), unique("export:9")).await.expect("answers");
        assert_eq!(refused, None, "the running job still holds its key");
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }
}
