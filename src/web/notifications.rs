//! The notification centre: the list, the header bell, marking read.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::services::notifications as service;
use crate::store::notifications::Notification;
use crate::web::partials;

#[derive(Template)]
#[template(path = "notifications/page.html")]
struct NotificationsPage {
    layout: Layout,
    items: Vec<Notification>,
    unread: i64,
}

/// GET /notifications.
pub async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let (items, unread) = service::overview(&state.db, &user.actor).await?;
    let page =
        NotificationsPage { layout: Layout::for_user(&user, "Notifications", "notifications", flash.0), items, unread };
    crate::http::render::html_page(&page)
}

/// GET /notifications/bell: the header bell with the unread count (htmx).
pub async fn bell(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let unread = service::unread(&state.db, user.actor.id).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(partials::bell(unread, false)))
}

/// POST /notifications/{id}/read.
pub async fn mark_read(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    service::mark_read(&state.db, &state.bus, &user.actor, path.into_inner()).await?;
    Ok(flash::redirect("/notifications", Level::Success, "Marked read."))
}

/// POST /notifications/read-selected: the ticked ones (repeated `ids`).
pub async fn mark_selected_read(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut ids = Vec::new();
    for (key, value) in form.into_inner() {
        if key == "ids" {
            match value.trim().parse::<i64>() {
                Ok(id) => ids.push(id),
                Err(_) => return Ok(flash::redirect("/notifications", Level::Error, "That selection is not valid.")),
            }
        }
    }
    match service::mark_selected_read(&state.db, &state.bus, &user.actor, ids).await {
        Ok(n) => Ok(flash::redirect("/notifications", Level::Success, format!("{n} marked read."))),
        Err(err) => flash::refused("/notifications", err),
    }
}

/// POST /notifications/read-all.
pub async fn mark_all_read(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let n = service::mark_all_read(&state.db, &state.bus, &user.actor).await?;
    Ok(flash::redirect("/notifications", Level::Success, format!("{n} marked read.")))
}
