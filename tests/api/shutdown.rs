//! ../shared/RELIABILITY.md #6 with a real server process: SIGTERM while a
//! job runs and a WebSocket is open. The socket gets a Close frame, the job
//! goes back to the queue without using an attempt, the process exits
//! cleanly within the grace period, and the next start runs the job once.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use taskpulse::db::{Db, DbError};
use taskpulse::domain::role::Role;
use taskpulse::jobs::{EnqueueOptions, enqueue_in};
use taskpulse::store::jobs::Job;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

const GRACE_SECS: u64 = 2;
/// Longer than the grace period: the job is still running when it ends.
const SLEEP_MS: u64 = 6_000;

/// Waits (bounded) until the job is in a state `done` accepts.
async fn until_state(db: &Db, id: i64, done: fn(&Job) -> bool) -> Job {
    wait_for("the job's next state", || {
        let db = db.clone();
        async move { Some(job_row(&db, id).await).filter(done) }
    })
    .await
}

async fn sigterm_hands_back_jobs_closes_sockets_and_exits_within_the_grace_period(backend: Backend) {
    let Some((url, database)) = fresh_database(backend) else {
        eprintln!("skipped: set {PG_ENV} to run the PostgreSQL suite");
        return;
    };
    let data_dir = tempfile::tempdir().expect("data dir");
    let env = [("TASKPULSE_SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string()), ("TASKPULSE_JOB_POLL_MS", "100".to_string())];
    let app = library_app(&url, database).await;
    let mut server = Server::start_with(&url, data_dir.path(), &env);

    // A signed-in page with its live socket open.
    let user = app.create_user("sigterm-viewer", Role::Admin).await;
    let (cookie, _) = session_for(&app, &user).await;
    let mut socket = try_socket(&server.base, "view=monitor", Some(&cookie), &server.base).await.expect("socket opens");

    // A job running when the signal comes.
    let now = taskpulse::db::now();
    let id = app
        .db
        .write(move |c| {
            Ok::<_, DbError>(enqueue_in(c, "sleep", &json!({ "ms": SLEEP_MS }), &EnqueueOptions::default(), now)?)
        })
        .await
        .unwrap()
        .expect("a new job");
    let running = until_state(&app.db, id, |j| j.state == "running").await;
    assert_eq!(running.attempt, 1);

    let signalled = Instant::now();
    server.terminate();
    // The socket is closed with a Close frame (after any pending frames).
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(_)) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(closed, "the socket got a Close frame");
    let status = server.reap();
    let took = signalled.elapsed();
    assert!(status.success(), "clean exit: {status}");
    assert!(took < Duration::from_secs(GRACE_SECS + 3), "exited within the grace period: {took:?}");

    // Handed back without using its attempt, not left running under a lease.
    let handed_back = job_row(&app.db, id).await;
    assert_eq!(
        (handed_back.state.as_str(), handed_back.attempt, handed_back.lease_owner.as_deref()),
        ("pending", 0, None),
        "{handed_back:?}"
    );

    // The next start runs it once, as its first attempt.
    drop(server);
    let _next = Server::start_with(&url, data_dir.path(), &env);
    let done = until_state(&app.db, id, |j| j.state == "succeeded" || j.state == "dead").await;
    assert_eq!((done.state.as_str(), done.attempt), ("succeeded", 1), "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_back_jobs_closes_sockets_and_exits_within_the_grace_period_sqlite() {
    sigterm_hands_back_jobs_closes_sockets_and_exits_within_the_grace_period(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_back_jobs_closes_sockets_and_exits_within_the_grace_period_postgres() {
    sigterm_hands_back_jobs_closes_sockets_and_exits_within_the_grace_period(Backend::Postgres).await;
}
