//! Migrations on both backends, SQLite connection settings, and the single
//! writer under heavy concurrency.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use taskpulse::db::{
    Db, DbConn, DbError, DbOptions, MIGRATION_VERSIONS, pending_migrations, revert_all_migrations, run_migrations,
};
use taskpulse::schema::*;
use taskpulse::store::devices::{self, LoginDevice};

use crate::support::*;

fn count_every_table(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    Ok(vec![
        teams::table.count().get_result(conn)?,
        users::table.count().get_result(conn)?,
        skills::table.count().get_result(conn)?,
        user_skills::table.count().get_result(conn)?,
        api_tokens::table.count().get_result(conn)?,
        sessions::table.count().get_result(conn)?,
        login_throttles::table.count().get_result(conn)?,
        projects::table.count().get_result(conn)?,
        tasks::table.count().get_result(conn)?,
        task_skills::table.count().get_result(conn)?,
        assignments::table.count().get_result(conn)?,
        task_progress::table.count().get_result(conn)?,
        notifications::table.count().get_result(conn)?,
        audit_log::table.count().get_result(conn)?,
        idempotency_keys::table.count().get_result(conn)?,
        presence_events::table.count().get_result(conn)?,
        jobs::table.count().get_result(conn)?,
        schedules::table.count().get_result(conn)?,
        schedule_slots::table.count().get_result(conn)?,
        login_devices::table.count().get_result(conn)?,
        org_settings::table.count().get_result(conn)?,
        hourly_rates::table.count().get_result(conn)?,
        time_entries::table.count().get_result(conn)?,
        payroll_periods::table.count().get_result(conn)?,
        payroll_records::table.count().get_result(conn)?,
        outbound_emails::table.count().get_result(conn)?,
        performance_logs::table.count().get_result(conn)?,
        performance_totals::table.count().get_result(conn)?,
        performance_snapshots::table.count().get_result(conn)?,
        performance_milestones::table.count().get_result(conn)?,
        performance_badges::table.count().get_result(conn)?,
        performance_disputes::table.count().get_result(conn)?,
    ])
}

