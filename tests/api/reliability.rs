//! The reliability bar of ../shared/RELIABILITY.md for the progress path:
//! #1 (kill -9 of the real binary during 500 concurrent progress updates:
//! every acknowledged update is durable with exactly one trail row, nothing
//! half-done survives, SQLite stays intact), #3 (200 concurrent HTTP writers
//! on SQLite never see a lock error) and #14 (100 clients submitting against
//! the same version: one wins, 99 get 409 with the current state).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::{Value, json};
use taskpulse::db::{DbConn, DbError, Synchronous};
use taskpulse::domain::role::Role;

use crate::both_backends;
use crate::support::*;

/// Longest any single HTTP request may take before the test gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// An HTTP client whose requests cannot hang the test.
fn bounded_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().expect("client")
}

/// A token client for `user` against `base`, with bounded requests.
async fn api_at(app: &TestApp, base: &str, user: &TestUser) -> Api {
    Api { client: bounded_client(), base: base.to_string(), token: app.token_for(user).await }
}

fn progress_path(task_id: i64) -> String {
    format!("/api/task/{task_id}/progress/")
}

/// Checks a task's trail is one unbroken chain (each row's previous progress
/// and status are the prior row's new ones, by id) ending at the stored
/// state, with exactly one row per version (the creation row is version 1);
/// returns the trail.
async fn assert_consistent_trail(app: &TestApp, task_id: i64) -> Vec<TrailEntry> {
    let rows = trail(app, task_id).await;
    let stored = task(app, task_id).await;
    assert!(!rows.is_empty(), "task {task_id} has its creation row");
    for pair in rows.windows(2) {
        let (prior, row) = (&pair[0], &pair[1]);
        assert_eq!(
            row.previous_progress, prior.new_progress,
            "task {task_id}: row {} follows row {}",
            row.id, prior.id
        );
        assert_eq!(row.previous_status, prior.new_status, "task {task_id}: row {} follows row {}", row.id, prior.id);
    }
    let last = rows.last().expect("a trail row");
    assert_eq!(
        (stored.progress, stored.status.as_str()),
        (last.new_progress, last.new_status.as_str()),
        "task {task_id}: the stored state is the last trail row's"
    );
    assert_eq!(stored.version as usize, rows.len(), "task {task_id}: one trail row per version, no more, no less");
    rows
}

// ---------------------------------------------------------------------------
// #1: kill -9 during 500 concurrent progress updates.
// ---------------------------------------------------------------------------

/// Kills and reaps a shared server, whoever holds it.
fn kill_shared(server: &Mutex<Server>) {
    server.lock().unwrap_or_else(std::sync::PoisonError::into_inner).kill();
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = Text)]
    value: String,
}

