//! Task pages: the employee's tasks with the progress form, the live
//! monitor, a task's detail with its trail, and the assign / edit form.
//! Handlers parse, call one service, and render; fragments come from
//! [`crate::web::partials`], the same ones the live feed pushes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::redirect::local_path;
use crate::domain::role::Role;
use crate::domain::task::Occupancy;
use crate::services::assign::{self, FormChoices, TaskInput};
use crate::services::progress::{self, Kind, UpdateRequest};
use crate::services::task_views::{self, TaskCard};
use crate::services::{FieldErrors, ServiceError};
use crate::store::task_views::TaskFilter;
use crate::web::AppState;
use crate::web::access::CurrentUser;
use crate::web::errors::AppError;
use crate::web::flash::{self, Level, PendingFlash};
use crate::web::layout::Layout;
use crate::web::partials;

/// Status filter choices (value, label).
const STATUSES: &[(&str, &str)] = &[
    ("PENDING", "Pending"),
    ("IN_PROGRESS", "In progress"),
    ("ON_HOLD", "On hold"),
    ("DONE", "Done"),
    ("CANCELLED", "Cancelled"),
];
const PRIORITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "URGENT"];
/// Cards per monitor page.
pub const MONITOR_PAGE_SIZE: i64 = 60;

/// A status filter value, if it is a known status.
fn known_status(raw: Option<&str>) -> Option<String> {
    raw.filter(|s| STATUSES.iter().any(|(v, _)| v == s)).map(str::to_string)
}

/// The WebSocket URL of a page: its view and filters, and the live-event
/// sequence the page was rendered at (a socket that connects with an older
/// sequence gets a resync). `since` must be read before the page's data:
/// read after, a change committed between the two would be in neither the
/// page nor the feed the socket joins.
fn ws_url(view: &str, filters: &str, since: u64) -> String {
    let sep = if filters.is_empty() { "" } else { "&" };
    format!("/ws?view={view}{sep}{filters}&since={since}")
}

// ---------- My tasks ----------

#[derive(Template)]
#[template(path = "tasks/mine.html")]
struct MinePage {
    layout: Layout,
    me: i64,
    my_occupancy: Occupancy,
    statuses: &'static [(&'static str, &'static str)],
    status: Option<String>,
    cards: Vec<String>,
    ws_url: String,
}

/// Query of My tasks.
#[derive(Debug, Deserialize)]
pub struct MineQuery {
    status: Option<String>,
}

/// GET /tasks: the signed-in user's tasks, with the progress form.
pub async fn mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<MineQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let status = known_status(query.status.as_deref().filter(|s| !s.is_empty()));
    let since = state.bus.sequence();
    let cards = task_views::my_tasks(&state.db, &state.hub, &user.actor, status.clone()).await?;
    let csrf = user.csrf().to_string();
    let filters = status.as_ref().map(|s| format!("status={s}")).unwrap_or_default();
    let page = MinePage {
        layout: Layout::for_user(&user, "My tasks", "mine", flash.0),
        me: user.actor.id,
        my_occupancy: state.hub.occupancy(user.actor.id),
        statuses: STATUSES,
        cards: cards.iter().map(|c| partials::my_card(c, &csrf, None)).collect(),
        ws_url: ws_url("mine", &filters, since),
        status,
    };
    crate::web::html_page(&page)
}

/// The progress form (fields as typed; checked by the service).
#[derive(Debug, Deserialize)]
pub struct ProgressForm {
    #[serde(default)]
    progress: String,
    #[serde(default)]
    progress_quick: Option<String>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    occupancy_status: Option<String>,
    /// Where to go back to (a local path) after a plain form post.
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    csrf_token: String,
}

/// Every field error in one sentence, for a flash message.
fn summary(errors: &FieldErrors) -> String {
    errors.values().cloned().collect::<Vec<_>>().join(" ")
}

fn parse_whole(field: &'static str, raw: &str, message: &str) -> Result<i64, ServiceError> {
    raw.trim().parse::<i64>().map_err(|_| ServiceError::field(field, message))
}