async fn migrations_up_down_up(backend: Backend) {
    let Some((url, _guard)) = fresh_database(backend) else {
        eprintln!("skipped: set {PG_ENV} to run the PostgreSQL suite");
        return;
    };
    let db = Db::connect(&url, &DbOptions::default()).expect("connect");
    tokio::task::spawn_blocking(move || {
        let mut conn = db.blocking_conn().unwrap();
        let applied = run_migrations(&mut conn).unwrap();
        assert_eq!(applied, MIGRATION_VERSIONS.iter().map(std::string::ToString::to_string).collect::<Vec<_>>());
        assert!(pending_migrations(&mut conn).unwrap().is_empty());
        assert!(count_every_table(&mut conn).unwrap().iter().all(|n| *n == 0));
        let reverted = revert_all_migrations(&mut conn).unwrap();
        assert_eq!(reverted.len(), MIGRATION_VERSIONS.len());
        assert!(count_every_table(&mut conn).is_err(), "tables are gone after down");
        assert_eq!(pending_migrations(&mut conn).unwrap().len(), MIGRATION_VERSIONS.len());
        run_migrations(&mut conn).unwrap();
        assert_eq!(count_every_table(&mut conn).unwrap().len(), 32);
        // Column names and types of the newest table match schema.rs.
        let at = taskpulse::db::now();
        let device =
            LoginDevice { token_digest: "d".repeat(64), account: "ann".into(), created_at: at, last_used_at: at };
        devices::insert(&mut conn, &device).unwrap();
        let stored = devices::find(&mut conn, &device.token_digest).unwrap().unwrap();
        assert_eq!((stored.account, stored.created_at, stored.last_used_at), ("ann".to_string(), at, at));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn migrations_run_up_down_and_up_on_sqlite() {
    migrations_up_down_up(Backend::Sqlite).await;
}

#[tokio::test]
async fn migrations_run_up_down_and_up_on_postgres() {
    migrations_up_down_up(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_apply_each_migration_once() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some((url, _guard)) = fresh_database(backend) else { continue };
        let mut handles = Vec::new();
        for _ in 0..3 {
            let url = url.clone();
            handles.push(tokio::task::spawn_blocking(move || {
                let db = Db::connect(&url, &DbOptions::default()).expect("connect");
                let mut conn = db.blocking_conn().unwrap();
                run_migrations(&mut conn).unwrap()
            }));
        }
        let mut applied = Vec::new();
        for handle in handles {
            applied.extend(handle.await.unwrap());
        }
        assert_eq!(applied.len(), MIGRATION_VERSIONS.len(), "{backend:?}: {applied:?}");
    }
}

#[test]
fn both_migration_folders_hold_the_same_versions() {
    let list = |backend: &str| {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let sqlite = list("sqlite");
    assert_eq!(sqlite, list("postgres"));
    let versions: Vec<String> = sqlite.iter().map(|n| n.split('_').next().unwrap().replace('-', "")).collect();
    assert_eq!(versions, MIGRATION_VERSIONS);
    for name in &sqlite {
        for file in ["up.sql", "down.sql"] {
            for backend in ["sqlite", "postgres"] {
                let path = format!("{}/migrations/{backend}/{name}/{file}", env!("CARGO_MANIFEST_DIR"));
                assert!(std::path::Path::new(&path).exists(), "{path}");
            }
        }
    }
}

#[derive(QueryableByName, Debug)]
struct PragmaText {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName, Debug)]
struct PragmaNumber {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn pragmas(conn: &mut DbConn) -> QueryResult<(String, i64, i64, i64)> {
    let DbConn::Sqlite(c) = conn else { panic!("SQLite expected") };
    let journal =
        diesel::sql_query("SELECT journal_mode AS value FROM pragma_journal_mode").get_result::<PragmaText>(c)?.value;
    let synchronous =
        diesel::sql_query("SELECT synchronous AS value FROM pragma_synchronous").get_result::<PragmaNumber>(c)?.value;
    let foreign_keys =
        diesel::sql_query("SELECT foreign_keys AS value FROM pragma_foreign_keys").get_result::<PragmaNumber>(c)?.value;
    let busy =
        diesel::sql_query("SELECT timeout AS value FROM pragma_busy_timeout").get_result::<PragmaNumber>(c)?.value;
    Ok((journal, synchronous, foreign_keys, busy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pragmas_hold_on_every_pooled_connection_and_the_writer() {
    for (setting, expected_sync) in [(taskpulse::db::Synchronous::Full, 2), (taskpulse::db::Synchronous::Normal, 1)] {
        let (url, _guard) = fresh_database(Backend::Sqlite).unwrap();
        let options = DbOptions { pool_size: 6, synchronous: setting };
        let db = Db::connect(&url, &options).unwrap();
        let pool = db.pool().clone();
        let readers = tokio::task::spawn_blocking(move || {
            // Hold every connection at once so each one is checked.
            let mut held: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
            held.iter_mut().map(|c| pragmas(c).unwrap()).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(readers.len(), 6);
        let writer = db.write(|c| Ok::<_, DbError>(pragmas(c)?)).await.unwrap();
        for found in readers.into_iter().chain([writer]) {
            assert_eq!(found, ("wal".to_string(), expected_sync, 1, 5000), "{setting:?}");
        }
    }
}

/// Many concurrent writers through the single writer: none sees "database is
/// locked" (or any error). Runs for TASKPULSE_STRESS_SECS (default 5) seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_writers_never_see_a_lock_error() {
    let app = TestApp::try_spawn(Backend::Sqlite).await.unwrap();
    let seconds: u64 = std::env::var("TASKPULSE_STRESS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let user = app.create_user("stress", taskpulse::domain::role::Role::Employee).await;
    let mut writers = Vec::new();
    for w in 0..200 {
        let db = app.db.clone();
        let user_id = user.id;
        writers.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, Vec::new());
            while std::time::Instant::now() < deadline {
                let result = db
                    .write(move |c| {
                        // A read-modify-write, the pattern that deadlocks with deferred transactions.
                        let n: i64 = audit_log::table.count().get_result(c)?;
                        diesel::insert_into(audit_log::table)
                            .values((
                                audit_log::action.eq("stress"),
                                audit_log::resource_type.eq("test"),
                                audit_log::resource_id.eq(Some(format!("{w}:{n}"))),
                                audit_log::outcome.eq("success"),
                                audit_log::details.eq(""),
                                audit_log::created_at.eq(taskpulse::db::now()),
                            ))
                            .execute(c)?;
                        diesel::update(users::table.find(user_id))
                            .set(users::updated_at.eq(taskpulse::db::now()))
                            .execute(c)?;
                        Ok::<_, DbError>(())
                    })
                    .await;
                match result {
                    Ok(()) => ok += 1,
                    Err(e) => errors.push(e.to_string()),
                }
                // Readers run alongside.
                let _ = db.read(|c| Ok::<_, DbError>(users::table.count().get_result::<i64>(c)?)).await;
            }
            (ok, errors)
        }));
    }
    let (mut total, mut errors) = (0, Vec::new());
    for writer in writers {
        let (ok, errs) = writer.await.unwrap();
        total += ok;
        errors.extend(errs);
    }
    assert!(errors.is_empty(), "{} errors, first: {:?}", errors.len(), errors.first());
    let rows: i64 = app
        .db
        .read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::action.eq("stress")).count().get_result(c)?))
        .await
        .unwrap();
    assert_eq!(rows as u64, total, "every acknowledged write is stored");
    assert!(total >= 200, "every writer got through at least once ({total})");
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::try_spawn(backend).await else { continue };
        let report = taskpulse::services::demo::seed(&app.db, 5, |_| {}).await.unwrap();
        assert_eq!(report.tasks_created, 5);
        app.db
            .write(|c| {
                let task_id: i64 = tasks::table.select(tasks::id).first(c)?;
                taskpulse::store::tasks::append_progress(
                    c,
                    &taskpulse::store::tasks::NewProgress {
                        task_id,
                        user_id: None,
                        previous_progress: 0,
                        new_progress: 10,
                        previous_status: "PENDING".into(),
                        new_status: "IN_PROGRESS".into(),
                        notes: String::new(),
                        occupancy_status: None,
                        created_at: taskpulse::db::now(),
                    },
                )?;
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        let update = app
            .db
            .write(|c| {
                Ok::<_, DbError>(
                    diesel::update(task_progress::table).set(task_progress::notes.eq("rewritten")).execute(c)?,
                )
            })
            .await;
        assert!(update.is_err(), "{backend:?}: update refused");
        let delete = app.db.write(|c| Ok::<_, DbError>(diesel::delete(task_progress::table).execute(c)?)).await;
        assert!(delete.is_err(), "{backend:?}: delete refused");
        app.create_user("auditor", taskpulse::domain::role::Role::Admin).await;
        let audit_update = app
            .db
            .write(|c| Ok::<_, DbError>(diesel::update(audit_log::table).set(audit_log::details.eq("x")).execute(c)?))
            .await;
        assert!(audit_update.is_err(), "{backend:?}: audit rows cannot be rewritten");
    }
}

/// A fresh, migrated SQLite database with the default options
/// (`synchronous=FULL`) and no server, so only the test writes to it.
async fn quiet_sqlite_db() -> (Db, TestDb) {
    let (url, guard) = fresh_database(Backend::Sqlite).unwrap();
    let db = Db::connect(&url, &DbOptions::default()).expect("connect");
    let migrate = db.clone();
    tokio::task::spawn_blocking(move || run_migrations(&mut migrate.blocking_conn().unwrap()).unwrap()).await.unwrap();
    (db, guard)
}

fn insert_team(c: &mut DbConn, name: &str) -> QueryResult<usize> {
    diesel::insert_into(teams::table)
        .values((teams::name.eq(name), teams::created_at.eq(taskpulse::db::now())))
        .execute(c)
}

async fn team_names(db: &Db) -> Vec<String> {
    db.read(|c| Ok::<_, DbError>(teams::table.select(teams::name).order(teams::name).load(c)?)).await.unwrap()
}

/// Holds the writer busy inside a write of its own until [`Gate::open`], so
/// that the writes submitted meanwhile queue up and must run as one group.
struct Gate {
    release: std::sync::mpsc::Sender<()>,
    blocker: tokio::task::JoinHandle<Result<(), DbError>>,
    groups_before: u64,
}

impl Gate {
    async fn close(db: &Db) -> Gate {
        let groups_before = db.writer_stats().unwrap().groups;
        let (started, running) = tokio::sync::oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = db.clone();
        let blocker = tokio::spawn(async move {
            writer
                .write(move |c| {
                    let _ = started.send(());
                    released.recv().unwrap();
                    insert_team(c, "gate")?;
                    Ok::<_, DbError>(())
                })
                .await
        });
        running.await.unwrap();
        Gate { release, blocker, groups_before }
    }

    /// Waits until `n` writes wait behind the gate and opens it. Returns the
    /// writer's group count up to and including the gate's own group.
    async fn open_when_queued(self, db: &Db, n: u64) -> u64 {
        while db.writer_stats().unwrap().queued < n {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(db.writer_stats().unwrap().queued, n);
        self.release.send(()).unwrap();
        self.blocker.await.unwrap().unwrap();
        self.groups_before + 1
    }
}

/// Groups the writer ran since `baseline`; read once every caller was answered.
fn groups_since(db: &Db, baseline: u64) -> u64 {
    db.writer_stats().unwrap().groups - baseline
}

/// Many concurrent writes under `synchronous=FULL` all succeed and are all
/// stored; those that queued while the writer was busy commit as one group
/// (one transaction, one fsync) instead of one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_in_groups() {
    let (db, _guard) = quiet_sqlite_db().await;
    let start = db.writer_stats().unwrap();
    assert_eq!(start, taskpulse::db::WriterStats::default());
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(
                async move { db.write(move |c| Ok::<_, DbError>(insert_team(c, &format!("free-{i:03}"))?)).await },
            )
        })
        .collect();
    for write in writes {
        assert_eq!(write.await.unwrap().unwrap(), 1);
    }
    let stats = db.writer_stats().unwrap();
    assert_eq!(stats.writes, 200);
    assert!(stats.groups >= 1 && stats.groups <= 200, "{stats:?}");
    assert_eq!(stats.queued, 0);
    assert_eq!(team_names(&db).await.len(), 200);

    // Deterministic: 200 writes queue behind a busy writer, then run together.
    let gate = Gate::close(&db).await;
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(
                async move { db.write(move |c| Ok::<_, DbError>(insert_team(c, &format!("held-{i:03}"))?)).await },
            )
        })
        .collect();
    let baseline = gate.open_when_queued(&db, 200).await;
    for write in writes {
        assert_eq!(write.await.unwrap().unwrap(), 1);
    }
    assert_eq!(groups_since(&db, baseline), 1, "the 200 queued writes committed in one group");
    let stats = db.writer_stats().unwrap();
    assert_eq!(stats.writes, 200 + 1 + 200);
    let names = team_names(&db).await;
    assert_eq!(names.len(), 401);
    assert!(names.iter().filter(|n| n.starts_with("held-")).count() == 200);
}

