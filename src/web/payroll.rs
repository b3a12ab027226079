//! The Payroll page (admins): pay periods, their lines per employee and
//! rate, approve, mark paid, CSV export.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::payroll::{PeriodStatus, format_hours, format_money};
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::render::{html_page, html_status};
use crate::services::payroll::{self as service, PeriodReport};
use crate::services::{RequestMeta, ServiceError};
use crate::store::payroll::Period;

#[derive(Template)]
#[template(path = "payroll/list.html")]
struct ListPage {
    layout: Layout,
    periods: Vec<Period>,
    /// The week field's value: last week, or what was typed.
    week: String,
    /// Why the typed week was refused.
    week_error: Option<String>,
}

/// The list with the generate form showing `week` and its error, if any.
async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    flash: Option<flash::Flash>,
    week: Option<String>,
    week_error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let periods = service::periods(&state.db, &user.actor).await?;
    let week = week.unwrap_or_else(|| crate::domain::payroll::previous_week(crate::db::now().date()).0.to_string());
    let status = if week_error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let layout = Layout::for_user(user, "Payroll", "payroll", flash);
    html_status(status, &ListPage { layout, periods, week, week_error })
}

#[derive(Template)]
#[template(path = "payroll/period.html")]
struct PeriodPage {
    layout: Layout,
    report: PeriodReport,
    currency: String,
}

impl PeriodPage {
    fn hours(&self, minutes: &i64) -> String {
        format_hours(*minutes)
    }

    fn money(&self, cents: &i64) -> String {
        format_money(*cents, &self.currency)
    }
}

/// GET /payroll.
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    list_page(&state, &user, flash.0, None, None).await
}

/// The generate form.
#[derive(Debug, Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    week: String,
}

/// POST /payroll: creates (or recomputes, while pending) a week's period.
pub async fn generate(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    form: web::Form<GenerateForm>,
) -> Result<HttpResponse, AppError> {
    match service::generate_week(&state.db, &user.actor, &meta, &form.week).await {
        Ok(id) => {
            Ok(flash::redirect(&format!("/payroll/{id}"), Level::Success, "Pay period computed from time entries."))
        }
        Err(ServiceError::Invalid(mut errors)) => {
            let message = errors.remove("week").unwrap_or_else(|| "Pick a week to pay.".into());
            list_page(&state, &user, None, Some(form.into_inner().week), Some(message)).await
        }
        Err(err) => flash::refused("/payroll", err),
    }
}

/// GET /payroll/{id}.
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let report = service::report(&state.db, &user.actor, path.into_inner()).await?;
    let title = format!("Payroll {} – {}", report.period.starts_on, report.period.ends_on);
    let currency = state.settings.currency.clone();
    html_page(&PeriodPage { layout: Layout::for_user(&user, title, "payroll", flash.0), report, currency })
}

async fn advance(
    state: &AppState,
    user: &CurrentUser,
    meta: &RequestMeta,
    id: i64,
    to: PeriodStatus,
) -> Result<HttpResponse, AppError> {
    let location = format!("/payroll/{id}");
    match service::advance(&state.db, &user.actor, meta, id, to).await {
        Ok(()) => Ok(flash::redirect(&location, Level::Success, format!("Period marked {to}."))),
        Err(err) => flash::refused(&location, err),
    }
}

/// POST /payroll/{id}/approve: freezes the period (its entries lock).
pub async fn approve(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    advance(&state, &user, &meta, path.into_inner(), PeriodStatus::Approved).await
}

/// POST /payroll/{id}/paid.
pub async fn mark_paid(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    advance(&state, &user, &meta, path.into_inner(), PeriodStatus::Paid).await
}

/// GET /payroll/{id}/export.csv.
pub async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (name, body) = service::csv(&state.db, &user.actor, path.into_inner()).await?;
    Ok(crate::web::time::csv_response(&name, body))
}
