//! Reading tasks: the employee's cards, the monitor grid, a task's detail
//! with its trail. Each is one read of the database plus presence from the
//! live hub.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::db::{Db, DbConn, now};
use crate::domain::access::Viewer;
use crate::domain::role::Role;
use crate::domain::task::{Occupancy, TaskStatus};
use crate::live::Hub;
use crate::services::{Actor, ServiceError};
use crate::store::task_views::{self, TaskFilter, TrailRow};
use crate::store::tasks::{Assignee, Task};

/// An assignee as shown on a card.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssigneeView {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub full_name: String,
    /// Per-assignee status.
    pub status: String,
    /// Presence now.
    pub occupancy_status: Occupancy,
}

impl AssigneeView {
    /// Initials for the avatar.
    pub fn initials(&self) -> String {
        crate::domain::text::initials(&self.full_name)
    }
}

/// A task as shown on cards and in API lists.
#[derive(Debug, Clone)]
pub struct TaskCard {
    /// The stored task.
    pub task: Task,
    /// Project name.
    pub project: Option<String>,
    /// Assignees with presence.
    pub assignees: Vec<AssigneeView>,
    /// Latest trail rows, newest first.
    pub recent: Vec<TrailRow>,
    /// Open and past due.
    pub overdue: bool,
    /// The assignees' user ids and teams (for access checks).
    pub assignee_teams: Vec<(i64, Option<i64>)>,
}

impl TaskCard {
    /// Whether the task is still open (neither done nor cancelled).
    pub fn is_open(&self) -> bool {
        self.task.status != "DONE" && self.task.status != "CANCELLED"
    }
}

fn assignee_views(hub: &Hub, assignees: &[Assignee]) -> Vec<AssigneeView> {
    assignees
        .iter()
        .map(|a| AssigneeView {
            user_id: a.user_id,
            username: a.username.clone(),
            full_name: a.full_name.clone(),
            status: a.status.clone(),
            occupancy_status: hub.occupancy(a.user_id),
        })
        .collect()
}

fn is_overdue(task: &Task, at: NaiveDateTime) -> bool {
    task.due_at.is_some_and(|d| d < at) && task.status != "DONE" && task.status != "CANCELLED"
}

/// Builds cards for tasks, with `recent` trail rows each.
fn cards(conn: &mut DbConn, hub: &Hub, tasks: Vec<Task>, recent: i64) -> Result<Vec<TaskCard>, ServiceError> {
    let at = now();
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let projects = task_views::project_names(conn, &tasks)?;
    let mut assignees = task_views::assignees_of(conn, &ids)?;
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let recent = if recent > 0 { task_views::trail(conn, task.id, Some(recent))? } else { Vec::new() };
        let list = assignees.remove(&task.id).unwrap_or_default();
        out.push(TaskCard {
            project: task.project_id.and_then(|p| projects.get(&p).cloned()),
            assignee_teams: list.iter().map(|a| (a.user_id, a.team_id)).collect(),
            assignees: assignee_views(hub, &list),
            overdue: is_overdue(&task, at),
            recent,
            task,
        });
    }
    Ok(out)
}

/// At most this many tasks on the employee's page.
pub const MY_TASKS_LIMIT: i64 = 500;

/// One page of tasks matching an (already scoped) filter: each task id with
/// its assignees (what a page shows, without rendering it).
pub async fn shown_people(
    db: &Db,
    filter: TaskFilter,
    page: i64,
    per_page: i64,
) -> Result<HashMap<i64, Vec<i64>>, ServiceError> {
    let offset = (page.max(1) - 1) * per_page;
    db.read(move |conn| {
        let ids: Vec<i64> = task_views::page(conn, &filter, per_page, offset)?.into_iter().map(|t| t.id).collect();
        let mut people = task_views::assignees_of(conn, &ids)?;
        Ok(ids
            .into_iter()
            .map(|id| (id, people.remove(&id).unwrap_or_default().into_iter().map(|a| a.user_id).collect()))
            .collect())
    })
    .await
}

/// The actor's own tasks (optionally one status), soonest due first.
pub async fn my_tasks(
    db: &Db,
    hub: &Arc<Hub>,
    actor: &Actor,
    status: Option<String>,
) -> Result<Vec<TaskCard>, ServiceError> {
    let filter = TaskFilter { status, assignee_id: Some(actor.id), ..TaskFilter::default() };
    let hub = hub.clone();
    db.read(move |conn| {
        let tasks = task_views::page(conn, &filter, MY_TASKS_LIMIT, 0)?;
        cards(conn, &hub, tasks, 3)
    })
    .await
}