/// In one group, a closure that wrote and then failed is rolled back alone
/// and gets its own error (a constraint violation keeps its kind); the other
/// closures of the group commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_in_a_group_is_rolled_back_alone() {
    let (db, _guard) = quiet_sqlite_db().await;
    db.write(|c| Ok::<_, DbError>(insert_team(c, "taken")?)).await.unwrap();
    let gate = Gate::close(&db).await;
    let write = |f: fn(&mut DbConn) -> Result<usize, DbError>| {
        let db = db.clone();
        tokio::spawn(async move { db.write(f).await })
    };
    let first = write(|c| Ok(insert_team(c, "first")?));
    let failing = write(|c| {
        insert_team(c, "failing")?;
        Err(DbError::Task("failing write says no".into()))
    });
    let duplicate = write(|c| {
        insert_team(c, "half-done")?;
        Ok(insert_team(c, "taken")?)
    });
    let last = write(|c| Ok(insert_team(c, "last")?));
    let baseline = gate.open_when_queued(&db, 4).await;
    assert_eq!(first.await.unwrap().unwrap(), 1);
    match failing.await.unwrap() {
        Err(DbError::Task(message)) => assert_eq!(message, "failing write says no"),
        other => panic!("expected the closure's own error, got {other:?}"),
    }
    match duplicate.await.unwrap() {
        Err(DbError::Query(e)) => assert!(taskpulse::db::is_unique_violation(&e), "{e:?}"),
        other => panic!("expected a unique violation, got {other:?}"),
    }
    assert_eq!(last.await.unwrap().unwrap(), 1);
    assert_eq!(groups_since(&db, baseline), 1, "all four ran in one group");
    assert_eq!(team_names(&db).await, ["first", "gate", "last", "taken"]);
}

