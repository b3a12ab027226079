//! One open page as its socket sees it. Each live page supplies its own
//! [`LiveView`] from its own module (My tasks, the monitor, a task's detail,
//! the Jobs page), listed in the route table's [`LiveRoute`]s; the socket
//! only routes updates to the view it serves, so a new live page adds one
//! module and one table row.

use std::collections::{HashMap, HashSet};

use bytestring::ByteString;
use futures_util::future::BoxFuture;

use super::renderer::{Feed, TaskUpdate};
use crate::app::AppState;
use crate::domain::access::Viewer;
use crate::http::times::Times;
use crate::services::jobs_admin::JobsOverview;
use crate::services::task_views::TaskCard;
use crate::services::{Actor, ServiceError};
use crate::store::task_views::TaskFilter;

/// Who looks at a live page.
pub struct PageCtx {
    /// The viewer.
    pub actor: Actor,
    /// Their CSRF token, for forms in pushed fragments.
    pub csrf: String,
    /// The zone they read times in.
    pub zone: chrono_tz::Tz,
}

impl PageCtx {
    /// The viewer as the access rules see them.
    pub fn viewer(&self) -> Viewer {
        Viewer { id: self.actor.id, role: self.actor.role, team_id: self.actor.team_id }
    }

    /// Times as the viewer reads them, as of now.
    pub fn times(&self) -> Times {
        Times::in_zone(self.zone)
    }
}

/// What a socket is opened with: the page's query string (its filters) and
/// who opens it.
pub struct LiveRequest<'a> {
    /// The raw query string of `/ws` (each view parses its own filters).
    pub query: &'a str,
    /// Who opens it.
    pub ctx: &'a PageCtx,
    /// The fan-out point (a view may count itself as a viewer of something).
    pub feed: &'a Feed,
}

/// A live page kind: which frames each change means for it, and how to
/// bring it up to date. Every method but [`LiveView::resync`] defaults to
/// "nothing for this page".
pub trait LiveView: Send {
    /// The frame for a task change (empty: none).
    fn task_frame(&mut self, _ctx: &PageCtx, _update: &TaskUpdate) -> ByteString {
        ByteString::new()
    }

    /// Whether the page shows this person's presence indicator (only then
    /// is their presence pushed: an out-of-band swap needs its target).
    fn shows_person(&self, _ctx: &PageCtx, _user_id: i64) -> bool {
        false
    }

    /// The frame for a change of the job queue (empty: none).
    fn jobs_frame(&mut self, _ctx: &PageCtx, _overview: &JobsOverview) -> ByteString {
        ByteString::new()
    }

    /// The counters to recount, once, when changes left them stale.
    fn stale_counters(&mut self) -> Option<TaskFilter> {
        None
    }

    /// Whether changes left the counters stale (the socket's recount timer
    /// runs only then, so an idle page costs no wake-ups).
    fn counters_stale(&self) -> bool {
        false
    }

    /// Whether the page is refreshed on connect whatever its sequence.
    fn resync_on_connect(&self) -> bool {
        false
    }

    /// The page's whole live content again (on connect with a stale page,
    /// after missed updates, on the client's request).
    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>>;

    /// Learns what a just-rendered (current) page shows, without rendering.
    fn learn_shown<'a>(
        &'a mut self,
        _state: &'a AppState,
        _ctx: &'a PageCtx,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Opens the view of a page for a socket request.
pub type OpenView = fn(&LiveRequest<'_>) -> Box<dyn LiveView>;

/// One live page of the route table: the `view` its socket names, the page
/// whose access policy it shares, and how to open it.
#[derive(Clone, Copy)]
pub struct LiveRoute {
    /// The `view` parameter of `/ws`.
    pub view: &'static str,
    /// The page (a GET route) whose policy decides who may follow it.
    pub page: &'static str,
    /// Opens the view.
    pub open: OpenView,
}

/// The live pages, handed to the app as data by whoever registers routes.
#[derive(Clone, Copy)]
pub struct LiveRoutes(pub &'static [LiveRoute]);

/// A page with nothing live but the header (the bell): no task frames, no
/// presence.
pub struct StaticView;

impl LiveView for StaticView {
    fn resync<'a>(&'a mut self, _: &'a AppState, _: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async { Ok(String::new()) })
    }
}

/// The tasks a page shows, with the people on each (whose presence it
/// shows), kept as cards come, go and change.
#[derive(Debug, Default)]
pub struct Shown(HashMap<i64, Vec<i64>>);

impl Shown {
    /// From the cards a page was rendered with.
    pub fn of(cards: &[TaskCard]) -> Shown {
        Shown(cards.iter().map(|c| (c.task.id, people(c))).collect())
    }

    /// From task ids with their assignees.
    pub fn from_people(tasks: HashMap<i64, Vec<i64>>) -> Shown {
        Shown(tasks)
    }

    /// Whether the page shows the task.
    pub fn contains(&self, task_id: i64) -> bool {
        self.0.contains_key(&task_id)
    }

    /// Records a card as shown (again, with its current people).
    pub fn insert(&mut self, card: &TaskCard) {
        self.0.insert(card.task.id, people(card));
    }

    /// Forgets a task.
    pub fn remove(&mut self, task_id: i64) {
        self.0.remove(&task_id);
    }

    /// Whether any shown task has this person on it.
    pub fn has_person(&self, user_id: i64) -> bool {
        self.0.values().any(|people| people.contains(&user_id))
    }

    /// The shown task ids.
    pub fn ids(&self) -> HashSet<i64> {
        self.0.keys().copied().collect()
    }
}

fn people(card: &TaskCard) -> Vec<i64> {
    card.assignees.iter().map(|a| a.user_id).collect()
}

/// An out-of-band frame that removes an element by id.
pub fn delete_frame(element_id: &str) -> ByteString {
    format!(r#"<div id="{element_id}" hx-swap-oob="delete"></div>"#).into()
}