fn parse_version(raw: Option<&str>) -> Result<Option<i32>, ServiceError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i32>().map(Some).map_err(|_| ServiceError::field("version", "Unknown version.")),
    }
}

/// POST /tasks/{id}/progress: sets progress or completes. The page script
/// asks for JSON (answer + the fresh state fragment); a plain form post is
/// redirected back with a message.
pub async fn update_progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<ProgressForm>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let form = form.into_inner();
    let json = crate::web::errors::wants_json(&req);
    let back = form.next.as_deref().and_then(local_path).unwrap_or("/tasks").to_string();
    let result = async {
        let kind = if form.action.as_deref() == Some("complete") { Kind::Complete } else { Kind::Progress };
        let raw = form.progress_quick.as_deref().filter(|q| !q.is_empty()).unwrap_or(&form.progress);
        let progress = match kind {
            Kind::Complete => 100,
            Kind::Progress => {
                parse_whole("progress_percentage", raw, "Progress must be a whole number from 0 to 100.")?
            }
        };
        let request = UpdateRequest {
            task_id,
            kind,
            progress,
            notes: form.notes.clone(),
            occupancy: form.occupancy_status.clone().or_else(|| Some("ACTIVE".into())),
            expected_version: parse_version(form.version.as_deref())?,
            idempotency_key: form.idempotency_key.clone(),
        };
        progress::update(&state.db, &state.bus, &user.actor, request).await
    }
    .await;
    match (result, json) {
        (Ok(outcome), true) => {
            let recent = Some(partials::STATE_UPDATES as i64);
            let card = task_views::card(&state.db, &state.hub, &user.actor, task_id, recent).await?;
            let body = serde_json::json!({
                "status": outcome.answer.status,
                "task_id": outcome.answer.task_id,
                "new_progress": outcome.answer.new_progress,
                "task_status": outcome.answer.task_status,
                "version": outcome.answer.version,
                "replayed": outcome.replayed,
                "state_html": partials::task_state(&card, false),
            });
            Ok(HttpResponse::Ok().json(body))
        }
        (Err(err), true) => Err(err.into()),
        (Ok(outcome), false) => {
            let message = format!("Saved: {}% ({}).", outcome.answer.new_progress, outcome.answer.task_status);
            Ok(flash::redirect(&back, Level::Success, &message))
        }
        (Err(ServiceError::Stale { current, .. }), false) => {
            let message = format!(
                "This task changed meanwhile: it is now at {}% ({}). Review it and try again.",
                current["progress_percentage"],
                current["status"].as_str().unwrap_or("")
            );
            Ok(flash::redirect(&back, Level::Error, &message))
        }
        (Err(ServiceError::Invalid(errors)), false) => Ok(flash::redirect(&back, Level::Error, summary(&errors))),
        (Err(ServiceError::Conflict(message)), false) => Ok(flash::redirect(&back, Level::Error, &message)),
        (Err(err), false) => Err(err.into()),
    }
}

// ---------- Monitor ----------

/// Monitor filters, kept in the URL.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MonitorQuery {
    status: Option<String>,
    priority: Option<String>,
    team: Option<String>,
    project: Option<String>,
    assignee: Option<String>,
    page: Option<String>,
}

/// Parsed monitor filters.
#[derive(Debug, Default, Clone)]
pub struct MonitorFilters {
    /// Status.
    pub status: Option<String>,
    /// Priority.
    pub priority: Option<String>,
    /// Team id.
    pub team: Option<i64>,
    /// Project id.
    pub project: Option<i64>,
    /// Assignee id.
    pub assignee: Option<i64>,
    /// Page (from 1).
    pub page: i64,
}

