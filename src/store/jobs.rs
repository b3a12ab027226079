//! The job queue: enqueue (unique while active), claim
//! under a lease (PostgreSQL skips rows other workers hold), record results,
//! and prune. Schedules are in `schedules.rs`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::per_backend;
use crate::schema::{jobs, schedule_slots};

/// A stored job.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// What runs (a registered handler).
    pub kind: String,
    /// Arguments (JSON).
    pub payload: String,
    /// pending | running | retrying | succeeded | dead.
    pub state: String,
    /// Attempts started so far.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// When it may run (next).
    pub run_at: NaiveDateTime,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// When that worker's claim runs out.
    pub lease_expires_at: Option<NaiveDateTime>,
    /// Result summary (JSON) once succeeded.
    pub result: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Keeps a second identical job out while this one is active.
    pub unique_key: Option<String>,
    /// Enqueued at.
    pub created_at: NaiveDateTime,
    /// Last attempt started at.
    pub started_at: Option<NaiveDateTime>,
    /// Finished (succeeded or dead) at.
    pub finished_at: Option<NaiveDateTime>,
}

/// A job to enqueue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    /// Handler name.
    pub kind: String,
    /// Arguments (JSON).
    pub payload: String,
    /// Always "pending".
    pub state: String,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Earliest run time.
    pub run_at: NaiveDateTime,
    /// Uniqueness while active.
    pub unique_key: Option<String>,
    /// Enqueued at.
    pub created_at: NaiveDateTime,
}

/// Inserts a job; `None` when an active job holds the same unique key. Runs
/// inside the caller's transaction, so the job exists only if the change
/// that caused it commits.
pub fn enqueue(conn: &mut DbConn, job: &NewJob) -> QueryResult<Option<i64>> {
    per_backend!(conn, c => diesel::insert_into(jobs::table)
        .values(job)
        .on_conflict_do_nothing()
        .returning(jobs::id)
        .get_result::<i64>(c)
        .optional())
}

