//! The job engine with real `taskpulse serve` processes:
//! ../shared/RELIABILITY.md #4 with kill -9 (a job interrupted by SIGKILL of
//! its server runs again after a restart and completes exactly once) and #9
//! with three servers on one PostgreSQL (a simulated day of per-minute slots,
//! each run exactly once). The servers get a short lease, a short poll and
//! (for the day) a fast scheduler tick and a clock read from a file the test
//! moves, through the engine's environment settings.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use taskpulse::db::DbError;
use taskpulse::jobs::{EnqueueOptions, enqueue_in};
use taskpulse::store::jobs::{self as job_store, Job};
use taskpulse::store::schedules::{self as schedule_store, Schedule};

use crate::support::*;

// ---------------------------------------------------------------------------
// #4 with kill -9.
// ---------------------------------------------------------------------------

/// Lease of the servers under test: short, so the takeover comes quickly;
/// the job outlives it, so it is renewed while it runs.
const LEASE_MS: u64 = 1_500;
const SLEEP_MS: u64 = 3_000;

async fn a_job_interrupted_by_kill_9_runs_again_after_restart_and_completes_once(backend: Backend) {
    let Some((url, database)) = fresh_database(backend) else {
        eprintln!("skipped: set {PG_ENV} to run the PostgreSQL suite");
        return;
    };
    let data_dir = tempfile::tempdir().expect("data dir");
    let env = [("TASKPULSE_JOB_LEASE_MS", LEASE_MS.to_string()), ("TASKPULSE_JOB_POLL_MS", "100".to_string())];
    let app = library_app(&url, database).await;

    let mut first = Server::start_with(&url, data_dir.path(), &env);
    // Enqueued by another process: the server finds it by polling.
    let now = taskpulse::db::now();
    let id = app
        .db
        .write(move |c| {
            Ok::<_, DbError>(enqueue_in(c, "sleep", &json!({ "ms": SLEEP_MS }), &EnqueueOptions::default(), now)?)
        })
        .await
        .expect("enqueue")
        .expect("a new job");
    let running = wait_for("the first server to start the job", || {
        let db = app.db.clone();
        async move { Some(job_row(&db, id).await).filter(|j| j.state == "running") }
    })
    .await;
    assert_eq!(running.attempt, 1);
    let first_owner = running.lease_owner.clone().expect("a lease owner");
    // Let the lease be renewed at least once (the job outlives its lease).
    let renewed = wait_for("the running job's lease to be renewed", || {
        let (db, before) = (app.db.clone(), running.lease_expires_at);
        async move { Some(job_row(&db, id).await).filter(|j| j.state == "running" && j.lease_expires_at > before) }
    })
    .await;
    assert_eq!((renewed.attempt, renewed.lease_owner.as_deref()), (1, Some(first_owner.as_str())));

    first.kill();
    let status = first.reap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the server died of SIGKILL: {status}");
    drop(first);
    let killed = job_row(&app.db, id).await;
    assert_eq!((killed.state.as_str(), killed.attempt), ("running", 1), "the crash left the job running");
    assert_eq!(killed.result, None, "the interrupted run recorded nothing");

    let restarted_at = Instant::now();
    let second = Server::start_with(&url, data_dir.path(), &env);
    let done = wait_for("the restarted server to finish the job", || {
        let db = app.db.clone();
        async move { Some(job_row(&db, id).await).filter(|j| j.state != "running" && j.state != "pending") }
    })
    .await;
    let took = restarted_at.elapsed();
    assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 2), "run again once, and it succeeded: {done:?}");
    let result: Value = serde_json::from_str(done.result.as_deref().expect("a result")).expect("JSON result");
    assert_eq!(result, json!({ "slept_ms": SLEEP_MS, "attempt": 2 }), "the second attempt completed");
    assert_eq!((&done.lease_owner, done.lease_expires_at, &done.last_error), (&None, None, &None));
    eprintln!("{backend:?}: the interrupted job completed {:.1} s after the restart", took.as_secs_f64());
    assert!(took < Duration::from_secs(30), "re-run well within the lease after a restart: {took:?}");

    // Exactly once: nothing runs it again afterwards (two leases later the
    // row is unchanged and no other job appeared).
    tokio::time::sleep(Duration::from_millis(2 * LEASE_MS)).await;
    assert_eq!(job_row(&app.db, id).await, done, "completed once, not again");
    let all = app.db.read(|c| Ok::<_, DbError>(job_store::recent(c, 100)?)).await.expect("jobs");
    let sleeps: Vec<i64> = all.iter().filter(|j| j.kind == "sleep").map(|j| j.id).collect();
    assert_eq!(sleeps, [id], "one job, no copies");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_kill_9_runs_again_after_restart_and_completes_once_sqlite() {
    a_job_interrupted_by_kill_9_runs_again_after_restart_and_completes_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_kill_9_runs_again_after_restart_and_completes_once_postgres() {
    a_job_interrupted_by_kill_9_runs_again_after_restart_and_completes_once(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------
// #9 with three real server processes on one PostgreSQL.
// ---------------------------------------------------------------------------

const SERVERS: usize = 3;
const SLOTS: i64 = 24 * 60;
const SCHEDULE: &str = "every-minute";

fn day_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 6, 3).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("valid date")
}

/// Moves the servers' job clock (written whole, then renamed into place).
fn set_clock(file: &Path, at: NaiveDateTime) {
    let next = file.with_extension("next");
    std::fs::write(&next, at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()).expect("write clock");
    std::fs::rename(&next, file).expect("move clock");
}

async fn three_servers_run_each_slot_of_a_simulated_day_exactly_once(backend: Backend) {
    let Some((url, database)) = fresh_database(backend) else {
        eprintln!("skipped: set {PG_ENV} to run the PostgreSQL suite");
        return;
    };
    let data_dir = tempfile::tempdir().expect("data dir");
    let clock = data_dir.path().join("clock");
    set_clock(&clock, day_start());
    let app = library_app(&url, database).await;

    // Only the test's schedule runs: the catalogue is added now and paused.
    let engine = taskpulse::jobs::Jobs::new(
        app.db.clone(),
        Default::default(),
        std::sync::Arc::new(taskpulse::jobs::ManualClock::new(day_start())),
        Default::default(),
    );
    taskpulse::jobs::scheduler::ensure_defaults(&engine).await.expect("default schedules");
    let minutely = Schedule {
        name: SCHEDULE.into(),
        job_kind: "noop".into(),
        cron: "* * * * *".into(),
        timezone: "UTC".into(),
        enabled: true,
        catch_up: "once".into(),
        last_slot: Some(day_start()),
        updated_at: day_start(),
    };
    app.db
        .write(move |c| {
            for mut schedule in schedule_store::schedules(c)? {
                schedule.enabled = false;
                schedule_store::update_schedule(c, &schedule)?;
            }
            schedule_store::ensure_schedule(c, &minutely)?;
            Ok::<_, DbError>(())
        })
        .await
        .expect("schedules ready");

    let env = [
        ("TASKPULSE_TEST_CLOCK_FILE", clock.display().to_string()),
        ("TASKPULSE_JOB_TICK_MS", "4".to_string()),
        // Leases run on the simulated clock, which jumps a minute every few
        // milliseconds: ten simulated days, so none runs out during the day.
        ("TASKPULSE_JOB_LEASE_MS", (10 * 86_400_000u64).to_string()),
        ("TASKPULSE_JOB_POLL_MS", "200".to_string()),
    ];
    let servers: Vec<Server> = (0..SERVERS).map(|_| Server::start_with(&url, data_dir.path(), &env)).collect();

    // Minute by minute: move the clock, wait until one server claimed the
    // slot, give the others a few ticks to race for it, move on.
    let started = Instant::now();
    for minute in 1..=SLOTS {
        let slot = day_start() + chrono::Duration::minutes(minute);
        set_clock(&clock, slot);
        wait_for(&format!("slot {slot} to be claimed"), || {
            let db = app.db.clone();
            async move {
                let slots =
                    db.read(|c| Ok::<_, DbError>(schedule_store::slots(c, SCHEDULE)?)).await.expect("read slots");
                slots.last().is_some_and(|(at, _)| *at >= slot).then_some(())
            }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(12)).await;
    }
    // Every slot's job finishes.
    let jobs = wait_for("every slot's job to finish", || {
        let db = app.db.clone();
        async move {
            let jobs: Vec<Job> = db
                .read(|c| Ok::<_, DbError>(job_store::recent(c, i64::MAX)?))
                .await
                .expect("read jobs")
                .into_iter()
                .filter(|j| j.kind == "noop")
                .collect();
            (jobs.len() >= SLOTS as usize && jobs.iter().all(|j| j.state == "succeeded")).then_some(jobs)
        }
    })
    .await;
    eprintln!("{backend:?}: {SLOTS} minutes with {SERVERS} servers took {:.1} s", started.elapsed().as_secs_f64());
    for server in &servers {
        assert!(reqwest::get(format!("{}/healthz", server.base)).await.is_ok(), "every server lived throughout");
    }
    drop(servers);

    let slots = app.db.read(|c| Ok::<_, DbError>(schedule_store::slots(c, SCHEDULE)?)).await.expect("read slots");
    let expected: Vec<NaiveDateTime> = (1..=SLOTS).map(|m| day_start() + chrono::Duration::minutes(m)).collect();
    assert_eq!(slots.iter().map(|(at, _)| *at).collect::<Vec<_>>(), expected, "each minute claimed once");
    assert_eq!(jobs.len(), SLOTS as usize, "one job per slot, no more");
    let linked: BTreeSet<i64> =
        slots.iter().map(|(at, job)| job.unwrap_or_else(|| panic!("slot {at} has a job"))).collect();
    let ran: BTreeSet<i64> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(linked, ran, "each slot's job is the one that ran");
    let payload_slots: BTreeSet<String> =
        jobs.iter().map(|j| serde_json::from_str::<Value>(&j.payload).expect("payload")["slot"].to_string()).collect();
    assert_eq!(payload_slots.len(), SLOTS as usize, "each job stands for a different slot");
    let retried: Vec<&Job> = jobs.iter().filter(|j| j.attempt != 1).collect();
    assert!(retried.is_empty(), "each slot's job executed exactly once: {:?}", retried.first());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_run_each_slot_of_a_simulated_day_exactly_once_postgres() {
    three_servers_run_each_slot_of_a_simulated_day_exactly_once(Backend::Postgres).await;
}
