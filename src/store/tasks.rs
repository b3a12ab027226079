//! Tasks, their assignments and their append-only progress trail.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::fixed_update;
use crate::db::DbConn;
use crate::schema::{assignments, projects, task_progress, task_skills, tasks, users};

/// Fields of a new task.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Project.
    pub project_id: Option<i64>,
    /// LOW | MEDIUM | HIGH | URGENT.
    pub priority: String,
    /// PENDING | IN_PROGRESS | ON_HOLD | DONE | CANCELLED.
    pub status: String,
    /// 0–100.
    pub progress: i32,
    /// 1–10.
    pub difficulty: i32,
    /// Estimate in hours.
    pub estimated_hours: f64,
    /// Due time (UTC).
    pub due_at: Option<NaiveDateTime>,
    /// Completion time for DONE tasks.
    pub completed_at: Option<NaiveDateTime>,
    /// Creator.
    pub created_by: Option<i64>,
    /// Last progress change.
    pub last_progress_update_at: Option<NaiveDateTime>,
    /// Who made it.
    pub last_progress_updated_by: Option<i64>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// Fields of a new assignment.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = assignments)]
pub struct NewAssignment {
    /// Task.
    pub task_id: i64,
    /// Assignee.
    pub user_id: i64,
    /// assigned | in_progress | completed | on_hold.
    pub status: String,
    /// manual | auto | round_robin | rebalance.
    pub source: String,
    /// Estimate for this assignee.
    pub estimated_hours: f64,
    /// Hours logged.
    pub actual_hours: f64,
    /// Skill match 0–1 when assigned.
    pub skill_match: Option<f64>,
    /// Who assigned.
    pub assigned_by: Option<i64>,
    /// When.
    pub assigned_at: NaiveDateTime,
    /// Completion time.
    pub completed_at: Option<NaiveDateTime>,
}

/// A trail row: one change of progress, status or assignment.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = task_progress)]
pub struct NewProgress {
    /// Task.
    pub task_id: i64,
    /// Who changed it.
    pub user_id: Option<i64>,
    /// Progress before.
    pub previous_progress: i32,
    /// Progress after.
    pub new_progress: i32,
    /// Status before.
    pub previous_status: String,
    /// Status after.
    pub new_status: String,
    /// Notes.
    pub notes: String,
    /// ACTIVE | IDLE | OFFLINE at the time.
    pub occupancy_status: Option<String>,
    /// When.
    pub created_at: NaiveDateTime,
}

/// A task row for listings.
#[derive(Debug, Clone, Queryable)]
pub struct TaskSummary {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Project name.
    pub project: Option<String>,
    /// Priority.
    pub priority: String,
    /// Status.
    pub status: String,
    /// Progress 0–100.
    pub progress: i32,
    /// Due time.
    pub due_at: Option<NaiveDateTime>,
}

/// A stored task.
#[derive(Debug, Clone, Queryable)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Project.
    pub project_id: Option<i64>,
    /// Priority.
    pub priority: String,
    /// Status.
    pub status: String,
    /// Progress 0–100.
    pub progress: i32,
    /// Difficulty 1–10.
    pub difficulty: i32,
    /// Estimate in hours.
    pub estimated_hours: f64,
    /// Due time.
    pub due_at: Option<NaiveDateTime>,
    /// Completion time.
    pub completed_at: Option<NaiveDateTime>,
    /// Creator.
    pub created_by: Option<i64>,
    /// Last progress change.
    pub last_progress_update_at: Option<NaiveDateTime>,
    /// Who made it.
    pub last_progress_updated_by: Option<i64>,
    /// Optimistic-concurrency version, +1 on every change.
    pub version: i32,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// A change of progress and status, applied only if the task is still at
/// `expected_version`.
#[derive(Debug, Clone)]
pub struct StateChange {
    /// New progress.
    pub progress: i32,
    /// New status.
    pub status: String,
    /// New completion time.
    pub completed_at: Option<NaiveDateTime>,
    /// Who changes it.
    pub by: i64,
    /// When.
    pub at: NaiveDateTime,
}

