//! One open page as its socket sees it: which page it is, which tasks it
//! shows, and the frame each change means for it (or a full resync).

use std::collections::HashSet;

use bytestring::ByteString;
use serde::Deserialize;

use super::renderer::TaskUpdate;
use crate::app::AppState;
use crate::domain::access::{Viewer, may_access, sees_presence};
use crate::domain::role::Role;
use crate::services::jobs_admin;
use crate::services::task_views::{self, TaskCard};
use crate::services::{Actor, ServiceError};
use crate::store::task_views::TaskFilter;
use crate::web::partials;
use crate::web::tasks::monitor::{MONITOR_PAGE_SIZE, MonitorFilters, MonitorQuery};

/// Which page a socket serves.
#[derive(Debug, Clone)]
pub enum View {
    /// My tasks, optionally one status.
    Mine { status: Option<String> },
    /// The monitor with its filters and page.
    Monitor(MonitorFilters),
    /// One task's detail page.
    Detail { task_id: i64 },
    /// The Jobs page (admins).
    Jobs,
    /// Another page (presence only).
    Other,
}

/// Query of `/ws`: the page and its filters, and the event sequence the
/// page was rendered at.
#[derive(Debug, Default, Deserialize)]
pub struct SocketQuery {
    view: Option<String>,
    // Read as text: with `flatten`, the query deserializer hands every value
    // over as a string, so numeric fields would fail to parse.
    task: Option<String>,
    since: Option<String>,
    #[serde(flatten)]
    monitor: MonitorQuery,
}

impl SocketQuery {
    pub fn since(&self) -> Option<u64> {
        self.since.as_deref().and_then(|v| v.parse().ok())
    }

    pub fn task(&self) -> Option<i64> {
        self.task.as_deref().and_then(|v| v.parse().ok())
    }

    pub fn view(&self) -> View {
        match self.view.as_deref() {
            Some("mine") => View::Mine { status: MonitorFilters::parse(&self.monitor).status },
            Some("monitor") => View::Monitor(MonitorFilters::parse(&self.monitor)),
            Some("detail") => self.task().map_or(View::Other, |task_id| View::Detail { task_id }),
            Some("jobs") => View::Jobs,
            _ => View::Other,
        }
    }
}

/// One open page: who looks, at what, and which tasks it shows.
pub struct Page {
    /// Who looks.
    pub actor: Actor,
    /// Their CSRF token, for forms in pushed fragments.
    pub csrf: String,
    /// What they look at.
    pub view: View,
    /// The tasks the page shows.
    pub shown: HashSet<i64>,
    /// The page's counters need a recount.
    pub counters_dirty: bool,
}

impl Page {
    pub fn viewer(&self) -> Viewer {
        Viewer { id: self.actor.id, role: self.actor.role, team_id: self.actor.team_id }
    }

    /// Whether the viewer may see this person's presence.
    pub fn sees_presence(&self, user_id: i64, team_id: Option<i64>) -> bool {
        sees_presence(self.viewer(), (user_id, team_id))
    }

