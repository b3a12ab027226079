//! The job-monitoring endpoints of seed 000: a job's status and the
//! automation log (the audit trail).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::api::json::{ApiError, AutomationLog, JobStatus};
use crate::api::paging::Paging;
use crate::app::AppState;
use crate::domain::jobs::JobState;
use crate::http::errors::AppError;
use crate::services::{ServiceError, audit};

/// GET /automation/jobs/{job_id}/status → `{"job_id","status","result"}`
/// with the seed's PENDING / STARTED / SUCCESS / FAILURE / RETRY.
#[utoipa::path(
    get,
    path = "/automation/jobs/{id}/status",
    tag = "automation",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job's state and result", body = JobStatus),
        (status = 403, description = "Admins and managers only", body = ApiError),
        (status = 404, description = "No such job", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn job_status(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id: i64 = path.trim().parse().map_err(|_| AppError::from(ServiceError::NotFound))?;
    let job = state.jobs.find(id).await?.ok_or(ServiceError::NotFound)?;
    let status = job.state.parse::<JobState>().map(JobState::seed_status).unwrap_or("PENDING");
    let result = match (&job.result, &job.last_error) {
        (Some(result), _) => serde_json::from_str(result).unwrap_or(serde_json::Value::Null),
        (None, Some(error)) => serde_json::json!({ "error": error }),
        (None, None) => serde_json::Value::Null,
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "job_id": job.id.to_string(),
        "status": status,
        "result": result,
        "kind": job.kind,
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
    })))
}

/// Paging of the automation log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    page: Option<String>,
    per_page: Option<String>,
}

/// GET /automation/automation-log?page=&per_page= → the audit log, newest first.
#[utoipa::path(
    get,
    path = "/automation/automation-log",
    tag = "automation",
    params(
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 200, default 50"),
    ),
    responses(
        (status = 200, description = "A page of the audit log", body = AutomationLog),
        (status = 403, description = "Admins only", body = ApiError),
        (status = 422, description = "Paging refused", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn automation_log(state: web::Data<AppState>, query: web::Query<LogQuery>) -> Result<HttpResponse, AppError> {
    let paging = Paging::parse(query.page.as_deref(), query.per_page.as_deref(), 50)?;
    let (rows, total) = audit::page(&state.db, false, paging.page, paging.per_page).await?;
    let logs: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            serde_json::json!({
                "id": row.id,
                "user": row.actor,
                "action": row.action,
                "resource_type": row.resource_type,
                "resource_id": row.resource_id,
                "status": row.outcome,
                "created_at": row.created_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "total": total,
        "pages": paging.pages(total),
        "current_page": paging.page,
        "logs": logs,
    })))
}
