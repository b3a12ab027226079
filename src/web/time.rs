//! Time entries on pages: log hours on a task, edit or remove an entry
//! while its pay period is open, the week view and the CSV of one's own
//! entries.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::payroll::format_hours;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::render::{html_page, html_status};
use crate::services::time_entries::{self as service, EntryInput};
use crate::services::{FieldErrors, RequestMeta, ServiceError};
use crate::store::time_entries::{EntryListing, TimeEntry};

#[derive(Template)]
#[template(path = "time/form.html")]
struct EntryForm {
    layout: Layout,
    /// POST target.
    action: String,
    /// Where "cancel" goes.
    back: String,
    form: EntryInput,
    errors: FieldErrors,
}

impl EntryForm {
    fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

/// Where an entry form posts and goes back to.
struct Target {
    title: String,
    action: String,
    back: String,
}

impl Target {
    fn log(task_id: i64, task: &str) -> Target {
        Target {
            title: format!("Log time on {task} #{task_id}"),
            action: format!("/tasks/{task_id}/time"),
            back: format!("/tasks/{task_id}"),
        }
    }

    fn edit(id: i64, task_id: i64, task: &str, back: String) -> Target {
        Target { title: format!("Edit time on {task} #{task_id}"), action: format!("/time/{id}/edit"), back }
    }
}

/// The entry form: 200 when fresh, 422 when shown again with its errors.
fn form_page(
    user: &CurrentUser,
    target: Target,
    form: EntryInput,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let layout = Layout::for_user(user, target.title, "time", None);
    html_status(status, &EntryForm { layout, action: target.action, back: target.back, form, errors })
}

fn today() -> NaiveDate {
    crate::db::now().date()
}

/// GET /tasks/{id}/time: the form to log hours on a task.
pub async fn log_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    // Only for tasks the user may see.
    let task = service::task_title(&state.db, &user.actor, task_id).await?;
    let form = EntryInput { work_date: today().to_string(), ..Default::default() };
    form_page(&user, Target::log(task_id, &task), form, FieldErrors::new())
}

/// POST /tasks/{id}/time: logs hours; errors re-show the form with the input.
pub async fn log(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    path: web::Path<i64>,
    form: web::Form<EntryInput>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let input = form.into_inner();
    match service::log(&state.db, &user.actor, &meta, task_id, input.clone()).await {
        Ok(_) => Ok(flash::redirect(&format!("/tasks/{task_id}#time"), Level::Success, "Time logged.")),
        Err(ServiceError::Invalid(errors)) => {
            let task = service::task_title(&state.db, &user.actor, task_id).await?;
            form_page(&user, Target::log(task_id, &task), input, errors)
        }
        Err(err) => Err(err.into()),
    }
}

/// GET /time/{id}/edit: one's own entry in the form.
pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let entry = service::entry(&state.db, &user.actor, path.into_inner()).await?;
    let form = EntryInput {
        work_date: entry.work_date.to_string(),
        hours: format_hours(entry.minutes.into()),
        note: entry.note.clone(),
    };
    let task = service::task_title(&state.db, &user.actor, entry.task_id).await?;
    let target = Target::edit(entry.id, entry.task_id, &task, format!("/tasks/{}", entry.task_id));
    form_page(&user, target, form, FieldErrors::new())
}

/// POST /time/{id}/edit.
pub async fn edit(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    path: web::Path<i64>,
    form: web::Form<EntryInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let input = form.into_inner();
    match service::edit(&state.db, &user.actor, &meta, id, input.clone()).await {
        Ok(entry) => {
            Ok(flash::redirect(&format!("/tasks/{}#time", entry.task_id), Level::Success, "Time entry saved."))
        }
        Err(ServiceError::Invalid(errors)) => {
            let entry = service::entry(&state.db, &user.actor, id).await?;
            let task = service::task_title(&state.db, &user.actor, entry.task_id).await?;
            form_page(&user, Target::edit(id, entry.task_id, &task, "/time".into()), input, errors)
        }
        Err(err) => Err(err.into()),
    }
}

/// POST /time/{id}/delete.
pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    match service::delete(&state.db, &user.actor, &meta, path.into_inner()).await {
        Ok(entry) => {
            Ok(flash::redirect(&format!("/tasks/{}#time", entry.task_id), Level::Success, "Time entry removed."))
        }
        Err(err) => flash::refused("/time", err),
    }
}

/// The week query.
#[derive(Debug, Deserialize)]
pub struct WeekQuery {
    week: Option<String>,
}

#[derive(Template)]
#[template(path = "time/week.html")]
struct WeekPage {
    layout: Layout,
    start: NaiveDate,
    end: NaiveDate,
    previous: NaiveDate,
    next: NaiveDate,
    entries: Vec<EntryListing>,
    total_minutes: i64,
}

/// GET /time: the user's entries of one week.
pub async fn week(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<WeekQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let day = query.week.as_deref().and_then(|w| w.parse::<NaiveDate>().ok()).unwrap_or_else(today);
    let (start, entries) = service::week(&state.db, &user.actor, day).await?;
    let total_minutes = entries.iter().map(|e| i64::from(e.entry.minutes)).sum();
    let week = chrono::Duration::days(7);
    html_page(&WeekPage {
        layout: Layout::for_user(&user, "My time", "time", flash.0),
        start,
        end: start + chrono::Duration::days(6),
        previous: start - week,
        next: start + week,
        entries,
        total_minutes,
    })
}

/// The export range.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
}

/// GET /time/export.csv?from=&to=: the user's own entries (default: this
/// week), cells neutralised against formula injection.
pub async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let parse = |raw: &Option<String>, field: &'static str| -> Result<Option<NaiveDate>, AppError> {
        match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| ServiceError::field(field, "Use YYYY-MM-DD.").into()),
        }
    };
    let start = crate::domain::payroll::week_start(today());
    let from = parse(&query.from, "from")?.unwrap_or(start);
    let to = parse(&query.to, "to")?.unwrap_or(from + chrono::Duration::days(6));
    let body = service::csv(&state.db, &user.actor, from, to).await?;
    Ok(csv_response(&format!("time-{}-{from}-{to}.csv", user.actor.username), body))
}

/// A CSV download.
pub fn csv_response(filename: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(body)
}

/// The user's entries on a task, for the task page.
pub struct TaskTime {
    /// Whether the user works on the task (may log time).
    pub can_log: bool,
    /// Their entries.
    pub entries: Vec<TimeEntry>,
    /// Sum of minutes.
    pub total_minutes: i64,
}

impl TaskTime {
    /// Loads the section for a task the user may see.
    pub async fn load(state: &AppState, user: &CurrentUser, task_id: i64, can_log: bool) -> Result<TaskTime, AppError> {
        let entries = service::on_task(&state.db, &user.actor, task_id).await?;
        let total_minutes = entries.iter().map(|e| i64::from(e.minutes)).sum();
        Ok(TaskTime { can_log, entries, total_minutes })
    }
}