/// Finds a task.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Task>> {
    crate::per_backend!(conn, c => tasks::table.find(id).first(c).optional())
}

/// Applies a change if the task is still at `expected_version`; returns
/// whether it was applied (false: someone changed it meanwhile).
pub fn apply_change(conn: &mut DbConn, id: i64, expected_version: i32, change: &StateChange) -> QueryResult<bool> {
    let update = fixed_update(
        tasks::table,
        tasks::id.eq(id).and(tasks::version.eq(expected_version)),
        (
            tasks::progress.eq(change.progress),
            tasks::status.eq(&change.status),
            tasks::completed_at.eq(change.completed_at),
            tasks::last_progress_update_at.eq(Some(change.at)),
            tasks::last_progress_updated_by.eq(Some(change.by)),
            tasks::version.eq(expected_version + 1),
            tasks::updated_at.eq(change.at),
        ),
    );
    Ok(crate::per_backend!(conn, c => update.execute(c))? == 1)
}

/// An assignee of a task.
#[derive(Debug, Clone, Queryable)]
pub struct Assignee {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub full_name: String,
    /// Team.
    pub team_id: Option<i64>,
    /// Per-assignee status.
    pub status: String,
}

/// The assignees of a task, by name.
pub fn assignees(conn: &mut DbConn, task_id: i64) -> QueryResult<Vec<Assignee>> {
    let query = assignments::table
        .inner_join(users::table)
        .filter(assignments::task_id.eq(task_id))
        .select((users::id, users::username, users::full_name, users::team_id, assignments::status))
        .order(users::full_name.asc());
    crate::per_backend!(conn, c => query.load(c))
}

/// Sets every assignment of a task to a per-assignee status.
pub fn set_assignment_status(
    conn: &mut DbConn,
    task_id: i64,
    status: &str,
    completed_at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let update = fixed_update(
        assignments::table,
        assignments::task_id.eq(task_id),
        (assignments::status.eq(status), assignments::completed_at.eq(completed_at)),
    );
    crate::per_backend!(conn, c => update.execute(c))
}

/// Inserts a task and returns its id.
pub fn insert(conn: &mut DbConn, new: &NewTask) -> QueryResult<i64> {
    diesel::insert_into(tasks::table).values(new).returning(tasks::id).get_result(conn)
}

/// Whether a task with this title exists in the project.
pub fn exists_in_project(conn: &mut DbConn, title: &str, project_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        tasks::table.filter(tasks::title.eq(title)).filter(tasks::project_id.eq(project_id)),
    ))
    .get_result(conn)
}

/// Adds a required skill to a task.
pub fn add_skill(conn: &mut DbConn, task_id: i64, skill_id: i64, min_level: i32) -> QueryResult<usize> {
    diesel::insert_into(task_skills::table)
        .values((
            task_skills::task_id.eq(task_id),
            task_skills::skill_id.eq(skill_id),
            task_skills::min_level.eq(min_level),
        ))
        .execute(conn)
}

/// Editable fields of a task.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
pub struct TaskFields {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Project.
    pub project_id: Option<i64>,
    /// Priority.
    pub priority: String,
    /// Difficulty.
    pub difficulty: i32,
    /// Estimate.
    pub estimated_hours: f64,
    /// Due time.
    pub due_at: Option<NaiveDateTime>,
    /// When edited.
    pub updated_at: NaiveDateTime,
}

/// Saves edited fields if the task is still at `expected_version` (the
/// version goes up by one); returns whether it was applied.
pub fn update_fields(conn: &mut DbConn, id: i64, expected_version: i32, fields: &TaskFields) -> QueryResult<bool> {
    let rows = diesel::update(tasks::table.filter(tasks::id.eq(id)).filter(tasks::version.eq(expected_version)))
        .set((fields, tasks::version.eq(expected_version + 1)))
        .execute(conn)?;
    Ok(rows == 1)
}

