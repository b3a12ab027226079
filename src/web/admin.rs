//! Administration: users (enable/disable) and the audit log.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::services::{RequestMeta, accounts, audit, payroll};
use crate::store::audit::AuditEntry;
use crate::store::users::UserListing;

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<(UserListing, crate::domain::payroll::RateHistory)>,
    today: chrono::NaiveDate,
}

/// GET /admin/users.
pub async fn users(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<impl actix_web::Responder, AppError> {
    let users = accounts::list_users_with_rates(&state.db).await?;
    Ok(UsersPage { layout: Layout::for_user(&user, "Users", "users", flash.0), users, today: crate::db::now().date() })
}

/// The rate form.
#[derive(Debug, serde::Deserialize)]
pub struct RateForm {
    #[serde(default)]
    rate: String,
    #[serde(default)]
    effective_from: String,
}

/// POST /admin/users/{id}/rate: a new hourly rate from a day on; pending
/// pay periods follow, approved ones are never changed.
pub async fn set_rate(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    meta: RequestMeta,
    form: web::Form<RateForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    match payroll::set_rate(&state.db, &user.actor, &meta, id, &form.rate, &form.effective_from).await {
        Ok(()) => Ok(flash::redirect("/admin/users", Level::Success, "Hourly rate saved.")),
        Err(err) => flash::refused("/admin/users", err),
    }
}

/// POST /admin/users/{id}/disable: ends the user's sessions and sockets.
pub async fn disable(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    accounts::set_active(&state.db, &state.hub, Some(user.actor.id), id, false, meta).await?;
    Ok(flash::redirect("/admin/users", Level::Success, "User disabled; their sessions and tokens no longer work."))
}

/// POST /admin/users/{id}/enable.
pub async fn enable(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    accounts::set_active(&state.db, &state.hub, Some(user.actor.id), path.into_inner(), true, meta).await?;
    Ok(flash::redirect("/admin/users", Level::Success, "User enabled."))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditEntry>,
    page: i64,
    pages: i64,
    total: i64,
    denied_only: bool,
}

/// Audit log query.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    page: Option<i64>,
    denied: Option<bool>,
}

const PER_PAGE: i64 = 50;

/// GET /admin/audit?page=&denied=.
pub async fn audit(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<AuditQuery>,
) -> Result<impl actix_web::Responder, AppError> {
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let denied_only = query.denied.unwrap_or(false);
    let (entries, total) = audit::page(&state.db, denied_only, page, PER_PAGE).await?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    Ok(AuditPage {
        layout: Layout::for_user(&user, "Audit log", "audit", None),
        entries,
        page,
        pages,
        total,
        denied_only,
    })
}
