//! Settings: the organisation's (admins: the default time zone) and each
//! person's own time zone (on their profile).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::render::{html_page, html_status};
use crate::services::settings;
use crate::services::{RequestMeta, ServiceError};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    /// The organisation's zone, as stored or as typed.
    zone: String,
    error: Option<String>,
}

/// GET /admin/settings.
pub async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    html_page(&SettingsPage {
        layout: Layout::for_user(&user, "Settings", "settings", flash.0),
        zone: state.org.zone().name().to_string(),
        error: None,
    })
}

/// The time zone forms (organisation's and personal).
#[derive(Debug, Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    time_zone: String,
}

/// POST /admin/settings: the organisation's default time zone.
pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    form: web::Form<ZoneForm>,
) -> Result<HttpResponse, AppError> {
    match settings::set_org_zone(&state.db, &state.org, &user.actor, &meta, &form.time_zone).await {
        Ok(zone) => Ok(flash::redirect(
            "/admin/settings",
            Level::Success,
            format!("Saved: times are shown in {} unless a person chose their own zone.", zone.name()),
        )),
        Err(ServiceError::Invalid(errors)) => html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SettingsPage {
                layout: Layout::for_user(&user, "Settings", "settings", None),
                zone: form.time_zone.clone(),
                error: errors.get("time_zone").cloned(),
            },
        ),
        Err(err) => Err(err.into()),
    }
}

/// POST /profile/time-zone: the signed-in person's own zone (empty: the
/// organisation's).
pub async fn save_mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ZoneForm>,
) -> Result<HttpResponse, AppError> {
    match settings::set_my_zone(&state.db, &user.actor, &form.time_zone).await {
        Ok(Some(zone)) => {
            Ok(flash::redirect("/profile", Level::Success, format!("Saved: times are shown in {}.", zone.name())))
        }
        Ok(None) => Ok(flash::redirect(
            "/profile",
            Level::Success,
            format!("Saved: times follow the organisation's zone ({}).", state.org.zone().name()),
        )),
        Err(ServiceError::Invalid(errors)) => Ok(flash::redirect(
            "/profile",
            Level::Error,
            errors.get("time_zone").map_or("Choose a time zone from the list.", String::as_str),
        )),
        Err(err) => Err(err.into()),
    }
}
