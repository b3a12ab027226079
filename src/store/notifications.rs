//! In-app notifications.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::domain::task::{Priority, TaskStatus};
use crate::schema::{assignments, notifications, projects, tasks, users};

/// A notification to add.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct NewNotification {
    /// Recipient.
    pub user_id: i64,
    /// What kind (e.g. "overdue").
    pub kind: String,
    /// One line.
    pub title: String,
    /// More text.
    pub body: String,
    /// The task it is about.
    pub task_id: Option<i64>,
    /// When.
    pub created_at: NaiveDateTime,
}

/// Adds a notification unless the recipient already has one of this kind
/// about this task (and, for notes about no task, with this title) since
/// `since`, so a job run twice sends it once. Returns whether it was added.
pub fn add_once(conn: &mut DbConn, new: &NewNotification, since: NaiveDateTime) -> QueryResult<bool> {
    let mut same = notifications::table
        .filter(notifications::user_id.eq(new.user_id))
        .filter(notifications::kind.eq(&new.kind))
        .filter(notifications::created_at.ge(since))
        .into_boxed();
    same = match new.task_id {
        Some(task) => same.filter(notifications::task_id.eq(task)),
        None => same.filter(notifications::task_id.is_null()).filter(notifications::title.eq(new.title.clone())),
    };
    let exists = same.select(notifications::id).first::<i64>(conn).optional()?.is_some();
    if exists {
        return Ok(false);
    }
    diesel::insert_into(notifications::table).values(new).execute(conn)?;
    Ok(true)
}

/// A user's notifications of one kind, newest first: (title, task).
pub fn of_kind(conn: &mut DbConn, user_id: i64, kind: &str) -> QueryResult<Vec<(String, Option<i64>)>> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::kind.eq(kind))
        .order(notifications::id.desc())
        .select((notifications::title, notifications::task_id))
        .load(conn)
}

/// An open task past due and one of its assignees.
#[derive(Debug, Clone, Queryable)]
pub struct OverdueAssignment {
    /// Task.
    pub task_id: i64,
    /// Its title.
    pub title: String,
    /// An assignee.
    pub user_id: i64,
    /// Their team.
    pub team_id: Option<i64>,
}

/// Open tasks past due at `now`, one row per assignee.
pub fn overdue_tasks(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<OverdueAssignment>> {
    tasks::table
        .inner_join(assignments::table.inner_join(users::table))
        .filter(tasks::due_at.lt(now))
        .filter(tasks::status.ne_all(["DONE", "CANCELLED"]))
        .select((tasks::id, tasks::title, users::id, users::team_id))
        .order((tasks::id.asc(), users::id.asc()))
        .load(conn)
}

/// The active leads of a team.
pub fn team_leads(conn: &mut DbConn, team_id: i64) -> QueryResult<Vec<i64>> {
    users::table
        .filter(users::team_id.eq(team_id))
        .filter(users::role.eq("lead"))
        .filter(users::is_active.eq(true))
        .select(users::id)
        .load(conn)
}

/// A notification as listed.
#[derive(Debug, Clone, Queryable)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// One line.
    pub title: String,
    /// More text.
    pub body: String,
    /// The task it is about.
    pub task_id: Option<i64>,
    /// Read at.
    pub read_at: Option<NaiveDateTime>,
    /// Created at.
    pub created_at: NaiveDateTime,
}

/// A user's unread, unarchived notifications.
pub fn unread_count(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .filter(notifications::archived_at.is_null())
        .count()
        .get_result(conn)
}

/// A user's latest unarchived notifications, newest first.
pub fn list(conn: &mut DbConn, user_id: i64, limit: i64) -> QueryResult<Vec<Notification>> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::archived_at.is_null())
        .order(notifications::id.desc())
        .limit(limit)
        .select((
            notifications::id,
            notifications::kind,
            notifications::title,
            notifications::body,
            notifications::task_id,
            notifications::read_at,
            notifications::created_at,
        ))
        .load(conn)
}

/// Marks one of a user's notifications read (another user's: nothing).
pub fn mark_read(conn: &mut DbConn, user_id: i64, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(conn)
}

/// Marks the chosen ones of a user's notifications read (others' ids
/// change nothing); returns how many were unread.
pub fn mark_some_read(conn: &mut DbConn, user_id: i64, ids: &[i64], now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(conn)
}

/// Marks all of a user's notifications read.
pub fn mark_all_read(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        notifications::table.filter(notifications::user_id.eq(user_id)).filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(conn)
}

/// Whether a notification exists and belongs to the user.
pub fn belongs_to(conn: &mut DbConn, user_id: i64, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        notifications::table.filter(notifications::id.eq(id)).filter(notifications::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// A project and how many HIGH/URGENT tasks it has open.
#[derive(Debug, Clone)]
pub struct BusyProject {
    /// Project.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its manager.
    pub manager_id: Option<i64>,
    /// Open HIGH/URGENT tasks.
    pub open: i64,
}

/// Projects with at least `threshold` open HIGH/URGENT tasks.
pub fn busy_projects(conn: &mut DbConn, threshold: i64) -> QueryResult<Vec<BusyProject>> {
    let rows: Vec<(i64, String, Option<i64>)> = projects::table
        .inner_join(tasks::table)
        .filter(tasks::priority.eq_any([Priority::High.as_str(), Priority::Urgent.as_str()]))
        .filter(tasks::status.ne_all(["DONE", "CANCELLED"]))
        .select((projects::id, projects::name, projects::manager_id))
        .order(projects::id.asc())
        .load(conn)?;
    let mut out: Vec<BusyProject> = Vec::new();
    for (id, name, manager_id) in rows {
        match out.last_mut() {
            Some(last) if last.id == id => last.open += 1,
            _ => out.push(BusyProject { id, name, manager_id, open: 1 }),
        }
    }
    out.retain(|p| p.open >= threshold);
    Ok(out)
}

/// Active admins.
pub fn admins(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    users::table.filter(users::role.eq("admin")).filter(users::is_active.eq(true)).select(users::id).load(conn)
}

/// IN_PROGRESS tasks not updated since `since`, one row per assignee:
/// (task id, title, assignee).
pub fn stale_in_progress(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<(i64, String, i64)>> {
    tasks::table
        .inner_join(assignments::table)
        .filter(tasks::status.eq(TaskStatus::InProgress.as_str()))
        .filter(tasks::last_progress_update_at.is_null().or(tasks::last_progress_update_at.lt(since)))
        .select((tasks::id, tasks::title, assignments::user_id))
        .order((tasks::id.asc(), assignments::user_id.asc()))
        .load(conn)
}

/// Archives read notifications read before `before`; returns how many.
pub fn archive_read(conn: &mut DbConn, before: NaiveDateTime, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        notifications::table.filter(notifications::archived_at.is_null()).filter(notifications::read_at.lt(before)),
    )
    .set(notifications::archived_at.eq(Some(now)))
    .execute(conn)
}