/// Open tasks per page of My tasks.
pub const MY_TASKS_PAGE: i64 = 50;
/// Closed tasks shown below them (the latest; the status filter shows all).
pub const MY_CLOSED_SHOWN: i64 = 20;

/// One page of My tasks: open work soonest due first, and the latest
/// closed tasks apart.
#[derive(Debug, Clone)]
pub struct MyTaskList {
    /// Open tasks of this page.
    pub open: Vec<TaskCard>,
    /// Closed tasks shown.
    pub closed: Vec<TaskCard>,
    /// All tasks of the paged part (open ones; closed ones under a closed
    /// status filter).
    pub paged_total: i64,
    /// All closed tasks matching.
    pub closed_total: i64,
    /// This page (from 1).
    pub page: i64,
}

impl MyTaskList {
    /// Pages of open tasks (at least 1).
    pub fn pages(&self) -> i64 {
        ((self.paged_total + MY_TASKS_PAGE - 1) / MY_TASKS_PAGE).max(1)
    }
}

/// The filters of My tasks' two parts: (open, closed); a status filter
/// leaves only the part it belongs to.
pub fn my_filters(actor: &Actor, status: Option<String>) -> (Option<TaskFilter>, Option<TaskFilter>) {
    let closed_status = status.as_deref().is_some_and(|s| s == "DONE" || s == "CANCELLED");
    let base = TaskFilter { status: status.clone(), assignee_id: Some(actor.id), ..TaskFilter::default() };
    let open = (!closed_status).then(|| TaskFilter { open: Some(true), ..base.clone() });
    let closed = (status.is_none() || closed_status).then_some(TaskFilter { open: Some(false), ..base });
    (open, closed)
}

/// One page of the actor's tasks for My tasks (a closed status filter pages
/// through the closed tasks instead).
pub async fn my_task_list(
    db: &Db,
    hub: &Arc<Hub>,
    actor: &Actor,
    status: Option<String>,
    page: i64,
) -> Result<MyTaskList, ServiceError> {
    let (open, closed) = my_filters(actor, status);
    let hub = hub.clone();
    db.read(move |conn| {
        let page = page.max(1);
        let offset = (page - 1) * MY_TASKS_PAGE;
        let (open_cards, open_total) = match &open {
            Some(filter) => {
                let tasks = task_views::page(conn, filter, MY_TASKS_PAGE, offset)?;
                (cards(conn, &hub, tasks, 3)?, task_views::count(conn, filter)?)
            }
            None => (Vec::new(), 0),
        };
        let (closed_cards, closed_total) = match &closed {
            Some(filter) => {
                let (limit, offset) = if open.is_none() { (MY_TASKS_PAGE, offset) } else { (MY_CLOSED_SHOWN, 0) };
                let tasks = task_views::latest_first(conn, filter, limit, offset)?;
                (cards(conn, &hub, tasks, 3)?, task_views::count(conn, filter)?)
            }
            None => (Vec::new(), 0),
        };
        let paged_total = if open.is_some() { open_total } else { closed_total };
        Ok(MyTaskList { open: open_cards, closed: closed_cards, paged_total, closed_total, page })
    })
    .await
}

/// Counters of a monitor view.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counters {
    /// All matching tasks.
    pub total: i64,
    /// PENDING.
    pub pending: i64,
    /// IN_PROGRESS.
    pub in_progress: i64,
    /// ON_HOLD.
    pub on_hold: i64,
    /// DONE.
    pub done: i64,
    /// CANCELLED.
    pub cancelled: i64,
    /// Open and past due.
    pub overdue: i64,
}

/// One page of the monitor.
#[derive(Debug, Clone)]
pub struct MonitorPage {
    /// Cards on this page.
    pub cards: Vec<TaskCard>,
    /// Counters over every matching task.
    pub counters: Counters,
    /// Matching tasks (status filter included).
    pub matching: i64,
    /// Page number (from 1).
    pub page: i64,
    /// Page size.
    pub per_page: i64,
}

impl MonitorPage {
    /// Number of pages.
    pub fn pages(&self) -> i64 {
        ((self.matching + self.per_page - 1) / self.per_page).max(1)
    }
}