impl MonitorFilters {
    /// Parses the query; unknown or malformed values mean "no filter".
    pub fn parse(query: &MonitorQuery) -> MonitorFilters {
        let id = |raw: &Option<String>| raw.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
        MonitorFilters {
            status: known_status(query.status.as_deref()),
            priority: query.priority.clone().filter(|p| PRIORITIES.contains(&p.as_str())),
            team: id(&query.team),
            project: id(&query.project),
            assignee: id(&query.assignee),
            page: id(&query.page).unwrap_or(1).max(1),
        }
    }

    /// The store filter.
    pub fn filter(&self) -> TaskFilter {
        TaskFilter {
            status: self.status.clone(),
            priority: self.priority.clone(),
            team_id: self.team,
            project_id: self.project,
            assignee_id: self.assignee,
            scope: None,
        }
    }

    /// The filters and a page number as a query string.
    pub fn query_with_page(&self, page: i64) -> String {
        let filters = self.query_string();
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("{filters}{sep}page={page}")
    }

    /// The filters as a query string (without the page).
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.status {
            parts.push(format!("status={s}"));
        }
        if let Some(p) = &self.priority {
            parts.push(format!("priority={p}"));
        }
        for (name, value) in [("team", self.team), ("project", self.project), ("assignee", self.assignee)] {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        }
        parts.join("&")
    }
}

#[derive(Template)]
#[template(path = "tasks/monitor.html")]
struct MonitorPageView {
    layout: Layout,
    scope_label: &'static str,
    statuses: &'static [(&'static str, &'static str)],
    priorities: &'static [&'static str],
    choices: FormChoices,
    query: MonitorFilters,
    counters: String,
    cards: Vec<String>,
    page: i64,
    pages: i64,
    matching: i64,
    ws_url: String,
}

impl MonitorPageView {
    fn page_url(&self, page: i64) -> String {
        format!("/monitor?{}", self.query.query_with_page(page))
    }
}

/// GET /monitor: every task the viewer may see, live.
pub async fn monitor(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<MonitorQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let filters = MonitorFilters::parse(&query);
    let since = state.bus.sequence();
    let view =
        task_views::monitor(&state.db, &state.hub, &user.actor, filters.filter(), filters.page, MONITOR_PAGE_SIZE)
            .await?;
    let choices = assign::choices(&state.db, &user.actor).await?;
    let page_filters = filters.query_with_page(view.page);
    let page = MonitorPageView {
        layout: Layout::for_user(&user, "Monitor", "monitor", flash.0),
        scope_label: if user.actor.role == Role::Lead { "Your team's tasks" } else { "All tasks" },
        statuses: STATUSES,
        priorities: PRIORITIES,
        choices,
        counters: partials::counters(&view.counters, false),
        cards: view.cards.iter().map(|c| partials::monitor_card(c, None)).collect(),
        page: view.page,
        pages: view.pages(),
        matching: view.matching,
        ws_url: ws_url("monitor", &page_filters, since),
        query: filters,
    };
    crate::web::html_page(&page)
}

// ---------- Detail ----------

#[derive(Template)]
#[template(path = "tasks/detail.html")]
struct DetailPage {
    layout: Layout,
    card: TaskCard,
    state: String,
    skills: Vec<(String, i32)>,
    can_edit: bool,
    status_actions: Vec<(&'static str, &'static str)>,
    ws_url: String,
    time: crate::web::time::TaskTime,
}

/// GET /tasks/{id}: every field, the assignees and the full trail.
pub async fn detail(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let since = state.bus.sequence();
    let card = task_views::detail(&state.db, &state.hub, &user.actor, task_id).await?;
    let skills = task_views::skills(&state.db, task_id).await?;
    let role = user.actor.role;
    let status_actions = if matches!(role, Role::Admin | Role::Manager) {
        match card.task.status.as_str() {
            "ON_HOLD" | "CANCELLED" => vec![("IN_PROGRESS", "Resume")],
            "DONE" => vec![("CANCELLED", "Cancel")],
            _ => vec![("ON_HOLD", "Put on hold"), ("CANCELLED", "Cancel")],
        }
    } else {
        Vec::new()
    };
    let assigned = card.assignees.iter().any(|a| a.user_id == user.actor.id);
    let time = crate::web::time::TaskTime::load(&state, &user, task_id, assigned).await?;
    let page = DetailPage {
        time,
        layout: Layout::for_user(&user, card.task.title.clone(), "", flash.0),
        state: partials::task_state(&card, false),
        skills: skills.into_iter().map(|(_, name, level)| (name, level)).collect(),
        can_edit: role != Role::Employee,
        status_actions,
        ws_url: ws_url("detail", &format!("task={task_id}"), since),
        card,
    };
    crate::web::html_page(&page)
}

