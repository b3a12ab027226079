//! The task endpoints of seed 004: the employee's tasks, progress,
//! completion, and the admin status view.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::api::json::{ApiError, TaskJson, TaskList, TaskStatusPage, task_json};
use crate::api::paging::Paging;
use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::services::progress::{self, Kind, UpdateAnswer, UpdateRequest};
use crate::services::task_views;
use crate::services::{RequestMeta, ServiceError};
use crate::store::task_views::TaskFilter;

/// Query of the employee's list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeQuery {
    status: Option<String>,
}

fn parse_status(status: Option<String>) -> Result<Option<String>, AppError> {
    match status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<crate::domain::task::TaskStatus>()
            .map(|s| Some(s.as_str().to_string()))
            .map_err(|_| ServiceError::field("status", "Unknown status.").into()),
    }
}

/// GET /api/employee-tasks/: the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/employee-tasks/",
    tag = "tasks",
    params(("status" = Option<String>, Query, description = "PENDING, IN_PROGRESS, ON_HOLD, DONE or CANCELLED")),
    responses(
        (status = 200, description = "The caller's tasks", body = TaskList),
        (status = 401, description = "No or an invalid token", body = ApiError),
        (status = 422, description = "Unknown status", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn employee_tasks(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<EmployeeQuery>,
) -> Result<HttpResponse, AppError> {
    let status = parse_status(query.into_inner().status)?;
    let cards = task_views::my_tasks(&state.db, &state.hub, &user.actor, status).await?;
    let tasks: Vec<TaskJson> = cards.into_iter().map(|c| task_json(c, false)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tasks": tasks })))
}

/// Body of a progress update.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressBody {
    progress_percentage: Option<serde_json::Value>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    occupancy_status: Option<String>,
    #[serde(default)]
    version: Option<i32>,
}

/// Parses an optional JSON body: empty is the default, otherwise it must be
/// `application/json` and well-formed with no unknown fields.
fn json_body<T: serde::de::DeserializeOwned + Default>(req: &HttpRequest, body: &Bytes) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(AppError::UnsupportedMediaType("Content-Type must be application/json.".into()));
    }
    if body.len() > crate::config::JSON_LIMIT {
        return Err(AppError::PayloadTooLarge);
    }
    // An object only: a derived struct would also accept a JSON array of its
    // fields in order (`[50]`), which is not a valid body. Parsed straight
    // into the struct, so a key given twice is refused, not "last one wins".
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::BadRequest("Invalid JSON body: expected a JSON object.".into()));
    }
    serde_json::from_slice(body).map_err(|e| AppError::BadRequest(format!("Invalid JSON body: {e}")))
}

/// The version a client based its change on: `If-Match: "7"` or the body.
fn expected_version(req: &HttpRequest, body: Option<i32>) -> Result<Option<i32>, AppError> {
    match req.headers().get(header::IF_MATCH) {
        None => Ok(body),
        // `*` matches any current version: apply to the current state.
        Some(value) if value.to_str().is_ok_and(|v| v.trim() == "*") => Ok(body),
        Some(value) => {
            let raw = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
            raw.parse::<i32>()
                .map(Some)
                .map_err(|_| AppError::BadRequest("If-Match must be a task version, e.g. \"7\".".into()))
        }
    }
}

/// The `Idempotency-Key` header. Any UTF-8 is taken (checked by the
/// service); a key that is not UTF-8 is refused rather than ignored, which
/// would apply a retry twice.
/// An empty key is refused too: treating it as "no key" would apply the
/// client's retry twice.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    match std::str::from_utf8(value.as_bytes()) {
        Ok(key) if !key.trim().is_empty() => Ok(Some(key.to_string())),
        Ok(_) => Err(AppError::BadRequest("The Idempotency-Key header is empty; send a key or no header.".into())),
        Err(_) => {
            Err(ServiceError::field("idempotency_key", "An idempotency key is 1 to 200 printable characters.").into())
        }
    }
}