/// Counters over every task matching a filter (its status filter aside).
fn counters_of(conn: &mut DbConn, filter: &TaskFilter) -> Result<Counters, ServiceError> {
    let (by_status, overdue) = task_views::counters(conn, filter, now())?;
    let get = |s: TaskStatus| by_status.get(s.as_str()).copied().unwrap_or(0);
    Ok(Counters {
        total: by_status.values().sum(),
        pending: get(TaskStatus::Pending),
        in_progress: get(TaskStatus::InProgress),
        on_hold: get(TaskStatus::OnHold),
        done: get(TaskStatus::Done),
        cancelled: get(TaskStatus::Cancelled),
        overdue,
    })
}

/// Counters over all tasks (what an unfiltered admin or manager monitor shows).
pub async fn all_counters(db: &Db) -> Result<Counters, ServiceError> {
    db.read(|conn| counters_of(conn, &TaskFilter::default())).await
}

/// Restricts a filter to what the actor may see: everything for admins and
/// managers, the team (and own tasks) for a lead, own tasks for employees.
pub fn scoped(actor: &Actor, mut filter: TaskFilter) -> TaskFilter {
    match actor.role {
        Role::Admin | Role::Manager => {}
        Role::Lead => filter.scope = Some((actor.team_id, actor.id)),
        Role::Employee => filter.assignee_id = Some(actor.id),
    }
    filter
}

/// A page of the monitor for the actor.
pub async fn monitor(
    db: &Db,
    hub: &Arc<Hub>,
    actor: &Actor,
    filter: TaskFilter,
    page: i64,
    per_page: i64,
) -> Result<MonitorPage, ServiceError> {
    let filter = scoped(actor, filter);
    let page = page.max(1);
    let per_page = per_page.clamp(1, 200);
    let hub = hub.clone();
    db.read(move |conn| {
        let counters = counters_of(conn, &filter)?;
        let matching = match filter.status.as_deref().and_then(|s| s.parse::<TaskStatus>().ok()) {
            Some(TaskStatus::Pending) => counters.pending,
            Some(TaskStatus::InProgress) => counters.in_progress,
            Some(TaskStatus::OnHold) => counters.on_hold,
            Some(TaskStatus::Done) => counters.done,
            Some(TaskStatus::Cancelled) => counters.cancelled,
            None => counters.total,
        };
        let tasks = task_views::page(conn, &filter, per_page, (page - 1) * per_page)?;
        Ok(MonitorPage { cards: cards(conn, &hub, tasks, 5)?, counters, matching, page, per_page })
    })
    .await
}

/// One task the viewer may see, with its full trail.
pub async fn detail(db: &Db, hub: &Arc<Hub>, actor: &Actor, task_id: i64) -> Result<TaskCard, ServiceError> {
    card(db, hub, actor, task_id, None).await
}

/// One task the viewer may see, with its latest `recent` trail rows (`None`:
/// all of them).
pub async fn card(
    db: &Db,
    hub: &Arc<Hub>,
    actor: &Actor,
    task_id: i64,
    recent: Option<i64>,
) -> Result<TaskCard, ServiceError> {
    let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
    let hub = hub.clone();
    db.read(move |conn| {
        let task = crate::services::progress::load_visible(conn, viewer, task_id)?;
        let mut card = cards(conn, &hub, vec![task], 0)?.pop().ok_or(ServiceError::NotFound)?;
        if recent != Some(0) {
            card.recent = task_views::trail(conn, task_id, recent)?;
        }
        Ok(card)
    })
    .await
}

/// Counters of the tasks the actor may see under a filter.
pub async fn counters(db: &Db, actor: &Actor, filter: TaskFilter) -> Result<Counters, ServiceError> {
    let filter = scoped(actor, filter);
    db.read(move |conn| counters_of(conn, &filter)).await
}

/// One task as a card for the live feed (no access check: the feed checks
/// each viewer against [`TaskCard::audience`]).
pub fn card_for_feed(conn: &mut DbConn, hub: &Hub, task_id: i64) -> Result<Option<TaskCard>, ServiceError> {
    let Some(task) = crate::store::tasks::find(conn, task_id)? else { return Ok(None) };
    Ok(cards(conn, hub, vec![task], 5)?.pop())
}

/// Required skills of a task (id, name, minimum level). The caller has
/// checked access (the task came from [`detail`]).
pub async fn skills(db: &Db, task_id: i64) -> Result<Vec<(i64, String, i32)>, ServiceError> {
    db.read(move |conn| Ok(crate::store::tasks::skills_of(conn, task_id)?)).await
}