/// The status form.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    csrf_token: String,
}

/// POST /tasks/{id}/status: ON_HOLD, CANCELLED or resume (admins, managers).
pub async fn set_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let back = format!("/tasks/{task_id}");
    let version = parse_version(form.version.as_deref())?;
    let result =
        progress::set_status(&state.db, &state.bus, &user.actor, task_id, &form.status, &form.notes, version).await;
    match result {
        Ok(()) => Ok(flash::redirect(&back, Level::Success, "Status changed.")),
        Err(ServiceError::Stale { .. }) => {
            Ok(flash::redirect(&back, Level::Error, "This task changed meanwhile. Review it and try again."))
        }
        Err(ServiceError::Conflict(message)) => Ok(flash::redirect(&back, Level::Error, &message)),
        Err(ServiceError::Invalid(errors)) => Ok(flash::redirect(&back, Level::Error, summary(&errors))),
        Err(err) => Err(err.into()),
    }
}

// ---------- Assign / edit ----------

/// The assign form as typed, for redisplay.
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    title: String,
    description: String,
    project_id: Option<i64>,
    assignee_ids: Vec<i64>,
    due: String,
    priority: String,
    estimated_hours: String,
    difficulty: String,
    skills: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "tasks/form.html")]
struct FormPage {
    layout: Layout,
    task_id: Option<i64>,
    version: Option<i32>,
    form: FormValues,
    errors: FieldErrors,
    choices: FormChoices,
    /// Assignees outside the editor's reach: shown, kept, not changeable.
    kept: Vec<String>,
    priorities: &'static [&'static str],
}

impl FormPage {
    fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    fn skill_level(&self, skill: &i64) -> &str {
        self.form.skills.iter().find(|(id, _)| id == skill).map_or("", |(_, level)| level.as_str())
    }
}

