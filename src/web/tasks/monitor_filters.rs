//! The monitor's filters and layouts, as kept in the URL (`?view=` and
//! the filters on the page, `layout=` on its socket), and which tasks they
//! let through.

use serde::Deserialize;

use crate::services::task_views::TaskCard;
use crate::store::task_views::TaskFilter;

use super::shared::known_status;

/// Cards per monitor page (cards and board).
pub const MONITOR_PAGE_SIZE: i64 = 60;
/// Rows per page of the monitor's table.
pub const TABLE_PAGE_SIZE: i64 = 100;

/// How the monitor shows the tasks (`?view=` on the page, `layout=` on its
/// socket, whose `view` names the page).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum MonitorLayout {
    /// Columns by status with compact cards.
    Board,
    /// One row per task, sortable.
    Table,
    /// Full cards with their latest updates.
    #[default]
    Cards,
}

impl MonitorLayout {
    fn parse(raw: Option<&str>) -> MonitorLayout {
        match raw {
            Some("board") => MonitorLayout::Board,
            Some("table") => MonitorLayout::Table,
            _ => MonitorLayout::Cards,
        }
    }

    /// Its name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorLayout::Board => "board",
            MonitorLayout::Table => "table",
            MonitorLayout::Cards => "cards",
        }
    }

    /// Tasks per page.
    pub fn page_size(self) -> i64 {
        if self == MonitorLayout::Table { TABLE_PAGE_SIZE } else { MONITOR_PAGE_SIZE }
    }
}

/// Monitor filters, kept in the URL.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MonitorQuery {
    status: Option<String>,
    priority: Option<String>,
    team: Option<String>,
    project: Option<String>,
    assignee: Option<String>,
    /// Overdue tasks only ("1").
    overdue: Option<String>,
    page: Option<String>,
    /// The page's layout.
    view: Option<String>,
    /// The same on the socket (where `view` names the page).
    layout: Option<String>,
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
    /// Open tasks past due only.
    pub overdue: bool,
    /// Page (from 1).
    pub page: i64,
    /// Board, table or cards.
    pub layout: MonitorLayout,
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
            overdue: matches!(query.overdue.as_deref().map(str::trim), Some("1" | "true" | "on")),
            page: id(&query.page).unwrap_or(1).max(1),
            layout: MonitorLayout::parse(query.layout.as_deref().or(query.view.as_deref())),
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
            open: None,
            overdue_at: self.overdue.then(crate::db::now),
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
        if self.overdue {
            parts.push("overdue=1".to_string());
        }
        for (name, value) in [("team", self.team), ("project", self.project), ("assignee", self.assignee)] {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        }
        parts.join("&")
    }
}

impl MonitorFilters {
    /// Whether a task fits the filters.
    pub fn matches(&self, card: &TaskCard) -> bool {
        let task = &card.task;
        self.status.as_ref().is_none_or(|s| *s == task.status)
            && self.priority.as_ref().is_none_or(|p| *p == task.priority)
            && self.project.is_none_or(|p| task.project_id == Some(p))
            && self.assignee.is_none_or(|a| card.assignee_teams.iter().any(|(user, _)| *user == a))
            && self.team.is_none_or(|t| card.assignee_teams.iter().any(|(_, team)| *team == Some(t)))
            && (!self.overdue || card.overdue)
    }

    /// No filter narrows the tasks (the all-task counters apply).
    pub fn is_unfiltered(&self) -> bool {
        self.status.is_none()
            && self.priority.is_none()
            && self.team.is_none()
            && self.project.is_none()
            && self.assignee.is_none()
            && !self.overdue
    }
}
