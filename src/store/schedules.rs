//! The schedules and their (schedule, slot) rows, which make each slot run
//! once across instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::per_backend;
use crate::schema::{schedule_slots, schedules};

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules)]
pub struct Schedule {
    /// Name (also the job name on the CLI and the Jobs page).
    pub name: String,
    /// The handler it enqueues.
    pub job_kind: String,
    /// Cron expression (5 fields).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// Paused when false.
    pub enabled: bool,
    /// After downtime: "once" runs the latest missed slot, "skip" drops it.
    pub catch_up: String,
    /// The latest slot handled (UTC).
    pub last_slot: Option<NaiveDateTime>,
    /// Last edit.
    pub updated_at: NaiveDateTime,
}

/// Every schedule, by name.
pub fn schedules(conn: &mut DbConn) -> QueryResult<Vec<Schedule>> {
    schedules::table.order(schedules::name.asc()).select(Schedule::as_select()).load(conn)
}

/// One schedule.
pub fn schedule(conn: &mut DbConn, name: &str) -> QueryResult<Option<Schedule>> {
    schedules::table.find(name).select(Schedule::as_select()).first(conn).optional()
}

/// Adds a schedule unless one with this name exists (defaults at start-up).
pub fn ensure_schedule(conn: &mut DbConn, schedule: &Schedule) -> QueryResult<usize> {
    per_backend!(conn, c => diesel::insert_into(schedules::table).values(schedule).on_conflict_do_nothing().execute(c))
}

/// Saves an edited schedule (cron, zone, enabled, catch-up).
pub fn update_schedule(conn: &mut DbConn, schedule: &Schedule) -> QueryResult<usize> {
    diesel::update(schedules::table.find(&schedule.name))
        .set((
            schedules::cron.eq(&schedule.cron),
            schedules::timezone.eq(&schedule.timezone),
            schedules::enabled.eq(schedule.enabled),
            schedules::catch_up.eq(&schedule.catch_up),
            schedules::updated_at.eq(schedule.updated_at),
        ))
        .execute(conn)
}

/// Moves a schedule's handled mark forward (never back).
pub fn advance_schedule(conn: &mut DbConn, name: &str, slot: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        schedules::table
            .filter(schedules::name.eq(name))
            .filter(schedules::last_slot.is_null().or(schedules::last_slot.lt(slot))),
    )
    .set(schedules::last_slot.eq(Some(slot)))
    .execute(conn)
}

/// Claims a slot of a schedule; false when it was claimed already (by this
/// or another instance).
pub fn claim_slot(conn: &mut DbConn, name: &str, slot: NaiveDateTime, now: NaiveDateTime) -> QueryResult<bool> {
    let rows = per_backend!(conn, c => diesel::insert_into(schedule_slots::table)
        .values((
            schedule_slots::schedule_name.eq(name),
            schedule_slots::slot.eq(slot),
            schedule_slots::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(rows == 1)
}

/// Links a claimed slot to the job it enqueued.
pub fn link_slot(conn: &mut DbConn, name: &str, slot: NaiveDateTime, job_id: i64) -> QueryResult<usize> {
    diesel::update(schedule_slots::table.find((name, slot))).set(schedule_slots::job_id.eq(Some(job_id))).execute(conn)
}

/// Slots of a schedule, oldest first (tests and the Jobs page).
pub fn slots(conn: &mut DbConn, name: &str) -> QueryResult<Vec<(NaiveDateTime, Option<i64>)>> {
    schedule_slots::table
        .filter(schedule_slots::schedule_name.eq(name))
        .order(schedule_slots::slot.asc())
        .select((schedule_slots::slot, schedule_slots::job_id))
        .load(conn)
}

/// When each schedule last started a job: its latest slot that has one.
pub fn last_runs(conn: &mut DbConn) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
    per_backend!(conn, c => schedule_slots::table
        .filter(schedule_slots::job_id.is_not_null())
        .group_by(schedule_slots::schedule_name)
        .select((schedule_slots::schedule_name, diesel::dsl::max(schedule_slots::slot)))
        .load(c))
}