/// Reads the urlencoded form (repeated `assignees`, `skill_<id>` fields).
/// Malformed numbers become field errors.
fn read_form(pairs: Vec<(String, String)>) -> (FormValues, TaskInput, FieldErrors, Option<String>) {
    let mut values = FormValues::default();
    let mut errors = FieldErrors::new();
    let mut version = None;
    for (key, value) in pairs {
        match key.as_str() {
            "title" => values.title = value,
            "description" => values.description = value,
            "project" if value.trim().is_empty() => {}
            "project" => match value.trim().parse() {
                Ok(id) => values.project_id = Some(id),
                Err(_) => drop(errors.insert("project", "Choose a project from the list.".into())),
            },
            "assignees" => match value.trim().parse() {
                Ok(id) => values.assignee_ids.push(id),
                Err(_) => drop(errors.insert("assignees", "Choose assignees from the list.".into())),
            },
            "due" => values.due = value,
            "priority" => values.priority = value,
            "estimated_hours" => values.estimated_hours = value,
            "difficulty" => values.difficulty = value,
            "version" => version = Some(value),
            other => {
                if let Some(id) = other.strip_prefix("skill_").and_then(|id| id.parse::<i64>().ok())
                    && !value.trim().is_empty()
                {
                    values.skills.push((id, value));
                }
            }
        }
    }
    let mut skills = Vec::new();
    for (id, level) in &values.skills {
        match level.trim().parse::<i64>() {
            Ok(level) => skills.push((*id, level)),
            Err(_) => drop(errors.insert("skills", "Skill levels go from 1 to 5.".into())),
        }
    }
    let input = TaskInput {
        title: values.title.clone(),
        description: values.description.clone(),
        project_id: values.project_id,
        assignee_ids: values.assignee_ids.clone(),
        due: values.due.clone(),
        priority: values.priority.clone(),
        estimated_hours: values.estimated_hours.clone(),
        difficulty: values.difficulty.clone(),
        skills,
    };
    (values, input, errors, version)
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    task_id: Option<i64>,
    version: Option<i32>,
    form: FormValues,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let choices = assign::choices(&state.db, &user.actor).await?;
    let kept = match task_id {
        Some(id) => assign::kept_assignees(&state.db, &user.actor, id).await?,
        None => Vec::new(),
    };
    let title = if task_id.is_some() { "Edit task" } else { "Assign a task" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = FormPage {
        layout: Layout::for_user(user, title, "assign", None),
        task_id,
        version,
        form,
        errors,
        choices,
        kept,
        priorities: PRIORITIES,
    };
    crate::web::html_status(status, &page)
}

/// GET /tasks/new: the assign form.
pub async fn new_form(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let form = FormValues {
        priority: "MEDIUM".into(),
        difficulty: "5".into(),
        estimated_hours: "4".into(),
        ..FormValues::default()
    };
    form_page(&state, &user, None, None, form, FieldErrors::new()).await
}

/// POST /tasks/new: creates the task, or shows every field error with what
/// was typed.
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (values, input, mut errors, _) = read_form(form.into_inner());
    let result = if errors.is_empty() {
        assign::create(&state.db, &state.bus, &user.actor, input).await
    } else {
        Err(ServiceError::Invalid(FieldErrors::new()))
    };
    match result {
        Ok(id) => Ok(flash::redirect(&format!("/tasks/{id}"), Level::Success, "Task created and assigned.")),
        Err(ServiceError::Invalid(more)) => {
            errors.extend(more);
            form_page(&state, &user, None, None, values, errors).await
        }
        Err(err) => Err(err.into()),
    }
}

/// GET /tasks/{id}/edit: the form filled with the task.
pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let card = task_views::card(&state.db, &state.hub, &user.actor, task_id, Some(0)).await?;
    let skills = task_views::skills(&state.db, task_id).await?;
    let task = &card.task;
    let form = FormValues {
        title: task.title.clone(),
        description: task.description.clone(),
        project_id: task.project_id,
        assignee_ids: card.assignees.iter().map(|a| a.user_id).collect(),
        due: task.due_at.map(|d| d.format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default(),
        priority: task.priority.clone(),
        estimated_hours: task.estimated_hours.to_string(),
        difficulty: task.difficulty.to_string(),
        skills: skills.into_iter().map(|(id, _, level)| (id, level.to_string())).collect(),
    };
    form_page(&state, &user, Some(task_id), Some(task.version), form, FieldErrors::new()).await
}

/// POST /tasks/{id}/edit: saves the edit and the reassignment.
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let (values, input, mut errors, version) = read_form(form.into_inner());
    let version = parse_version(version.as_deref())?;
    let result = if errors.is_empty() {
        assign::update(&state.db, &state.bus, &user.actor, task_id, version, input).await
    } else {
        Err(ServiceError::Invalid(FieldErrors::new()))
    };
    match result {
        Ok(()) => Ok(flash::redirect(&format!("/tasks/{task_id}"), Level::Success, "Task saved.")),
        Err(ServiceError::Invalid(more)) => {
            errors.extend(more);
            form_page(&state, &user, Some(task_id), version, values, errors).await
        }
        Err(ServiceError::Stale { current, .. }) => {
            errors.insert("title", "This task changed meanwhile; reload the form to see the current version.".into());
            let version = current["version"].as_i64().and_then(|v| i32::try_from(v).ok());
            form_page(&state, &user, Some(task_id), version.or(Some(0)), values, errors).await.map(|mut r| {
                *r.status_mut() = StatusCode::CONFLICT;
                r
            })
        }
        Err(err) => Err(err.into()),
    }
}
