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
use crate::domain::role::Role;
use crate::domain::task::Occupancy;
use crate::domain::when::DueGroup;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::times::Times;
use crate::services::ServiceError;
use crate::services::progress::{self, Kind, UpdateRequest};
use crate::services::task_views::{self, MyTaskList, TaskCard};
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
    /// The groups, rendered.
    groups: String,
    list: MyTaskList,
    ws_url: String,
}

impl MinePage {
    /// The query string of another page of the list.
    fn page_link(&self, page: i64) -> String {
        match &self.status {
            Some(status) => format!("?status={status}&page={page}"),
            None => format!("?page={page}"),
        }
    }
}

/// One group of My tasks, rendered.
struct GroupView {
    group: DueGroup,
    cards: String,
}

/// Query of My tasks.
#[derive(Debug, Deserialize)]
pub struct MineQuery {
    status: Option<String>,
    page: Option<i64>,
}

/// The group a card falls in for a viewer.
fn group_of(card: &TaskCard, times: &Times) -> DueGroup {
    DueGroup::of(card.is_open(), card.task.due_at, times.now, times.zone)
}

/// The cards of a list, rendered into their groups (every group, empty
/// ones too: live updates insert into them).
fn grouped(list: &MyTaskList, times: &Times, csrf: &str, role: Role) -> Vec<GroupView> {
    DueGroup::ALL
        .into_iter()
        .map(|group| GroupView {
            group,
            cards: list
                .open
                .iter()
                .chain(&list.closed)
                .filter(|c| group_of(c, times) == group)
                .map(|c| partials::my_card(c, times, csrf, role, None))
                .collect(),
        })
        .collect()
}

/// The groups of My tasks (`#my-tasks`' content, on the page and in a
/// resync).
#[derive(Template)]
#[template(path = "tasks/_my_groups.html")]
struct MyGroups<'a> {
    groups: &'a [GroupView],
    list: &'a MyTaskList,
    status: &'a Option<String>,
}

impl MyGroups<'_> {
    fn html(&self) -> String {
        self.render().unwrap_or_else(|err| {
            tracing::error!(error = %err, "My tasks' groups failed to render");
            String::new()
        })
    }
}

/// GET /tasks: the signed-in user's tasks, with the progress form.
pub async fn mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<MineQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let status = known_status(query.status.as_deref().filter(|s| !s.is_empty()));
    let page = query.page.unwrap_or(1).max(1);
    let since = state.bus.sequence();
    let list = task_views::my_task_list(&state.db, &state.hub, &user.actor, status.clone(), page).await?;
    let times = Times::in_zone(user.zone);
    let filters = [status.as_ref().map(|s| format!("status={s}")), Some(format!("page={page}"))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("&");
    let page = MinePage {
        layout: Layout::for_user(&user, "My tasks", "mine", flash.0),
        me: user.actor.id,
        my_occupancy: state.hub.occupancy(user.actor.id),
        statuses: statuses(),
        groups: MyGroups {
            groups: &grouped(&list, &times, user.csrf(), user.actor.role),
            list: &list,
            status: &status,
        }
        .html(),
        list,
        ws_url: ws_url("mine", &filters, since),
        status,
    };
    crate::http::render::html_page(&page)
}

/// My tasks, live: the viewer's cards appear, change, move between groups
/// and leave as tasks are assigned to them, updated, and reassigned away or
/// filtered out.
pub struct MineLive {
    status: Option<String>,
    page: i64,
    shown: Shown,
    /// The group each shown card is in, and whether it offers its controls
    /// (as last sent).
    placed: HashMap<i64, (DueGroup, bool)>,
}

/// Opens My tasks' live view (`status=` and `page=` as the page's).
pub fn live_view(request: &LiveRequest<'_>) -> Box<dyn LiveView> {
    let query: MineQuery = serde_urlencoded::from_str(request.query).unwrap_or(MineQuery { status: None, page: None });
    Box::new(MineLive {
        status: known_status(query.status.as_deref()),
        page: query.page.unwrap_or(1).max(1),
        shown: Shown::default(),
        placed: HashMap::new(),
    })
}

impl MineLive {
    async fn list(&self, state: &AppState, ctx: &PageCtx) -> Result<MyTaskList, ServiceError> {
        task_views::my_task_list(&state.db, &state.hub, &ctx.actor, self.status.clone(), self.page).await
    }

    fn learn(&mut self, list: &MyTaskList, times: &Times, role: Role) {
        self.shown = Shown::default();
        self.placed.clear();
        for card in list.open.iter().chain(&list.closed) {
            self.shown.insert(card);
            self.placed.insert(card.task.id, (group_of(card, times), partials::offers_controls(card, role)));
        }
    }
}

impl LiveView for MineLive {
    fn task_frame(&mut self, ctx: &PageCtx, update: &TaskUpdate) -> ByteString {
        let card = &update.card;
        let id = card.task.id;
        let mine = card.assignee_teams.iter().any(|(user, _)| *user == ctx.actor.id);
        let fits = self.status.as_ref().is_none_or(|s| *s == card.task.status);
        let times = ctx.times();
        let place = (group_of(card, &times), partials::offers_controls(card, ctx.actor.role));
        let before = self.placed.get(&id).copied();
        if !(mine && fits) {
            return if self.shown.contains(id) {
                self.shown.remove(id);
                self.placed.remove(&id);
                delete_frame(&format!("mine-{id}"))
            } else {
                ByteString::new()
            };
        }
        self.shown.insert(card);
        self.placed.insert(id, place);
        let insert = || {
            partials::insert_first(
                &format!("#my-{}", place.0.key()),
                &partials::my_card(card, &times, &ctx.csrf, ctx.actor.role, None),
            )
        };
        match before {
            Some(was) if was == place => update.fragments(ctx.zone).state_frame.clone(),
            // Done, cancelled or reopened in the same group: the controls change.
            Some((group, _)) if group == place.0 => {
                partials::my_card(card, &times, &ctx.csrf, ctx.actor.role, Some("true")).into()
            }
            Some(_) => format!("{}{}", delete_frame(&format!("mine-{id}")), insert()).into(),
            None => insert().into(),
        }
    }

    fn shows_person(&self, ctx: &PageCtx, user_id: i64) -> bool {
        // The page shows the viewer's own indicator ("You are …") only.
        user_id == ctx.actor.id
    }

    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let list = self.list(state, ctx).await?;
            let times = ctx.times();
            self.learn(&list, &times, ctx.actor.role);
            let groups = grouped(&list, &times, &ctx.csrf, ctx.actor.role);
            let inner = MyGroups { groups: &groups, list: &list, status: &self.status }.html();
            Ok(format!(r#"<div id="my-tasks" hx-swap-oob="innerHTML">{inner}</div>"#))
        })
    }

    fn learn_shown<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let list = self.list(state, ctx).await?;
            self.learn(&list, &ctx.times(), ctx.actor.role);
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