/// A closure that panics in a group is rolled back alone, its caller gets an
/// error, the rest of the group commits, and the writer keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_write_in_a_group_is_rolled_back_alone() {
    let (db, _guard) = quiet_sqlite_db().await;
    let gate = Gate::close(&db).await;
    let before = {
        let db = db.clone();
        tokio::spawn(async move { db.write(|c| Ok::<_, DbError>(insert_team(c, "before")?)).await })
    };
    let panicking = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(|c| {
                insert_team(c, "panicked")?;
                // Inside a nested transaction of its own, left open by the panic.
                c.transaction::<(), DbError, _>(|c| {
                    insert_team(c, "panicked-nested")?;
                    panic!("a write closure panics");
                })
            })
            .await
        })
    };
    let after = {
        let db = db.clone();
        tokio::spawn(async move { db.write(|c| Ok::<_, DbError>(insert_team(c, "after")?)).await })
    };
    let baseline = gate.open_when_queued(&db, 3).await;
    assert_eq!(before.await.unwrap().unwrap(), 1);
    match panicking.await.unwrap() {
        Err(DbError::Task(message)) => assert!(message.contains("panicked"), "{message}"),
        other => panic!("expected an error for the panicking write, got {other:?}"),
    }
    assert_eq!(after.await.unwrap().unwrap(), 1);
    assert_eq!(groups_since(&db, baseline), 1, "all three ran in one group");
    db.write(|c| Ok::<_, DbError>(insert_team(c, "later")?)).await.unwrap();
    assert_eq!(team_names(&db).await, ["after", "before", "gate", "later"]);
}

