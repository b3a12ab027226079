//! The live monitor: filters kept in the URL, a grid of cards, counters.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::role::Role;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::PendingFlash;
use crate::services::assign::{self, FormChoices};
use crate::services::task_views::{self};
use crate::store::task_views::TaskFilter;
use crate::web::layout::Layout;
use crate::web::partials;

use super::shared::{known_status, priorities, statuses, ws_url};

/// Cards per monitor page.
pub const MONITOR_PAGE_SIZE: i64 = 60;

/// Monitor filters, kept in the URL.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MonitorQuery {
    status: Option<String>,
    priority: Option<String>,
    team: Option<String>,
    project: Option<String>,
    assignee: Option<String>,
    page: Option<String>,
}

/// Parsed monitor filters.
#[derive(Debug, Default, Clone)]
pub struct MonitorFilters {
    /// Status.
    pub status: Option<String>,
    /// Priority.
    pub priority: Option<String>,
    /// Team id.
    pub team: Option<i64>,
    /// Project id.
    pub project: Option<i64>,
    /// Assignee id.
    pub assignee: Option<i64>,
    /// Page (from 1).
    pub page: i64,
}

impl MonitorFilters {
    /// Parses the query; unknown or malformed values mean "no filter".
    pub fn parse(query: &MonitorQuery) -> MonitorFilters {
        let id = |raw: &Option<String>| raw.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
        MonitorFilters {
            status: known_status(query.status.as_deref()),
            priority: query.priority.clone().filter(|p| p.parse::<crate::domain::task::Priority>().is_ok()),
            team: id(&query.team),
            project: id(&query.project),
            assignee: id(&query.assignee),
            page: id(&query.page).unwrap_or(1).max(1),
        }
    }

    /// The store filter.
    pub fn filter(&self) -> TaskFilter {
        TaskFilter {
            status: self.status.clone(),
            priority: self.priority.clone(),
            team_id: self.team,
            project_id: self.project,
            assignee_id: self.assignee,
            scope: None,
        }
    }

    /// The filters and a page number as a query string.
    pub fn query_with_page(&self, page: i64) -> String {
        let filters = self.query_string();
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("{filters}{sep}page={page}")
    }

    /// The filters as a query string (without the page).
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.status {
            parts.push(format!("status={s}"));
        }
        if let Some(p) = &self.priority {
            parts.push(format!("priority={p}"));
        }
        for (name, value) in [("team", self.team), ("project", self.project), ("assignee", self.assignee)] {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        }
        parts.join("&")
    }
}

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
    page: i64,
    pages: i64,
    matching: i64,
    ws_url: String,
}

impl MonitorPageView {
    fn page_url(&self, page: i64) -> String {
        format!("/monitor?{}", self.query.query_with_page(page))
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
    let view =
        task_views::monitor(&state.db, &state.hub, &user.actor, filters.filter(), filters.page, MONITOR_PAGE_SIZE)
            .await?;
    let choices = assign::choices(&state.db, &user.actor).await?;
    let page_filters = filters.query_with_page(view.page);
    let page = MonitorPageView {
        layout: Layout::for_user(&user, "Monitor", "monitor", flash.0),
        scope_label: if user.actor.role == Role::Lead { "Your team's tasks" } else { "All tasks" },
        statuses: statuses(),
        priorities: priorities(),
        choices,
        counters: partials::counters(&view.counters, false),
        cards: view.cards.iter().map(|c| partials::monitor_card(c, None)).collect(),
        page: view.page,
        pages: view.pages(),
        matching: view.matching,
        ws_url: ws_url("monitor", &page_filters, since),
        query: filters,
    };
    crate::http::render::html_page(&page)
}
