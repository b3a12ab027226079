//! My tasks: the employee's cards and the progress form (plain posts and
//! the page script's JSON).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::redirect::local_path;
use crate::domain::task::Occupancy;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::times::Times;
use crate::services::ServiceError;
use crate::services::progress::{self, Kind, UpdateRequest};
use crate::services::task_views::{self};
use crate::store::task_views::TaskFilter;
use crate::web::live::page::{LiveRequest, LiveView, PageCtx, Shown, delete_frame};
use crate::web::live::renderer::TaskUpdate;
use crate::web::partials;

use super::shared::{known_status, parse_version, parse_whole, statuses, summary, ws_url};

#[derive(Template)]
#[template(path = "tasks/mine.html")]
struct MinePage {
    layout: Layout,
    me: i64,
    my_occupancy: Occupancy,
    statuses: Vec<(&'static str, &'static str)>,
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
    let times = Times::in_zone(user.zone);
    let filters = status.as_ref().map(|s| format!("status={s}")).unwrap_or_default();
    let page = MinePage {
        layout: Layout::for_user(&user, "My tasks", "mine", flash.0),
        me: user.actor.id,
        my_occupancy: state.hub.occupancy(user.actor.id),
        statuses: statuses(),
        cards: cards.iter().map(|c| partials::my_card(c, &times, &csrf, user.actor.role, None)).collect(),
        ws_url: ws_url("mine", &filters, since),
        status,
    };
    crate::http::render::html_page(&page)
}

/// My tasks, live: the viewer's cards appear, change and leave as tasks are
/// assigned to them, updated, and reassigned away or filtered out.
pub struct MineLive {
    status: Option<String>,
    shown: Shown,
    /// Whether each shown card offers its controls (as last sent).
    editable: HashMap<i64, bool>,
}

/// Opens My tasks' live view (`status=` as the page's filter).
pub fn live_view(request: &LiveRequest<'_>) -> Box<dyn LiveView> {
    let query: MineQuery = serde_urlencoded::from_str(request.query).unwrap_or(MineQuery { status: None });
    Box::new(MineLive {
        status: known_status(query.status.as_deref()),
        shown: Shown::default(),
        editable: HashMap::new(),
    })
}

impl LiveView for MineLive {
    fn task_frame(&mut self, ctx: &PageCtx, update: &TaskUpdate) -> ByteString {
        let card = &update.card;
        let id = card.task.id;
        let mine = card.assignee_teams.iter().any(|(user, _)| *user == ctx.actor.id);
        let fits = self.status.as_ref().is_none_or(|s| *s == card.task.status);
        let shown = self.shown.contains(id);
        if mine && fits && shown {
            self.shown.insert(card);
            let editable = partials::offers_controls(card, ctx.actor.role);
            if self.editable.insert(id, editable) == Some(editable) {
                update.fragments(ctx.zone).state_frame.clone()
            } else {
                // Done, cancelled or reopened: the controls change too.
                partials::my_card(card, &ctx.times(), &ctx.csrf, ctx.actor.role, Some("true")).into()
            }
        } else if mine && fits {
            self.shown.insert(card);
            partials::insert_first("#my-tasks", &partials::my_card(card, &ctx.times(), &ctx.csrf, ctx.actor.role, None))
                .into()
        } else if shown {
            self.shown.remove(id);
            delete_frame(&format!("mine-{id}"))
        } else {
            ByteString::new()
        }
    }

    fn shows_person(&self, ctx: &PageCtx, user_id: i64) -> bool {
        // The page shows the viewer's own indicator ("You are …") only.
        user_id == ctx.actor.id
    }

    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let cards = task_views::my_tasks(&state.db, &state.hub, &ctx.actor, self.status.clone()).await?;
            self.shown = Shown::of(&cards);
            self.editable.clear();
            let times = ctx.times();
            let inner: String =
                cards.iter().map(|c| partials::my_card(c, &times, &ctx.csrf, ctx.actor.role, None)).collect();
            Ok(format!(r#"<div id="my-tasks" hx-swap-oob="innerHTML">{inner}</div>"#))
        })
    }

    fn learn_shown<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let filter =
                TaskFilter { status: self.status.clone(), assignee_id: Some(ctx.actor.id), ..TaskFilter::default() };
            let filter = task_views::scoped(&ctx.actor, filter);
            let people = task_views::shown_people(&state.db, filter, 1, task_views::MY_TASKS_LIMIT).await?;
            self.shown = Shown::from_people(people);
            Ok(())
        })
    }
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
    #[expect(dead_code, reason = "checked by the access middleware; named so the form parses")]
    csrf_token: String,
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
    let back = form.next.as_deref().and_then(local_path).unwrap_or("/tasks").to_string();
    let result = match update_request(task_id, &form) {
        Ok(request) => progress::update(&state.db, &state.bus, &user.actor, request).await,
        Err(err) => Err(err),
    };
    if crate::http::errors::wants_json(&req) {
        let outcome = result?;
        let recent = Some(partials::STATE_UPDATES as i64);
        let card = task_views::card(&state.db, &state.hub, &user.actor, task_id, recent).await?;
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "status": outcome.answer.status,
            "task_id": outcome.answer.task_id,
            "new_progress": outcome.answer.new_progress,
            "task_status": outcome.answer.task_status,
            "version": outcome.answer.version,
            "replayed": outcome.replayed,
            "state_html": partials::task_state(&card, &Times::in_zone(user.zone), false),
        })));
    }
    let (level, message) = match result {
        Ok(outcome) => {
            (Level::Success, format!("Saved: {}% ({}).", outcome.answer.new_progress, outcome.answer.task_status))
        }
        Err(err) => (Level::Error, refusal(err)?),
    };
    Ok(flash::redirect(&back, level, &message))
}

/// The update a progress form asks for (a quick button wins over the
/// slider; "complete" means 100 %).
fn update_request(task_id: i64, form: &ProgressForm) -> Result<UpdateRequest, ServiceError> {
    let kind = if form.action.as_deref() == Some("complete") { Kind::Complete } else { Kind::Progress };
    let raw = form.progress_quick.as_deref().filter(|q| !q.is_empty()).unwrap_or(&form.progress);
    let progress = match kind {
        Kind::Complete => 100,
        Kind::Progress => parse_whole("progress_percentage", raw, "Progress must be a whole number from 0 to 100.")?,
    };
    Ok(UpdateRequest {
        task_id,
        kind,
        progress,
        notes: form.notes.clone(),
        occupancy: form.occupancy_status.clone().or_else(|| Some("ACTIVE".into())),
        expected_version: parse_version(form.version.as_deref())?,
        idempotency_key: form.idempotency_key.clone(),
    })
}

/// The message a refused plain-form update shows (other errors pass on).
fn refusal(err: ServiceError) -> Result<String, ServiceError> {
    match err {
        ServiceError::Stale { current, .. } => Ok(format!(
            "This task changed meanwhile: it is now at {}% ({}). Review it and try again.",
            current["progress_percentage"],
            current["status"].as_str().unwrap_or("")
        )),
        ServiceError::Invalid(errors) => Ok(summary(&errors)),
        ServiceError::Conflict(message) => Ok(message),
        other => Err(other),
    }
}