/// Required skills of a task: (skill id, name, minimum level), by name.
pub fn skills_of(conn: &mut DbConn, task_id: i64) -> QueryResult<Vec<(i64, String, i32)>> {
    task_skills::table
        .inner_join(crate::schema::skills::table)
        .filter(task_skills::task_id.eq(task_id))
        .select((task_skills::skill_id, crate::schema::skills::name, task_skills::min_level))
        .order(crate::schema::skills::name.asc())
        .load(conn)
}

/// Removes every required skill of a task (before saving the new set).
pub fn clear_skills(conn: &mut DbConn, task_id: i64) -> QueryResult<usize> {
    diesel::delete(task_skills::table.filter(task_skills::task_id.eq(task_id))).execute(conn)
}

/// Removes an assignee from a task.
pub fn remove_assignment(conn: &mut DbConn, task_id: i64, user_id: i64) -> QueryResult<usize> {
    diesel::delete(assignments::table.filter(assignments::task_id.eq(task_id)).filter(assignments::user_id.eq(user_id)))
        .execute(conn)
}

/// Inserts an assignment.
pub fn insert_assignment(conn: &mut DbConn, new: &NewAssignment) -> QueryResult<usize> {
    diesel::insert_into(assignments::table).values(new).execute(conn)
}

/// Appends a trail row.
pub fn append_progress(conn: &mut DbConn, row: &NewProgress) -> QueryResult<usize> {
    crate::per_backend!(conn, c => diesel::insert_into(task_progress::table).values(row).execute(c))
}

/// Number of tasks per status, ordered by status.
pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    tasks::table
        .group_by(tasks::status)
        .select((tasks::status, diesel::dsl::count(tasks::id)))
        .order(tasks::status.asc())
        .load(conn)
}

/// Number of tasks per status among one user's assignments.
pub fn count_by_status_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(String, i64)>> {
    tasks::table
        .inner_join(assignments::table)
        .filter(assignments::user_id.eq(user_id))
        .group_by(tasks::status)
        .select((tasks::status, diesel::dsl::count(tasks::id)))
        .order(tasks::status.asc())
        .load(conn)
}

/// A user's open tasks (not DONE or CANCELLED), soonest due first.
pub fn open_for_user(conn: &mut DbConn, user_id: i64, limit: i64) -> QueryResult<Vec<TaskSummary>> {
    tasks::table
        .inner_join(assignments::table)
        .left_join(projects::table)
        .filter(assignments::user_id.eq(user_id))
        .filter(tasks::status.ne_all(["DONE", "CANCELLED"]))
        .select((
            tasks::id,
            tasks::title,
            projects::name.nullable(),
            tasks::priority,
            tasks::status,
            tasks::progress,
            tasks::due_at,
        ))
        .order((tasks::due_at.is_null(), tasks::due_at.asc(), tasks::id.asc()))
        .limit(limit)
        .load(conn)
}

/// Open tasks (not DONE or CANCELLED) per member of a team, as
/// (full name, username, open tasks), by name; members without tasks show 0.
pub fn open_counts_for_team(conn: &mut DbConn, team_id: i64) -> QueryResult<Vec<(String, String, i64)>> {
    let members: Vec<(i64, String, String)> = users::table
        .filter(users::team_id.eq(team_id))
        .filter(users::is_active.eq(true))
        .select((users::id, users::full_name, users::username))
        .order(users::full_name.asc())
        .load(conn)?;
    let counts: Vec<(i64, i64)> = assignments::table
        .inner_join(tasks::table)
        .inner_join(users::table)
        .filter(users::team_id.eq(team_id))
        .filter(tasks::status.ne_all(["DONE", "CANCELLED"]))
        .group_by(assignments::user_id)
        .select((assignments::user_id, diesel::dsl::count(assignments::id)))
        .load(conn)?;
    Ok(members
        .into_iter()
        .map(|(id, name, username)| {
            let open = counts.iter().find(|(user, _)| *user == id).map_or(0, |(_, n)| *n);
            (name, username, open)
        })
        .collect())
}

/// Number of trail rows.
pub fn progress_rows(conn: &mut DbConn) -> QueryResult<i64> {
    task_progress::table.count().get_result(conn)
}

/// Number of tasks.
pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    tasks::table.count().get_result(conn)
}
