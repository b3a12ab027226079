//! The API document: every JSON endpoint described once (OpenAPI 3.1, from
//! the handlers' own annotations and the request and response types),
//! served at `/api/openapi.json` and read at `/api/docs` through the
//! vendored Swagger UI.

use actix_web::HttpResponse;
use askama::Template;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::json::{ApiError, AutomationLog, JobStatus, Me, TaskJson, TaskList, TaskStatusPage};
use super::tasks::ProgressBody;
use crate::http::errors::AppError;
use crate::services::progress::UpdateAnswer;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Taskpulse API",
        description = "Tasks, progress and automation. Every call but the document itself needs \
                       `Authorization: Bearer <token>` (a token from your profile page or `taskpulse user token`)."
    ),
    paths(
        super::me,
        super::tasks::employee_tasks,
        super::tasks::progress,
        super::tasks::complete,
        super::tasks::task_status,
        super::automation::job_status,
        super::automation::automation_log,
        live_feed,
        openapi_json,
        docs,
    ),
    components(schemas(ApiError, TaskJson, TaskList, TaskStatusPage, Me, JobStatus, AutomationLog, ProgressBody, UpdateAnswer)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the Bearer token scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The live feed is a WebSocket served by the live layer; this entry only
/// describes it.
#[utoipa::path(
    get,
    path = "/api/live/",
    tag = "live",
    responses(
        (status = 101, description = "Upgraded: JSON messages `{\"type\":\"task\",…}`, `{\"type\":\"presence\",…}`, `{\"type\":\"notifications\",…}`, `{\"type\":\"resync\"}`"),
        (status = 400, description = "Not a WebSocket upgrade", body = ApiError),
        (status = 401, description = "No or an invalid token", body = ApiError),
    ),
    security(("bearer" = []))
)]
#[expect(dead_code, reason = "documents a route whose handler lives in the live layer")]
fn live_feed() {}

/// GET /api/openapi.json: the document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "docs", responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[derive(Template)]
#[template(path = "api/docs.html")]
struct DocsPage;

/// GET /api/docs: the document, readable (Swagger UI, served from here).
#[utoipa::path(get, path = "/api/docs", tag = "docs", responses((status = 200, description = "The document as a page", content_type = "text/html")))]
pub async fn docs() -> Result<HttpResponse, AppError> {
    let page = DocsPage.render().map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page))
}
