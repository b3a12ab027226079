//! The live monitor: filters kept in the URL, a grid of cards, counters.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use futures_util::future::BoxFuture;

use crate::app::AppState;
use crate::domain::access::may_access;
use crate::domain::role::Role;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::PendingFlash;
use crate::http::layout::Layout;
use crate::http::times::Times;
use crate::services::ServiceError;
use crate::services::assign::{self, FormChoices};
use crate::services::task_views::{self, TaskCard};
use crate::store::task_views::TaskFilter;
use crate::web::live::page::{LiveRequest, LiveView, PageCtx, Shown, delete_frame};
use crate::web::live::renderer::TaskUpdate;
use crate::web::partials;

pub use super::monitor_filters::{MONITOR_PAGE_SIZE, MonitorFilters, MonitorLayout, MonitorQuery, TABLE_PAGE_SIZE};
use super::shared::{priorities, statuses, ws_url};

#[derive(Template)]
#[template(path = "tasks/monitor.html")]
struct MonitorPageView {
    layout: Layout,
    scope_label: &'static str,
    statuses: Vec<(&'static str, &'static str)>,
    priorities: Vec<&'static str>,
    choices: FormChoices,
    query: MonitorFilters,
    counters: String,
    cards: Vec<String>,
    /// The board's columns (board layout).
    board: Vec<BoardColumn>,
    page: i64,
    pages: i64,
    matching: i64,
    ws_url: String,
}

impl MonitorPageView {
    fn page_url(&self, page: i64) -> String {
        format!("/monitor?{}&view={}", self.query.query_with_page(page), self.query.layout.as_str())
    }

    /// The same tasks in another layout (filters kept).
    fn layout_url(&self, layout: &str) -> String {
        let filters = self.query.query_string();
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("/monitor?{filters}{sep}view={layout}")
    }
}

/// A column of the board: a status, its label and its cards, rendered.
pub struct BoardColumn {
    /// The status.
    pub status: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Its cards on this page.
    pub cards: String,
}

/// The board's columns, one per status, for the cards of a page.
fn board_columns(cards: &[TaskCard], times: &Times) -> Vec<BoardColumn> {
    statuses()
        .into_iter()
        .map(|(status, label)| BoardColumn {
            status,
            label,
            cards: cards
                .iter()
                .filter(|c| c.task.status == status)
                .map(|c| partials::board_card(c, times, None))
                .collect(),
        })
        .collect()
}

/// The page's tasks in its layout: cards or table rows, or the board's
/// columns.
fn rendered(layout: MonitorLayout, cards: &[TaskCard], times: &Times) -> (Vec<String>, Vec<BoardColumn>) {
    match layout {
        MonitorLayout::Cards => (cards.iter().map(|c| partials::monitor_card(c, times, None)).collect(), Vec::new()),
        MonitorLayout::Table => (cards.iter().map(|c| partials::task_row(c, times, None)).collect(), Vec::new()),
        MonitorLayout::Board => (Vec::new(), board_columns(cards, times)),
    }
}

/// GET /monitor: every task the viewer may see, live.
pub async fn monitor(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<MonitorQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let filters = MonitorFilters::parse(&query);
    let since = state.bus.sequence();
    let layout = filters.layout;
    let view =
        task_views::monitor(&state.db, &state.hub, &user.actor, filters.filter(), filters.page, layout.page_size())
            .await?;
    let choices = assign::choices(&state.db, &user.actor).await?;
    let page_filters = format!("{}&layout={}", filters.query_with_page(view.page), layout.as_str());
    let (cards, board) = rendered(layout, &view.cards, &Times::in_zone(user.zone));
    let page = MonitorPageView {
        layout: Layout::for_user(&user, "Monitor", "monitor", flash.0),
        scope_label: if user.actor.role == Role::Lead { "Your team's tasks" } else { "All tasks" },
        statuses: statuses(),
        priorities: priorities(),
        choices,
        counters: partials::counters(&view.counters, false),
        cards,
        board,
        page: view.page,
        pages: view.pages(),
        matching: view.matching,
        ws_url: ws_url("monitor", &page_filters, since),
        query: filters,
    };
    crate::http::render::html_page(&page)
}

/// The monitor, live: cards change in place, appear when a task starts to
/// match the filters (first page only), leave when it stops matching or
/// leaves the viewer's scope; the counters follow.
pub struct MonitorLive {
    filters: MonitorFilters,
    shown: Shown,
    /// The status each shown task had when last sent (the board moves a
    /// card between columns when it changes).
    statuses: HashMap<i64, String>,
    counters_stale: bool,
}

/// Opens the monitor's live view (its filters from the query).
pub fn live_view(request: &LiveRequest<'_>) -> Box<dyn LiveView> {
    let query: MonitorQuery = serde_urlencoded::from_str(request.query).unwrap_or_default();
    Box::new(MonitorLive {
        filters: MonitorFilters::parse(&query),
        shown: Shown::default(),
        statuses: HashMap::new(),
        counters_stale: false,
    })
}