/// When the group's COMMIT fails, nothing of the group is stored and every
/// caller gets an error, even those whose closure succeeded; the writer's
/// connection stays usable. (A deferred foreign key is only checked at
/// COMMIT, which makes the commit itself fail.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_commit_answers_every_caller_with_an_error() {
    let (db, _guard) = quiet_sqlite_db().await;
    let gate = Gate::close(&db).await;
    let innocent = {
        let db = db.clone();
        tokio::spawn(async move { db.write(|c| Ok::<_, DbError>(insert_team(c, "innocent")?)).await })
    };
    let dangling = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(|c| {
                let DbConn::Sqlite(sqlite) = c else { panic!("SQLite expected") };
                diesel::sql_query("PRAGMA defer_foreign_keys = ON").execute(sqlite)?;
                diesel::insert_into(user_skills::table)
                    .values((user_skills::user_id.eq(4242), user_skills::skill_id.eq(4242), user_skills::level.eq(1)))
                    .execute(c)?;
                Ok::<_, DbError>(())
            })
            .await
        })
    };
    // The gate's own group committed before; this group's COMMIT fails.
    let baseline = gate.open_when_queued(&db, 2).await;
    for result in [innocent.await.unwrap().map(|_| ()), dangling.await.unwrap()] {
        match result {
            Err(DbError::Query(diesel::result::Error::DatabaseError(kind, _))) => {
                assert!(matches!(kind, diesel::result::DatabaseErrorKind::ForeignKeyViolation), "{kind:?}");
            }
            other => panic!("expected the commit's foreign key error, got {other:?}"),
        }
    }
    assert_eq!(groups_since(&db, baseline), 1, "both ran in one group");
    assert_eq!(team_names(&db).await, ["gate"]);
    db.write(|c| Ok::<_, DbError>(insert_team(c, "later")?)).await.unwrap();
    assert_eq!(team_names(&db).await, ["gate", "later"]);
}

/// A write alone is a group of one: it is answered without waiting for
/// company (no timing asserted, only that it completes on its own).
#[tokio::test]
async fn a_lone_write_is_committed_on_its_own() {
    let (db, _guard) = quiet_sqlite_db().await;
    db.write(|c| Ok::<_, DbError>(insert_team(c, "alone")?)).await.unwrap();
    let stats = db.writer_stats().unwrap();
    assert_eq!((stats.groups, stats.writes, stats.queued), (1, 1, 0));
    assert_eq!(team_names(&db).await, ["alone"]);
}

#[tokio::test]
async fn postgres_has_no_single_writer() {
    let Some((url, _guard)) = fresh_database(Backend::Postgres) else { return };
    let db = Db::connect(&url, &DbOptions::default()).expect("connect");
    assert!(db.writer_stats().is_none());
    assert_eq!(DbOptions::default().synchronous, taskpulse::db::Synchronous::Full, "FULL stays the default");
}
