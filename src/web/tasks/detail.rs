//! A task's detail page with its trail, and status changes.

use actix_web::{HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::access::may_access;
use crate::domain::role::Role;
use crate::domain::task::TaskStatus;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::times::Times;
use crate::services::ServiceError;
use crate::services::progress::{self};
use crate::services::task_views::{self, TaskCard};
use crate::web::live::page::{LiveRequest, LiveView, PageCtx};
use crate::web::live::renderer::TaskUpdate;
use crate::web::partials;

use super::shared::{parse_version, summary, ws_url};

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
    let status_actions: Vec<(&str, &str)> = match card.task.status.parse::<TaskStatus>() {
        Ok(status) if matches!(role, Role::Admin | Role::Manager) => {
            status.actions().iter().map(|(to, label)| (to.as_str(), *label)).collect()
        }
        _ => Vec::new(),
    };
    let assigned = card.assignees.iter().any(|a| a.user_id == user.actor.id);
    let time = crate::web::time::TaskTime::load(&state, &user, task_id, assigned).await?;
    let page = DetailPage {
        time,
        layout: Layout::for_user(&user, card.task.title.clone(), "", flash.0),
        state: partials::task_state(&card, &Times::in_zone(user.zone), false),
        skills: skills.into_iter().map(|(_, name, level)| (name, level)).collect(),
        can_edit: role != Role::Employee,
        status_actions,
        ws_url: ws_url("detail", &format!("task={task_id}"), since),
        card,
    };
    crate::http::render::html_page(&page)
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
    #[expect(dead_code, reason = "checked by the access middleware; named so the form parses")]
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

/// A task's detail page, live: its state block and assignees' presence.
pub struct DetailLive {
    task_id: Option<i64>,
    people: Vec<i64>,
}

#[derive(Deserialize)]
struct DetailQuery {
    task: Option<String>,
}

/// Opens the detail page's live view (`task=` names the task).
pub fn live_view(request: &LiveRequest<'_>) -> Box<dyn LiveView> {
    let task_id =
        serde_urlencoded::from_str::<DetailQuery>(request.query).ok().and_then(|q| q.task).and_then(|t| t.parse().ok());
    Box::new(DetailLive { task_id, people: Vec::new() })
}

impl DetailLive {
    fn remember(&mut self, card: &TaskCard) {
        self.people = card.assignees.iter().map(|a| a.user_id).collect();
    }
}

impl LiveView for DetailLive {
    fn task_frame(&mut self, ctx: &PageCtx, update: &TaskUpdate) -> ByteString {
        if self.task_id != Some(update.card.task.id) || !may_access(ctx.viewer(), &update.card.assignee_teams) {
            return ByteString::new();
        }
        self.remember(&update.card);
        update.fragments(ctx.zone).state_frame.clone()
    }

    fn shows_person(&self, _ctx: &PageCtx, user_id: i64) -> bool {
        self.people.contains(&user_id)
    }

    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let Some(task_id) = self.task_id else { return Ok(String::new()) };
            let recent = Some(partials::STATE_UPDATES as i64);
            let card = task_views::card(&state.db, &state.hub, &ctx.actor, task_id, recent).await?;
            self.remember(&card);
            Ok(partials::task_state(&card, &ctx.times(), true))
        })
    }

    fn learn_shown<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            if let Some(task_id) = self.task_id {
                let card = task_views::card(&state.db, &state.hub, &ctx.actor, task_id, Some(0)).await?;
                self.remember(&card);
            }
            Ok(())
        })
    }
}