    /// The frame this page needs for a task change (empty: none). The common
    /// cases reuse the renderer's shared frames.
    pub fn task_message(&mut self, update: &TaskUpdate) -> ByteString {
        let id = update.card.task.id;
        let allowed = may_access(self.viewer(), &update.card.assignee_teams);
        let shown = self.shown.contains(&id);
        match &self.view {
            View::Mine { status } => {
                let mine = update.card.assignee_teams.iter().any(|(user, _)| *user == self.actor.id);
                let fits = status.as_ref().is_none_or(|s| *s == update.card.task.status);
                if mine && shown {
                    update.state_frame.clone()
                } else if mine && fits {
                    self.shown.insert(id);
                    partials::my_card(&update.card, &self.csrf, Some("afterbegin:#my-tasks")).into()
                } else if shown {
                    self.shown.remove(&id);
                    format!(r#"<div id="mine-{id}" hx-swap-oob="delete"></div>"#).into()
                } else {
                    ByteString::new()
                }
            }
            View::Monitor(filters) => {
                if !allowed {
                    if shown {
                        self.shown.remove(&id);
                        self.counters_dirty = true;
                        return format!(r#"<div id="mon-{id}" hx-swap-oob="delete"></div>"#).into();
                    }
                    return ByteString::new();
                }
                // Unfiltered admin and manager monitors show the all-task
                // counters the update carries; others recount for their scope.
                let global = matches!(self.actor.role, Role::Admin | Role::Manager)
                    && filters.priority.is_none()
                    && filters.team.is_none()
                    && filters.project.is_none()
                    && filters.assignee.is_none();
                if !global {
                    self.counters_dirty = true;
                }
                let counters = if global { update.all_counters.as_deref().unwrap_or("") } else { "" };
                if shown {
                    if global { update.card_counters_frame.clone() } else { update.card_frame.clone() }
                } else if filters.page == 1 && matches(filters, &update.card) {
                    self.shown.insert(id);
                    format!("{}{counters}", update.monitor_new_html).into()
                } else if !counters.is_empty() {
                    counters.to_string().into()
                } else {
                    ByteString::new()
                }
            }
            View::Detail { task_id } if *task_id == id && allowed => update.state_frame.clone(),
            View::Detail { .. } | View::Jobs | View::Other => ByteString::new(),
        }
    }

    /// Re-renders the whole page content (on connect with a stale page, and
    /// after missed updates).
    pub async fn resync(&mut self, state: &AppState) -> Result<String, ServiceError> {
        match self.view.clone() {
            View::Mine { status } => {
                let cards = task_views::my_tasks(&state.db, &state.hub, &self.actor, status).await?;
                self.shown = cards.iter().map(|c| c.task.id).collect();
                let inner: String = cards.iter().map(|c| partials::my_card(c, &self.csrf, None)).collect();
                Ok(format!(r#"<div id="my-tasks" hx-swap-oob="innerHTML">{inner}</div>"#))
            }
            View::Monitor(filters) => {
                let page = task_views::monitor(
                    &state.db,
                    &state.hub,
                    &self.actor,
                    filters.filter(),
                    filters.page,
                    MONITOR_PAGE_SIZE,
                )
                .await?;
                self.shown = page.cards.iter().map(|c| c.task.id).collect();
                let inner: String = page.cards.iter().map(|c| partials::monitor_card(c, None)).collect();
                Ok(format!(
                    r#"<div id="monitor-grid" hx-swap-oob="innerHTML">{inner}</div>{}"#,
                    partials::counters(&page.counters, true)
                ))
            }
            View::Detail { task_id } => {
                let recent = Some(partials::STATE_UPDATES as i64);
                let card = task_views::card(&state.db, &state.hub, &self.actor, task_id, recent).await?;
                Ok(partials::task_state(&card, true))
            }
            View::Jobs => {
                let overview = jobs_admin::overview(&state.db).await?;
                Ok(crate::web::jobs::live_fragment(&overview, &self.csrf, true))
            }
            View::Other => Ok(String::new()),
        }
    }

    /// Which tasks the page shows now, without rendering (the page itself
    /// was rendered moments ago and is current).
    pub async fn learn_shown(&mut self, state: &AppState) -> Result<(), ServiceError> {
        let (filter, page) = match &self.view {
            View::Mine { status } => (TaskFilter { status: status.clone(), ..TaskFilter::default() }, 1),
            View::Monitor(filters) => (filters.filter(), filters.page),
            View::Detail { .. } | View::Jobs | View::Other => return Ok(()),
        };
        let mut filter = task_views::scoped(&self.actor, filter);
        let per_page = if matches!(self.view, View::Mine { .. }) {
            filter.assignee_id = Some(self.actor.id);
            task_views::MY_TASKS_LIMIT
        } else {
            MONITOR_PAGE_SIZE
        };
        self.shown = task_views::task_ids(&state.db, filter, page, per_page).await?.into_iter().collect();
        Ok(())
    }
}

/// Whether a task fits the monitor's filters.
fn matches(filters: &MonitorFilters, card: &TaskCard) -> bool {
    let task = &card.task;
    filters.status.as_ref().is_none_or(|s| *s == task.status)
        && filters.priority.as_ref().is_none_or(|p| *p == task.priority)
        && filters.project.is_none_or(|p| task.project_id == Some(p))
        && filters.assignee.is_none_or(|a| card.assignee_teams.iter().any(|(user, _)| *user == a))
        && filters.team.is_none_or(|t| card.assignee_teams.iter().any(|(_, team)| *team == Some(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_query_reads_view_filters_and_sequence() {
        let query: SocketQuery = serde_urlencoded::from_str("view=monitor&status=DONE&team=3&page=2&since=5").unwrap();
        assert_eq!(query.since(), Some(5));
        assert_eq!(query.task(), None);
        match query.view() {
            View::Monitor(filters) => {
                assert_eq!((filters.status.as_deref(), filters.team, filters.page), (Some("DONE"), Some(3), 2));
            }
            other => panic!("expected the monitor view, got {other:?}"),
        }
        let query: SocketQuery = serde_urlencoded::from_str("view=detail&task=7&since=x").unwrap();
        assert_eq!((query.since(), query.task()), (None, Some(7)));
    }
}
