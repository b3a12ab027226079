//! Time entries: hours worked on tasks, and the assignment totals they feed.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{assignments, tasks, time_entries};

/// A stored time entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = time_entries)]
pub struct TimeEntry {
    /// Primary key.
    pub id: i64,
    /// Who worked.
    pub user_id: i64,
    /// On which task.
    pub task_id: i64,
    /// The day worked.
    pub work_date: NaiveDate,
    /// Whole minutes.
    pub minutes: i32,
    /// What was done.
    pub note: String,
    /// Logged at.
    pub created_at: NaiveDateTime,
    /// Last changed at.
    pub updated_at: NaiveDateTime,
}

/// A new entry.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = time_entries)]
pub struct NewTimeEntry {
    /// Who worked.
    pub user_id: i64,
    /// On which task.
    pub task_id: i64,
    /// The day worked.
    pub work_date: NaiveDate,
    /// Whole minutes.
    pub minutes: i32,
    /// What was done.
    pub note: String,
    /// Now.
    pub created_at: NaiveDateTime,
    /// Now.
    pub updated_at: NaiveDateTime,
}

/// An entry with its task's title, for listings.
#[derive(Debug, Clone)]
pub struct EntryListing {
    /// The entry.
    pub entry: TimeEntry,
    /// Its task's title.
    pub task_title: String,
}

/// Adds an entry; returns its id.
pub fn insert(conn: &mut DbConn, new: &NewTimeEntry) -> QueryResult<i64> {
    diesel::insert_into(time_entries::table).values(new).returning(time_entries::id).get_result(conn)
}

/// An entry by id.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<TimeEntry>> {
    time_entries::table.find(id).select(TimeEntry::as_select()).first(conn).optional()
}

/// Changes an entry's day, minutes and note.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    work_date: NaiveDate,
    minutes: i32,
    note: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(time_entries::table.find(id))
        .set((
            time_entries::work_date.eq(work_date),
            time_entries::minutes.eq(minutes),
            time_entries::note.eq(note),
            time_entries::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Removes an entry.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(time_entries::table.find(id)).execute(conn)
}

/// Locks a user's entries until the end of the transaction (PostgreSQL,
/// FOR NO KEY UPDATE: rows that merely reference the user are not blocked;
/// SQLite has one writer), so two entries at once cannot both pass the
/// 24-hours-a-day check.
pub fn lock_user(conn: &mut DbConn, user_id: i64) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        crate::schema::users::table
            .find(user_id)
            .select(crate::schema::users::id)
            .for_no_key_update()
            .first::<i64>(c)?;
    }
    Ok(())
}

/// Minutes a user logged on a day, leaving out one entry (being edited).
pub fn day_minutes(conn: &mut DbConn, user_id: i64, day: NaiveDate, except: Option<i64>) -> QueryResult<i64> {
    let minutes: Vec<i32> = time_entries::table
        .filter(time_entries::user_id.eq(user_id))
        .filter(time_entries::work_date.eq(day))
        .filter(time_entries::id.ne(except.unwrap_or(-1)))
        .select(time_entries::minutes)
        .load(conn)?;
    Ok(minutes.into_iter().map(i64::from).sum())
}

/// Sets an assignment's actual hours to the sum of its user's entries on
/// its task.
pub fn refresh_actual_hours(conn: &mut DbConn, task_id: i64, user_id: i64) -> QueryResult<usize> {
    let minutes: Vec<i32> = time_entries::table
        .filter(time_entries::task_id.eq(task_id))
        .filter(time_entries::user_id.eq(user_id))
        .select(time_entries::minutes)
        .load(conn)?;
    let hours = minutes.into_iter().map(f64::from).sum::<f64>() / 60.0;
    diesel::update(assignments::table.filter(assignments::task_id.eq(task_id)).filter(assignments::user_id.eq(user_id)))
        .set(assignments::actual_hours.eq(hours))
        .execute(conn)
}

/// Entries on a task, newest day first; only `user_id`'s when given.
pub fn for_task(conn: &mut DbConn, task_id: i64, user_id: Option<i64>) -> QueryResult<Vec<TimeEntry>> {
    let mut query = time_entries::table.filter(time_entries::task_id.eq(task_id)).into_boxed();
    if let Some(user) = user_id {
        query = query.filter(time_entries::user_id.eq(user));
    }
    query.order((time_entries::work_date.desc(), time_entries::id.desc())).select(TimeEntry::as_select()).load(conn)
}

/// A user's entries between two days (inclusive), by day.
pub fn for_user(conn: &mut DbConn, user_id: i64, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<EntryListing>> {
    let rows: Vec<(TimeEntry, String)> = time_entries::table
        .inner_join(tasks::table)
        .filter(time_entries::user_id.eq(user_id))
        .filter(time_entries::work_date.between(from, to))
        .order((time_entries::work_date.asc(), time_entries::id.asc()))
        .select((TimeEntry::as_select(), tasks::title))
        .load(conn)?;
    Ok(rows.into_iter().map(|(entry, task_title)| EntryListing { entry, task_title }).collect())
}

/// Every entry between two days (inclusive): (user, day, minutes).
pub fn minutes_between(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<(i64, NaiveDate, i64)>> {
    let rows: Vec<(i64, NaiveDate, i32)> = time_entries::table
        .filter(time_entries::work_date.between(from, to))
        .select((time_entries::user_id, time_entries::work_date, time_entries::minutes))
        .load(conn)?;
    Ok(rows.into_iter().map(|(u, d, m)| (u, d, i64::from(m))).collect())
}