/// Inserts a job already claimed by `owner` (state running, first attempt
/// started, lease until `lease_until`), for an engine that runs it at once;
/// `None` when an active job holds the same unique key.
pub fn enqueue_claimed(
    conn: &mut DbConn,
    job: &NewJob,
    owner: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<Job>> {
    let Some(id) = enqueue(conn, job)? else { return Ok(None) };
    per_backend!(conn, c => diesel::update(jobs::table.filter(jobs::id.eq(id)))
        .set((
            jobs::state.eq("running"),
            jobs::attempt.eq(jobs::attempt + 1),
            jobs::lease_owner.eq(owner),
            jobs::lease_expires_at.eq(lease_until),
            jobs::started_at.eq(job.created_at),
        ))
        .returning(Job::as_returning())
        .get_result(c)
        .map(Some))
}

/// Up to `limit` (run time, id) of jobs matching a filter, oldest first. On
/// PostgreSQL the rows are locked, skipping those other workers hold; the
/// single writer serialises claims on SQLite.
macro_rules! candidates {
    ($conn:expr, $filter:expr, $limit:expr) => {
        match $conn {
            DbConn::Pg(c) => jobs::table
                .filter($filter)
                .order((jobs::run_at.asc(), jobs::id.asc()))
                .limit($limit)
                .select((jobs::run_at, jobs::id))
                .for_update()
                .skip_locked()
                .load::<(NaiveDateTime, i64)>(c)?,
            DbConn::Sqlite(c) => jobs::table
                .filter($filter)
                .order((jobs::run_at.asc(), jobs::id.asc()))
                .limit($limit)
                .select((jobs::run_at, jobs::id))
                .load::<(NaiveDateTime, i64)>(c)?,
        }
    };
}

/// Claims up to `limit` due jobs for `owner` until `lease_until`: waiting
/// jobs whose time has come, and running jobs whose lease ran out (their
/// worker died). Each claim starts an attempt.
pub fn claim(
    conn: &mut DbConn,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    // One query per kind of due job, each answered in order straight from
    // the (state, run_at) index; an OR across them made every claim sort all
    // due rows (SQLite's plan: MULTI-INDEX OR + TEMP B-TREE FOR ORDER BY).
    let mut due: Vec<(NaiveDateTime, i64)> = Vec::new();
    due.extend(candidates!(&mut *conn, jobs::state.eq("running").and(jobs::lease_expires_at.lt(now)), limit));
    for state in ["pending", "retrying"] {
        due.extend(candidates!(&mut *conn, jobs::state.eq(state).and(jobs::run_at.le(now)), limit));
    }
    due.sort_unstable();
    due.truncate(usize::try_from(limit).unwrap_or(0));
    let ids: Vec<i64> = due.into_iter().map(|(_, id)| id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    per_backend!(conn, c => diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
        .set((
            jobs::state.eq("running"),
            jobs::attempt.eq(jobs::attempt + 1),
            jobs::lease_owner.eq(owner),
            jobs::lease_expires_at.eq(lease_until),
            jobs::started_at.eq(now),
        ))
        .returning(Job::as_returning())
        .get_results(c))
}

/// A job still held by `owner` (its lease not taken over).
type Held = diesel::dsl::Filter<
    diesel::dsl::Filter<jobs::table, diesel::dsl::Eq<jobs::id, i64>>,
    diesel::dsl::And<diesel::dsl::Eq<jobs::state, &'static str>, diesel::dsl::Eq<jobs::lease_owner, String>>,
>;

fn held(id: i64, owner: &str) -> Held {
    jobs::table.filter(jobs::id.eq(id)).filter(jobs::state.eq("running").and(jobs::lease_owner.eq(owner.to_string())))
}

/// Records success; false when the lease was lost meanwhile.
pub fn succeed(conn: &mut DbConn, id: i64, owner: &str, result: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let rows = diesel::update(held(id, owner))
        .set((
            jobs::state.eq("succeeded"),
            jobs::result.eq(Some(result)),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::finished_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(rows == 1)
}

/// Records a failure: retried at `retry_at`, or dead when `None`.
pub fn fail(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let (state, finished) = match retry_at {
        Some(_) => ("retrying", None),
        None => ("dead", Some(now)),
    };
    let rows = diesel::update(held(id, owner))
        .set((
            jobs::state.eq(state),
            jobs::last_error.eq(Some(error)),
            jobs::run_at.eq(retry_at.unwrap_or(now)),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::finished_at.eq(finished),
        ))
        .execute(conn)?;
    Ok(rows == 1)
}

/// Records a batch of successes, given as (id, result JSON), in the
/// caller's transaction: one UPDATE per distinct result (trivial jobs share
/// theirs), each guarded by the lease like [`succeed`]. Returns the ids whose
/// lease was still held (the others were taken over and are left alone).
pub fn succeed_many(
    conn: &mut DbConn,
    owner: &str,
    done: &[(i64, String)],
    now: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    let mut by_result: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
    for (id, result) in done {
        by_result.entry(result.as_str()).or_default().push(*id);
    }
    let mut kept = Vec::with_capacity(done.len());
    for (result, ids) in by_result {
        for chunk in ids.chunks(500) {
            let rows = per_backend!(conn, c => diesel::update(
                jobs::table
                    .filter(jobs::id.eq_any(chunk))
                    .filter(jobs::state.eq("running"))
                    .filter(jobs::lease_owner.eq(owner)),
            )
            .set((
                jobs::state.eq("succeeded"),
                jobs::result.eq(Some(result)),
                jobs::lease_owner.eq(None::<String>),
                jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                jobs::finished_at.eq(Some(now)),
            ))
            .returning(jobs::id)
            .get_results::<i64>(c))?;
            kept.extend(rows);
        }
    }
    Ok(kept)
}

/// Extends the leases of several running jobs `owner` holds; returns how
/// many were still held.
pub fn renew_many(conn: &mut DbConn, ids: &[i64], owner: &str, until: NaiveDateTime) -> QueryResult<usize> {
    let mut renewed = 0;
    for chunk in ids.chunks(500) {
        renewed += diesel::update(
            jobs::table
                .filter(jobs::id.eq_any(chunk))
                .filter(jobs::state.eq("running"))
                .filter(jobs::lease_owner.eq(owner)),
        )
        .set(jobs::lease_expires_at.eq(Some(until)))
        .execute(conn)?;
    }
    Ok(renewed)
}

/// When the next job becomes claimable: the earliest run time of a waiting
/// job, or the earliest lease expiry of a running one (its worker may have
/// died). Idle workers sleep until then instead of a whole poll interval.
pub fn next_due(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    let mut next: Option<NaiveDateTime> = None;
    for state in ["pending", "retrying"] {
        let at = jobs::table
            .filter(jobs::state.eq(state))
            .select(jobs::run_at)
            .order(jobs::run_at.asc())
            .first::<NaiveDateTime>(conn)
            .optional()?;
        next = next.into_iter().chain(at).min();
    }
    let expiry = jobs::table
        .filter(jobs::state.eq("running"))
        .select(diesel::dsl::min(jobs::lease_expires_at))
        .first::<Option<NaiveDateTime>>(conn)?;
    Ok(next.into_iter().chain(expiry).min())
}

/// Extends a running job's lease.
pub fn renew(conn: &mut DbConn, id: i64, owner: &str, until: NaiveDateTime) -> QueryResult<bool> {
    Ok(diesel::update(held(id, owner)).set(jobs::lease_expires_at.eq(Some(until))).execute(conn)? == 1)
}

/// Hands a worker's unfinished jobs back (graceful shutdown) without using
/// up the attempt they had started.
pub fn release(conn: &mut DbConn, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(jobs::table.filter(jobs::state.eq("running")).filter(jobs::lease_owner.eq(owner)))
        .set((
            jobs::state.eq("pending"),
            jobs::attempt.eq(jobs::attempt - 1),
            jobs::run_at.eq(now),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Puts a dead job back in the queue with fresh attempts.
pub fn retry_dead(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let rows = diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(jobs::state.eq("dead")))
        .set((
            jobs::state.eq("pending"),
            jobs::attempt.eq(0),
            jobs::run_at.eq(now),
            jobs::finished_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(rows == 1)
}

/// Finds a job.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Job>> {
    jobs::table.find(id).select(Job::as_select()).first(conn).optional()
}

/// The latest jobs, newest first.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Job>> {
    jobs::table.order(jobs::id.desc()).limit(limit).select(Job::as_select()).load(conn)
}

/// Jobs per state.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table.group_by(jobs::state).select((jobs::state, diesel::dsl::count_star())).load(conn)
}

/// Deletes finished jobs: succeeded ones finished before `succeeded_before`,
/// dead ones before `dead_before` (kept longer, for inspection). Jobs that
/// still hold a unique key's window (active ones) are never touched.
pub fn prune(conn: &mut DbConn, succeeded_before: NaiveDateTime, dead_before: NaiveDateTime) -> QueryResult<usize> {
    let old = jobs::state
        .eq("succeeded")
        .and(jobs::finished_at.lt(succeeded_before))
        .or(jobs::state.eq("dead").and(jobs::finished_at.lt(dead_before)));
    let ids: Vec<i64> = jobs::table.filter(old).select(jobs::id).load(conn)?;
    diesel::update(schedule_slots::table.filter(schedule_slots::job_id.eq_any(&ids)))
        .set(schedule_slots::job_id.eq(None::<i64>))
        .execute(conn)?;
    diesel::delete(jobs::table.filter(jobs::id.eq_any(&ids))).execute(conn)
}