fn integrity_check(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let DbConn::Sqlite(c) = conn else { panic!("SQLite expected") };
    let rows =
        diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check").load::<IntegrityCheck>(c)?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// What one of the 500 requests got.
enum Answer {
    /// A 2xx: the update must be durable. The body (None if the connection
    /// broke after the status line) carries the version it was given.
    Acked(Option<Value>),
    /// An HTTP answer other than 2xx.
    Refused(u16, String),
    /// No answer: the server died first (the update may or may not have committed).
    Lost,
}

const EMPLOYEES: usize = 5;
const TASKS_EACH: usize = 4;
const UPDATES: usize = 500;
/// The server is killed as soon as this many updates were acknowledged.
const KILL_AFTER: usize = UPDATES / 2;

/// The request numbered `n`: (index into the tasks, progress value 1–99).
fn planned(n: usize, tasks: usize) -> (usize, i32) {
    (n % tasks, 1 + (n % 99) as i32)
}

async fn kill_9_during_500_concurrent_updates(backend: Backend) {
    let Some((url, database)) = fresh_database(backend) else {
        eprintln!("skipped: set {PG_ENV} to run the PostgreSQL suite");
        return;
    };
    let data_dir = tempfile::tempdir().expect("data dir");

    // Seed users, tokens and tasks through the library, then close it.
    let seeding = library_app(&url, database).await;
    let admin = user_in_team(&seeding, "admin", Role::Admin, None).await;
    let mut tasks: Vec<(i64, usize)> = Vec::new(); // (task id, employee index)
    let mut employees = Vec::new();
    let mut tokens = Vec::new();
    for e in 0..EMPLOYEES {
        let employee = user_in_team(&seeding, &format!("emp{e}"), Role::Employee, Some("Alpha")).await;
        for k in 0..TASKS_EACH {
            tasks.push((create_task(&seeding, &admin, TaskSpec::new(&format!("Task {e}.{k}"), &[&employee])).await, e));
        }
        tokens.push(seeding.token_for(&employee).await);
        employees.push(employee);
    }
    let TestApp { db, _database: database, .. } = seeding;
    drop(db);

    let server = Arc::new(Mutex::new(Server::start(&url, data_dir.path())));
    let base = server.lock().unwrap().base.clone();
    let apis: Vec<Api> =
        tokens.iter().map(|token| Api { client: bounded_client(), base: base.clone(), token: token.clone() }).collect();

    // 500 updates at once; the one that makes KILL_AFTER acknowledged kills
    // the server on the spot, while the rest are in flight.
    let acked = Arc::new(AtomicUsize::new(0));
    let mut requests = Vec::with_capacity(UPDATES);
    for n in 0..UPDATES {
        let (index, value) = planned(n, tasks.len());
        let (task_id, employee) = tasks[index];
        let request = apis[employee]
            .post(&progress_path(task_id))
            .json(&json!({"progress_percentage": value, "notes": format!("req-{n}")}));
        let (acked, server) = (Arc::clone(&acked), Arc::clone(&server));
        requests.push(tokio::spawn(async move {
            let Ok(response) = request.send().await else { return Answer::Lost };
            let status = response.status();
            let body = response.text().await.ok();
            if !status.is_success() {
                return Answer::Refused(status.as_u16(), body.unwrap_or_default());
            }
            if acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                kill_shared(&server);
            }
            Answer::Acked(body.and_then(|b| serde_json::from_str(&b).ok()))
        }));
    }
    let mut answers = Vec::with_capacity(UPDATES);
    for request in requests {
        answers.push(request.await.expect("request task"));
    }
    // Should fewer than KILL_AFTER have been acknowledged, it dies here (and
    // the count below fails).
    kill_shared(&server);
    let status = server.lock().unwrap().reap();
    drop(server);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the server died of SIGKILL, not of anything else: {status}");

    let refused: Vec<(usize, u16, &str)> = answers
        .iter()
        .enumerate()
        .filter_map(|(n, a)| match a {
            Answer::Refused(status, body) => Some((n, *status, body.as_str())),
            _ => None,
        })
        .collect();
    assert!(refused.is_empty(), "every answer before the crash was a success: {refused:?}");
    let acked_requests: BTreeMap<usize, Option<&Value>> = answers
        .iter()
        .enumerate()
        .filter_map(|(n, a)| match a {
            Answer::Acked(body) => Some((n, body.as_ref())),
            _ => None,
        })
        .collect();
    let lost = answers.iter().filter(|a| matches!(a, Answer::Lost)).count();
    eprintln!("{backend:?}: {} updates acknowledged before kill -9, {lost} without an answer", acked_requests.len());
    assert!(acked_requests.len() >= KILL_AFTER, "{} acknowledged", acked_requests.len());

    // Restart the real server on the crashed database: it recovers and serves.
    let restarted = Server::start(&url, data_dir.path());
    let client = bounded_client();
    let health = client.get(format!("{}/healthz", restarted.base)).send().await.expect("healthz after restart");
    assert_eq!(health.status(), 200, "the restarted server is healthy");

    // Then read everything through the library.
    let app = library_app(&url, database).await;
    let mut seen: BTreeSet<usize> = BTreeSet::new();
    for (index, &(task_id, _)) in tasks.iter().enumerate() {
        let rows = assert_consistent_trail(&app, task_id).await;
        assert!(rows[0].notes.starts_with("Created"), "task {task_id}: the creation row comes first");
        for (position, row) in rows.iter().enumerate().skip(1) {
            let n: usize = row
                .notes
                .strip_prefix("req-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("task {task_id}: row {} is not one of our updates: {row:?}", row.id));
            assert!(n < UPDATES, "task {task_id}: row {} names no request sent", row.id);
            let (planned_index, value) = planned(n, tasks.len());
            assert_eq!(planned_index, index, "req-{n} landed on its own task");
            assert_eq!(row.new_progress, value, "req-{n} stored its own value");
            assert!(seen.insert(n), "req-{n} left more than one trail row");
            // An acknowledged update sits exactly at the version its answer gave.
            if let Some(Some(body)) = acked_requests.get(&n) {
                assert_eq!(body["new_progress"], value, "req-{n}: {body}");
                assert_eq!(body["version"], position + 1, "req-{n} is stored at the version it was answered with");
            }
        }
        let stored = task(&app, task_id).await;
        let expected_assignment = if stored.status == "IN_PROGRESS" { "in_progress" } else { "assigned" };
        for (user_id, status, _) in assignment_states(&app, task_id).await {
            assert_eq!(status, expected_assignment, "task {task_id}: assignment of user {user_id} matches the task");
        }
    }
    let missing: Vec<&usize> = acked_requests.keys().filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "acknowledged but not stored after kill -9: {missing:?}");
    // Unanswered updates either committed whole (counted in `seen`) or left nothing.
    eprintln!("{backend:?}: {} of the {lost} unanswered updates had committed", seen.len() - acked_requests.len());

    if backend == Backend::Sqlite {
        let check = app.db.read(|c| Ok::<_, DbError>(integrity_check(c)?)).await.expect("integrity_check runs");
        assert_eq!(check, ["ok"], "PRAGMA integrity_check after kill -9");
    }

    // The restarted server serves the recovered state.
    for (e, token) in tokens.iter().enumerate() {
        let api = Api { client: client.clone(), base: restarted.base.clone(), token: token.clone() };
        let (status, body) = api.get_json("/api/employee-tasks/").await;
        assert_eq!(status, 200, "{body}");
        for &(task_id, _) in tasks.iter().filter(|(_, owner)| *owner == e) {
            let listed = body["tasks"].as_array().expect("tasks").iter().find(|t| t["id"] == task_id).expect("listed");
            assert_eq!(listed["progress_percentage"], task(&app, task_id).await.progress, "{}", employees[e].username);
        }
    }
    // The server goes before its database.
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_500_concurrent_updates_loses_no_acknowledged_update_sqlite() {
    kill_9_during_500_concurrent_updates(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_500_concurrent_updates_loses_no_acknowledged_update_postgres() {
    kill_9_during_500_concurrent_updates(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------
// #3: 200 concurrent writers over HTTP on SQLite.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_http_progress_writers_never_see_a_lock_error() {
    // The production durability setting: one fsync per group commit.
    let app = TestApp::try_spawn_with(Backend::Sqlite, |s| s.db.options.synchronous = Synchronous::Full)
        .await
        .expect("SQLite app");
    let seconds: u64 = std::env::var("TASKPULSE_STRESS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let admin = user_in_team(&app, "admin", Role::Admin, None).await;
    // 10 employees with 2 tasks each; 10 writers per task, so they contend.
    let mut targets: Vec<(i64, Api)> = Vec::new();
    for e in 0..10 {
        let employee = user_in_team(&app, &format!("emp{e}"), Role::Employee, Some("Alpha")).await;
        let api = api_at(&app, &app.address, &employee).await;
        for k in 0..2 {
            let task_id = create_task(&app, &admin, TaskSpec::new(&format!("Task {e}.{k}"), &[&employee])).await;
            targets.push((task_id, api.clone()));
        }
    }

    let mut writers = Vec::new();
    for w in 0..200usize {
        let (task_id, api) = targets[w % targets.len()].clone();
        writers.push(tokio::spawn(async move {
            let (mut ok, mut problems) = (0u64, Vec::new());
            let mut i = 0usize;
            while Instant::now() < deadline {
                let value = 1 + ((w * 7 + i) % 99);
                let request = api
                    .post(&progress_path(task_id))
                    .json(&json!({"progress_percentage": value, "notes": format!("w{w}-{i}")}));
                match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.text().await.unwrap_or_default();
                        if status == 200 && !body.contains("database is locked") {
                            ok += 1;
                        } else {
                            problems.push((status, body));
                        }
                    }
                    Err(e) => problems.push((0, format!("no answer: {e}"))),
                }
                // Readers run alongside.
                if i % 5 == 4 {
                    let response = api.get("/api/employee-tasks/").send().await;
                    match response {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let body = r.text().await.unwrap_or_default();
                            if status != 200 || body.contains("database is locked") {
                                problems.push((status, body));
                            }
                        }
                        Err(e) => problems.push((0, format!("no answer: {e}"))),
                    }
                }
                i += 1;
            }
            (ok, problems)
        }));
    }
    let (mut total, mut problems, mut idle_writers) = (0u64, Vec::new(), 0);
    for writer in writers {
        let (ok, writer_problems) = writer.await.expect("writer task");
        total += ok;
        idle_writers += usize::from(ok == 0);
        problems.extend(writer_problems);
    }
    let server_errors = problems.iter().filter(|(status, _)| *status >= 500).count();
    let locked = problems.iter().filter(|(_, body)| body.contains("database is locked")).count();
    assert!(
        problems.is_empty(),
        "{} answers were not 200 ({server_errors} 5xx, {locked} \"database is locked\"); first: {:?}",
        problems.len(),
        problems.first()
    );
    eprintln!("{total} progress updates acknowledged in {seconds} s by 200 writers");
    assert_eq!(idle_writers, 0, "every writer got through at least once");

    // Every acknowledged update is stored once, in an unbroken chain per task.
    let mut stored = 0u64;
    let mut seen = BTreeSet::new();
    for (task_id, _) in &targets {
        let rows = assert_consistent_trail(&app, *task_id).await;
        for row in &rows[1..] {
            assert!(seen.insert(row.notes.clone()), "{} stored twice", row.notes);
        }
        stored += rows.len() as u64 - 1;
    }
    assert_eq!(stored, total, "one trail row per acknowledged update");
}

// ---------------------------------------------------------------------------
// #14: 100 clients submit against the same version.
// ---------------------------------------------------------------------------

both_backends! {
    async fn a_hundred_clients_on_version_7_one_wins_the_rest_get_409_with_the_current_state(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let manager = app.create_user("manager", Role::Manager).await;
        let lead = app.create_user("lead", Role::Lead).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Contended", &[&ann])).await;
        let mut apis = Vec::new();
        for user in [&ann, &lead, &manager, &admin] {
            apis.push((user.id, api_at(&app, &app.address, user).await));
        }
        // Versions 2..=7: six updates.
        for (i, value) in [10, 20, 30, 40, 50, 60].into_iter().enumerate() {
            let (status, body) = apis[0].1.progress(t, json!({"progress_percentage": value})).await;
            assert_eq!((status, &body["version"]), (200, &json!(i + 2)), "{body}");
        }
        assert_eq!(task(&app, t).await.version, 7);
        let before = trail(&app, t).await;
        assert_eq!(before.len(), 7);

        // 100 clients, all based on version 7: half name it in If-Match, half in the body.
        let value_of = |i: usize| 1 + (i % 99) as i64;
        let handles: Vec<_> = (0..100usize)
            .map(|i| {
                let api = &apis[i % apis.len()].1;
                let body = json!({"progress_percentage": value_of(i), "notes": format!("client-{i}")});
                let request = if i % 2 == 0 {
                    api.post(&format!("/api/task/{t}/progress/")).header("If-Match", "\"7\"").json(&body)
                } else {
                    let mut body = body;
                    body["version"] = json!(7);
                    api.post(&format!("/api/task/{t}/progress/")).json(&body)
                };
                tokio::spawn(send(request))
            })
            .collect();
        let mut answers = Vec::with_capacity(handles.len());
        for handle in handles {
            answers.push(handle.await.expect("client task"));
        }

        let winners: Vec<usize> = (0..answers.len()).filter(|i| answers[*i].0 == 200).collect();
        assert_eq!(winners.len(), 1, "exactly one submission against version 7 succeeds: {winners:?}");
        let winner = winners[0];
        assert_eq!(
            answers[winner].1,
            json!({"status": "success", "task_id": t, "new_progress": value_of(winner), "task_status": "IN_PROGRESS", "version": 8})
        );
        let current = json!({"task_id": t, "progress_percentage": value_of(winner), "status": "IN_PROGRESS", "version": 8});
        for (i, answer) in answers.iter().enumerate().filter(|(i, _)| *i != winner) {
            assert_api_error(answer, 409, &format!("client {i}"));
            assert_eq!(answer.1["details"], json!({"current": current}), "client {i} gets the current state");
        }

        // One new trail row: the winner's, replacing version 7's value.
        let rows = assert_consistent_trail(&app, t).await;
        assert_eq!(rows.len(), before.len() + 1, "one trail row per success");
        assert_eq!(rows[..before.len()], before[..], "the earlier trail is untouched");
        let row = rows.last().unwrap();
        assert_eq!(row.notes, format!("client-{winner}"));
        assert_eq!((row.previous_progress, i64::from(row.new_progress)), (60, value_of(winner)));
        assert_eq!(row.user_id, Some(apis[winner % apis.len()].0));
    }
}