impl LiveView for MonitorLive {
    fn task_frame(&mut self, ctx: &PageCtx, update: &TaskUpdate) -> ByteString {
        let card = &update.card;
        let id = card.task.id;
        let shown = self.shown.contains(id);
        let fragments = update.fragments(ctx.zone);
        let fits = may_access(ctx.viewer(), &card.assignee_teams) && self.filters.matches(card);
        // Unfiltered admin and manager monitors show the all-task counters
        // the update carries; others recount for their scope.
        let global = matches!(ctx.actor.role, Role::Admin | Role::Manager) && self.filters.is_unfiltered();
        let counters = if global { update.all_counters.as_deref().unwrap_or("") } else { "" };
        self.counters_stale |= !global;
        let layout = self.filters.layout;
        let was = self.statuses.insert(id, card.task.status.clone());
        if shown && fits {
            self.shown.insert(card);
            match layout {
                MonitorLayout::Cards if global => fragments.card_counters_frame.clone(),
                MonitorLayout::Cards => fragments.card_frame.clone(),
                MonitorLayout::Table if global => fragments.row_counters_frame.clone(),
                MonitorLayout::Table => fragments.row_frame.clone(),
                // Same column: in place; another: it moves to the new column's top.
                MonitorLayout::Board if was.as_deref() == Some(card.task.status.as_str()) => {
                    if global {
                        fragments.board_counters_frame.clone()
                    } else {
                        fragments.board_frame.clone()
                    }
                }
                MonitorLayout::Board => format!(
                    "{}{}{counters}",
                    delete_frame(&format!("mon-{id}")),
                    partials::insert_first(&format!("#col-{}", card.task.status), &fragments.board_html)
                )
                .into(),
            }
        } else if shown {
            self.shown.remove(id);
            self.statuses.remove(&id);
            format!("{}{counters}", delete_frame(&format!("mon-{id}"))).into()
        } else if fits && self.filters.page == 1 {
            self.shown.insert(card);
            let inserted = match layout {
                MonitorLayout::Cards => fragments.monitor_new_html.clone(),
                MonitorLayout::Table => partials::row_frame(&format!(
                    r#"<tbody hx-swap-oob="afterbegin:#monitor-rows">{}</tbody>"#,
                    fragments.row_html
                )),
                MonitorLayout::Board => {
                    partials::insert_first(&format!("#col-{}", card.task.status), &fragments.board_html)
                }
            };
            format!("{inserted}{counters}").into()
        } else {
            self.statuses.remove(&id);
            counters.to_string().into()
        }
    }

    fn shows_person(&self, _ctx: &PageCtx, user_id: i64) -> bool {
        self.shown.has_person(user_id)
    }

    fn counters_stale(&self) -> bool {
        self.counters_stale
    }

    fn stale_counters(&mut self) -> Option<TaskFilter> {
        std::mem::take(&mut self.counters_stale).then(|| self.filters.filter())
    }

    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let filters = &self.filters;
            let size = filters.layout.page_size();
            let page =
                task_views::monitor(&state.db, &state.hub, &ctx.actor, filters.filter(), filters.page, size).await?;
            self.shown = Shown::of(&page.cards);
            self.statuses = page.cards.iter().map(|c| (c.task.id, c.task.status.clone())).collect();
            let times = ctx.times();
            let content = match filters.layout {
                MonitorLayout::Cards => {
                    let inner: String = page.cards.iter().map(|c| partials::monitor_card(c, &times, None)).collect();
                    format!(r#"<div id="monitor-grid" hx-swap-oob="innerHTML">{inner}</div>"#)
                }
                MonitorLayout::Table => {
                    let inner: String = page.cards.iter().map(|c| partials::task_row(c, &times, None)).collect();
                    partials::row_frame(&format!(r#"<tbody id="monitor-rows" hx-swap-oob="innerHTML">{inner}</tbody>"#))
                }
                MonitorLayout::Board => board_columns(&page.cards, &times)
                    .into_iter()
                    .map(|c| format!(r#"<div id="col-{}" hx-swap-oob="innerHTML">{}</div>"#, c.status, c.cards))
                    .collect(),
            };
            Ok(format!("{content}{}", partials::counters(&page.counters, true)))
        })
    }

    fn learn_shown<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let filter = task_views::scoped(&ctx.actor, self.filters.filter());
            let size = self.filters.layout.page_size();
            let people = task_views::shown_people(&state.db, filter, self.filters.page, size).await?;
            self.shown = Shown::from_people(people);
            // Unknown until a task changes: its first change moves its card
            // to the column of its (new) status.
            self.statuses.clear();
            Ok(())
        })
    }
}
