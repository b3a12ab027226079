//! Read models of tasks: the employee's list, the monitor grid with its
//! filters and counters, and the trail.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tasks::{Assignee, Task};
use crate::db::{DbConn, MultiBackend};
use crate::schema::{assignments, projects, task_progress, tasks, users};

/// Filters of the monitor (all optional) and the viewer's scope.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// One status.
    pub status: Option<String>,
    /// One priority.
    pub priority: Option<String>,
    /// Tasks with an assignee in this team.
    pub team_id: Option<i64>,
    /// One project.
    pub project_id: Option<i64>,
    /// Tasks assigned to this user.
    pub assignee_id: Option<i64>,
    /// A lead's scope: tasks assigned to someone in (team, or the lead).
    pub scope: Option<(Option<i64>, i64)>,
    /// Open tasks only (`Some(true)`), closed ones only (`Some(false)`).
    pub open: Option<bool>,
    /// Open tasks past due at this time only.
    pub overdue_at: Option<NaiveDateTime>,
}

/// The statuses of closed tasks.
const CLOSED: [&str; 2] = ["DONE", "CANCELLED"];

type Boxed<'a> = tasks::BoxedQuery<'a, MultiBackend>;

fn filtered(filter: &TaskFilter, with_status: bool) -> Boxed<'static> {
    let mut query = tasks::table.into_boxed();
    if let Some(status) = filter.status.clone().filter(|_| with_status) {
        query = query.filter(tasks::status.eq(status));
    }
    match filter.open {
        Some(true) => query = query.filter(tasks::status.ne_all(CLOSED)),
        Some(false) => query = query.filter(tasks::status.eq_any(CLOSED)),
        None => {}
    }
    if let Some(at) = filter.overdue_at {
        query = query.filter(tasks::due_at.lt(at)).filter(tasks::status.ne_all(CLOSED));
    }
    if let Some(priority) = filter.priority.clone() {
        query = query.filter(tasks::priority.eq(priority));
    }
    if let Some(project) = filter.project_id {
        query = query.filter(tasks::project_id.eq(project));
    }
    if let Some(team) = filter.team_id {
        let in_team =
            assignments::table.inner_join(users::table).filter(users::team_id.eq(team)).select(assignments::task_id);
        query = query.filter(tasks::id.eq_any(in_team));
    }
    if let Some(user) = filter.assignee_id {
        query = query.filter(
            tasks::id.eq_any(assignments::table.filter(assignments::user_id.eq(user)).select(assignments::task_id)),
        );
    }
    if let Some((team, lead)) = filter.scope {
        let in_scope = assignments::table
            .inner_join(users::table)
            .filter(users::team_id.eq(team).and(users::team_id.is_not_null()).or(users::id.eq(lead)))
            .select(assignments::task_id);
        query = query.filter(tasks::id.eq_any(in_scope));
    }
    query
}

/// One page of tasks matching a filter: open work first, then by due date.
pub fn page(conn: &mut DbConn, filter: &TaskFilter, limit: i64, offset: i64) -> QueryResult<Vec<Task>> {
    filtered(filter, true)
        .order((tasks::completed_at.is_not_null(), tasks::due_at.is_null(), tasks::due_at.asc(), tasks::id.asc()))
        .limit(limit)
        .offset(offset)
        .load(conn)
}

/// The most recently closed (or changed) matching tasks first.
pub fn latest_first(conn: &mut DbConn, filter: &TaskFilter, limit: i64, offset: i64) -> QueryResult<Vec<Task>> {
    filtered(filter, true).order((tasks::updated_at.desc(), tasks::id.desc())).limit(limit).offset(offset).load(conn)
}

/// Counters of the matching tasks, ignoring the status filter (the
/// counters show every status): tasks per status, and open tasks past due
/// at `now`. (Counted here: diesel cannot group a boxed query on the
/// two-backend connection; one narrow scan serves both counters.)
pub fn counters(
    conn: &mut DbConn,
    filter: &TaskFilter,
    now: NaiveDateTime,
) -> QueryResult<(HashMap<String, i64>, i64)> {
    let rows: Vec<(String, Option<NaiveDateTime>)> =
        filtered(filter, false).select((tasks::status, tasks::due_at)).load(conn)?;
    let mut by_status: HashMap<String, i64> = HashMap::new();
    let mut overdue = 0;
    for (status, due) in rows {
        if due.is_some_and(|d| d < now) && status != "DONE" && status != "CANCELLED" {
            overdue += 1;
        }
        *by_status.entry(status).or_default() += 1;
    }
    Ok((by_status, overdue))
}

/// Number of tasks matching the filter (status included).
pub fn count(conn: &mut DbConn, filter: &TaskFilter) -> QueryResult<i64> {
    filtered(filter, true).count().get_result(conn)
}

/// Project names by id for the given tasks.
pub fn project_names(conn: &mut DbConn, tasks: &[Task]) -> QueryResult<HashMap<i64, String>> {
    let ids: Vec<i64> = tasks.iter().filter_map(|t| t.project_id).collect();
    let rows: Vec<(i64, String)> =
        projects::table.filter(projects::id.eq_any(ids)).select((projects::id, projects::name)).load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Assignees of several tasks at once, by task id.
pub fn assignees_of(conn: &mut DbConn, task_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<Assignee>>> {
    let query = assignments::table
        .inner_join(users::table)
        .select((
            assignments::task_id,
            (users::id, users::username, users::full_name, users::team_id, assignments::status),
        ))
        .order((assignments::task_id.asc(), users::full_name.asc()));
    let rows: Vec<(i64, Assignee)> = match task_ids {
        // One task (every live update): a statement prepared once and reused,
        // where an IN list is prepared again on every call.
        [task_id] => query.filter(assignments::task_id.eq(*task_id)).load(conn)?,
        _ => query.filter(assignments::task_id.eq_any(task_ids)).load(conn)?,
    };
    let mut by_task: HashMap<i64, Vec<Assignee>> = HashMap::new();
    for (task_id, assignee) in rows {
        by_task.entry(task_id).or_default().push(assignee);
    }
    Ok(by_task)
}

/// A trail row with the name of who made the change.
#[derive(Debug, Clone, Queryable)]
pub struct TrailRow {
    /// Id.
    pub id: i64,
    /// Task.
    pub task_id: i64,
    /// Who (display name).
    pub who: Option<String>,
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
    /// Occupancy reported with it.
    pub occupancy_status: Option<String>,
    /// When.
    pub created_at: NaiveDateTime,
}

/// The latest `limit` trail rows of a task, newest first (`None`: all).
pub fn trail(conn: &mut DbConn, task_id: i64, limit: Option<i64>) -> QueryResult<Vec<TrailRow>> {
    let query = task_progress::table
        .left_join(users::table)
        .filter(task_progress::task_id.eq(task_id))
        .select((
            task_progress::id,
            task_progress::task_id,
            users::full_name.nullable(),
            task_progress::previous_progress,
            task_progress::new_progress,
            task_progress::previous_status,
            task_progress::new_status,
            task_progress::notes,
            task_progress::occupancy_status,
            task_progress::created_at,
        ))
        .order(task_progress::id.desc())
        .into_boxed();
    match limit {
        Some(limit) => query.limit(limit).load(conn),
        None => query.load(conn),
    }
}