async fn run_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    task_id: i64,
    kind: Kind,
    body: Bytes,
) -> Result<HttpResponse, AppError> {
    let body: ProgressBody = json_body(&req, &body)?;
    let progress = match (kind, &body.progress_percentage) {
        (Kind::Complete, _) => 100,
        (Kind::Progress, None) => {
            return Err(ServiceError::field("progress_percentage", "progress_percentage is required.").into());
        }
        (Kind::Progress, Some(value)) => value.as_i64().ok_or_else(|| {
            ServiceError::field("progress_percentage", "Progress must be a whole number from 0 to 100.")
        })?,
    };
    let request = UpdateRequest {
        task_id,
        kind,
        progress,
        notes: body.notes.unwrap_or_default(),
        occupancy: body.occupancy_status,
        expected_version: expected_version(&req, body.version)?,
        idempotency_key: idempotency_key(&req)?,
    };
    let outcome = progress::update(&state.db, &state.bus, &user.actor, request).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::ETAG, format!("\"{}\"", outcome.answer.version)));
    if outcome.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(outcome.answer))
}

/// POST /api/task/{id}/progress/.
#[utoipa::path(
    post,
    path = "/api/task/{id}/progress/",
    tag = "tasks",
    params(
        ("id" = i64, Path, description = "Task id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays answer the first result"),
        ("If-Match" = Option<String>, Header, description = "The task version the change is based on"),
    ),
    request_body = ProgressBody,
    responses(
        (status = 200, description = "Progress stored", body = UpdateAnswer),
        (status = 400, description = "Malformed body or header", body = ApiError),
        (status = 404, description = "No such task, or not the caller's", body = ApiError),
        (status = 409, description = "The task changed meanwhile (with its current state)", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "Progress outside 0-100, or another field refused", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Bytes,
    _meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    run_update(req, state, user, path.into_inner(), Kind::Progress, body).await
}

/// POST /api/task/{id}/complete/.
#[utoipa::path(
    post,
    path = "/api/task/{id}/complete/",
    tag = "tasks",
    params(
        ("id" = i64, Path, description = "Task id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays answer the first result"),
    ),
    request_body(content = Option<ProgressBody>, description = "Optional notes and version"),
    responses(
        (status = 200, description = "Completed", body = UpdateAnswer),
        (status = 404, description = "No such task, or not the caller's", body = ApiError),
        (status = 409, description = "The task changed meanwhile", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn complete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Bytes,
) -> Result<HttpResponse, AppError> {
    run_update(req, state, user, path.into_inner(), Kind::Complete, body).await
}

/// Query of the admin status view.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    page: Option<String>,
    per_page: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    team: Option<i64>,
    project: Option<i64>,
    assignee: Option<i64>,
}

/// GET /api/admin/task-status/: every task the caller may watch, paged.
#[utoipa::path(
    get,
    path = "/api/admin/task-status/",
    tag = "tasks",
    params(
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 200, default 50"),
        ("status" = Option<String>, Query),
        ("priority" = Option<String>, Query, description = "LOW, MEDIUM, HIGH or URGENT"),
        ("team" = Option<i64>, Query),
        ("project" = Option<i64>, Query),
        ("assignee" = Option<i64>, Query),
    ),
    responses(
        (status = 200, description = "A page of tasks with counters", body = TaskStatusPage),
        (status = 403, description = "Employees may not watch every task", body = ApiError),
        (status = 422, description = "A filter or paging value refused", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn task_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let paging = Paging::parse(q.page.as_deref(), q.per_page.as_deref(), 50)?;
    let priority = match q.priority.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => Some(
            p.parse::<crate::domain::task::Priority>()
                .map_err(|_| ServiceError::field("priority", "Unknown priority."))?
                .as_str()
                .to_string(),
        ),
    };
    let filter = TaskFilter {
        status: parse_status(q.status)?,
        priority,
        team_id: q.team,
        project_id: q.project,
        assignee_id: q.assignee,
        scope: None,
        open: None,
        overdue_at: None,
    };
    let page = task_views::monitor(&state.db, &state.hub, &user.actor, filter, paging.page, paging.per_page).await?;
    let pages = page.pages();
    let tasks: Vec<TaskJson> = page.cards.into_iter().map(|c| task_json(c, true)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "tasks": tasks,
        "counts": page.counters,
        "page": page.page,
        "per_page": page.per_page,
        "pages": pages,
        "total": page.matching,
    })))
}
