//! The live feed: one renderer turns each bus event into fragments (once,
//! whatever the number of viewers), and each open socket forwards the ones
//! its viewer may see and its page shows. A socket that falls behind is
//! resynced with a fresh rendering of its page instead of stalling others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use bytestring::ByteString;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex as AsyncMutex, broadcast};

use super::LiveEvent;
use crate::db::Db;
use crate::domain::progress::{Viewer, may_access};
use crate::domain::role::Role;
use crate::services::task_views::{self, TaskCard};
use crate::services::{Actor, ServiceError, auth};
use crate::store::task_views::TaskFilter;
use crate::web::AppState;
use crate::web::access::{CurrentUser, check_same_origin};
use crate::web::errors::AppError;
use crate::web::partials;
use crate::web::tasks::{MONITOR_PAGE_SIZE, MonitorFilters, MonitorQuery};

/// A task change, rendered once for every kind of page.
#[derive(Debug)]
pub struct TaskUpdate {
    /// The task as cards show it.
    pub card: TaskCard,
    /// Monitor card, swapped in place.
    pub monitor_html: String,
    /// The same as a ready frame (shared by every socket, never copied).
    pub card_frame: ByteString,
    /// The card followed by the all-task counters when this update carries
    /// them (else the card alone).
    pub card_counters_frame: ByteString,
    /// The live state block as a ready frame.
    pub state_frame: ByteString,
    /// Monitor card, inserted at the top of the grid.
    pub monitor_new_html: String,
    /// The live state block of My tasks and the detail page.
    pub state_html: String,
    /// The same change for API clients.
    pub json: String,
    /// Refreshed counters over all tasks, on the last update of a batch
    /// (unfiltered admin and manager monitors append them to the card, so
    /// one frame carries both).
    pub all_counters: Option<String>,
}

/// A presence change, rendered once.
#[derive(Debug)]
pub struct PresenceUpdate {
    /// Whose.
    pub user_id: i64,
    /// Their team.
    pub team_id: Option<i64>,
    /// Every indicator of this person, swapped.
    pub html: ByteString,
    /// For API clients.
    pub json: String,
}

/// What the renderer hands to sockets.
#[derive(Debug, Clone)]
pub enum Update {
    /// A task changed.
    Task(Arc<TaskUpdate>),
    /// Someone's presence changed.
    Presence(Arc<PresenceUpdate>),
    /// A user's unread count changed: (user, bell fragment, unread).
    Bell(i64, ByteString, i64),
    /// The job queue moved (for admins on the Jobs page).
    Jobs(Arc<crate::web::jobs::JobsOverview>),
    /// The renderer missed events: every page must resync.
    Resync,
}

/// Counters shared by sockets with the same filter, briefly cached so a
/// burst of changes costs one count per filter, not one per viewer.
type CounterCache = HashMap<String, (Instant, Arc<str>)>;
const COUNTER_TTL: Duration = Duration::from_millis(300);
/// How often a monitor with pending changes refreshes its counters.
const COUNTER_TICK: Duration = Duration::from_millis(250);

/// The fan-out point between the renderer and the sockets.
pub struct Feed {
    updates: broadcast::Sender<Update>,
    counters: AsyncMutex<CounterCache>,
    /// Open Jobs pages: the queue is rendered only while someone looks.
    jobs_viewers: Arc<AtomicUsize>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed { updates: broadcast::channel(1024).0, counters: AsyncMutex::default(), jobs_viewers: Arc::default() }
    }
}

/// The Jobs page is re-rendered at most this often while jobs move…
const JOBS_MIN_INTERVAL: Duration = Duration::from_millis(250);
/// …and at least this often while it is open (changes made by other
/// instances or the CLI arrive through the database only).
const JOBS_REFRESH: Duration = Duration::from_secs(5);

/// Counts an open Jobs page for as long as it lives.
struct JobsViewer(Arc<AtomicUsize>);

impl JobsViewer {
    fn enter(count: &Arc<AtomicUsize>) -> JobsViewer {
        count.fetch_add(1, Ordering::SeqCst);
        JobsViewer(count.clone())
    }
}

impl Drop for JobsViewer {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Feed {
    /// A receiver of every later update.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    /// Counters of a (scoped) filter, rendered, from the short cache.
    async fn counters(&self, db: &Db, actor: &Actor, filter: TaskFilter) -> Option<Arc<str>> {
        let key = format!("{:?}", task_views::scoped(actor, filter.clone()));
        let mut cache = self.counters.lock().await;
        if let Some((at, html)) = cache.get(&key)
            && at.elapsed() < COUNTER_TTL
        {
            return Some(html.clone());
        }
        let counters = task_views::counters(db, actor, filter).await.ok()?;
        let html: Arc<str> = partials::counters(&counters, true).into();
        cache.retain(|_, (at, _)| at.elapsed() < COUNTER_TTL);
        cache.insert(key, (Instant::now(), html.clone()));
        Some(html)
    }
}

/// Starts the renderer and the presence recorder (once per server).
pub fn start(state: Arc<AppState>) {
    let mut events = state.bus.subscribe();
    let renderer = state.clone();
    tokio::spawn(async move {
        while let Some(batch) = next_batch(&mut events).await {
            for update in render_batch(&renderer, batch).await {
                let _ = renderer.feed.updates.send(update);
            }
        }
    });
    // The Jobs page: the latest state after job changes, coalesced.
    let jobs = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = jobs.bus.jobs_notified() => {}
                () = tokio::time::sleep(JOBS_REFRESH) => {}
            }
            if jobs.feed.jobs_viewers.load(Ordering::SeqCst) == 0 {
                continue;
            }
            match crate::web::jobs::overview(&jobs).await {
                Ok(overview) => {
                    let _ = jobs.feed.updates.send(Update::Jobs(Arc::new(overview)));
                }
                Err(err) => tracing::warn!(error = %err, "could not load the job queue for the Jobs page"),
            }
            tokio::time::sleep(JOBS_MIN_INTERVAL).await;
        }
    });
    let Some(mut transitions) = state.hub.take_transitions() else { return };
    let recorder = state.clone();
    tokio::spawn(async move {
        while let Some((user_id, occupancy)) = transitions.recv().await {
            let at = crate::db::now();
            let stored = recorder
                .db
                .write(move |conn| -> Result<usize, crate::db::DbError> {
                    Ok(crate::store::presence::record(conn, user_id, occupancy.as_str(), at)?)
                })
                .await;
            if let Err(err) = stored {
                tracing::warn!(error = %err, user_id, "could not store a presence transition");
            }
            recorder.bus.presence_changed(user_id);
        }
    });
    let hub = state.hub.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        loop {
            tick.tick().await;
            hub.sweep();
        }
    });
    // Sessions ended elsewhere (another instance, expiry) close their
    // sockets within seconds: one check per distinct session, not per socket.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECHECK);
        loop {
            tick.tick().await;
            for session_id in state.hub.session_ids() {
                match auth::session_by_id(&state.db, session_id.clone(), state.settings.session).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        state.hub.disconnect_session(&session_id);
                    }
                    Err(err) => tracing::warn!(error = %err, "could not re-check a socket's session"),
                }
            }
        }
    });
}

/// Events waiting together: each task and person once, in order.
#[derive(Debug, Default)]
struct Batch {
    tasks: Vec<i64>,
    people: Vec<i64>,
    inboxes: Vec<i64>,
    missed: bool,
}

/// Most events rendered in one batch.
const MAX_BATCH: usize = 512;

fn add_to_batch(batch: &mut Batch, event: Result<LiveEvent, RecvError>) {
    match event {
        Ok(LiveEvent::TaskChanged { task_id }) if !batch.tasks.contains(&task_id) => batch.tasks.push(task_id),
        Ok(LiveEvent::PresenceChanged { user_id }) if !batch.people.contains(&user_id) => batch.people.push(user_id),
        Ok(LiveEvent::NotificationsChanged { user_id }) if !batch.inboxes.contains(&user_id) => {
            batch.inboxes.push(user_id)
        }
        Ok(_) | Err(RecvError::Closed) => {}
        Err(RecvError::Lagged(missed)) => {
            tracing::warn!(missed, "live renderer fell behind; resyncing every page");
            batch.missed = true;
        }
    }
}

/// Waits for the next event and takes whatever else is already queued, so
/// a burst of changes to one task is rendered once. `None`: the bus closed.
async fn next_batch(events: &mut broadcast::Receiver<LiveEvent>) -> Option<Batch> {
    let mut batch = Batch::default();
    match events.recv().await {
        Err(RecvError::Closed) => return None,
        first => add_to_batch(&mut batch, first),
    }
    for _ in 0..MAX_BATCH {
        match events.try_recv() {
            Ok(event) => add_to_batch(&mut batch, Ok(event)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => add_to_batch(&mut batch, Err(RecvError::Lagged(n))),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Renders a batch: each changed task once (the last one carrying the
/// refreshed all-task counters), then each presence change.
async fn render_batch(state: &AppState, batch: Batch) -> Vec<Update> {
    if batch.missed {
        return vec![Update::Resync];
    }
    let mut out = Vec::new();
    let mut tasks = Vec::new();
    for task_id in batch.tasks {
        match render_task(state, task_id).await {
            Some(Ok(update)) => tasks.push(update),
            Some(Err(())) => return vec![Update::Resync],
            None => {}
        }
    }
    if let Some(last) = tasks.last_mut() {
        match task_views::all_counters(&state.db).await {
            Ok(counters) => {
                let html = partials::counters(&counters, true);
                last.card_counters_frame = ByteString::from(format!("{}{html}", last.monitor_html));
                last.all_counters = Some(html);
            }
            Err(err) => tracing::warn!(error = %err, "could not count tasks for the live feed"),
        }
    }
    out.extend(tasks.into_iter().map(|t| Update::Task(Arc::new(t))));
    for user_id in batch.people {
        out.extend(render_presence(state, user_id).await);
    }
    for user_id in batch.inboxes {
        match crate::services::notifications::unread(&state.db, user_id).await {
            Ok(unread) => out.push(Update::Bell(user_id, partials::bell(unread, true).into(), unread)),
            Err(err) => tracing::warn!(error = %err, "could not count unread notifications"),
        }
    }
    out
}

/// A changed task's fragments (`None`: it no longer exists; `Err`: the
/// database failed, pages must resync).
async fn render_task(state: &AppState, task_id: i64) -> Option<Result<TaskUpdate, ()>> {
    let hub = state.hub.clone();
    let card = state.db.read(move |conn| task_views::card_for_feed(conn, &hub, task_id)).await;
    let card = match card {
        Ok(Some(card)) => card,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(error = %err, task_id, "could not load a changed task for the live feed");
            return Some(Err(()));
        }
    };
    let json = serde_json::json!({ "type": "task", "task": crate::api::tasks::task_json(card.clone(), true) });
    let monitor_html = partials::monitor_card(&card, Some("true"));
    let state_html = partials::task_state(&card, true);
    Some(Ok(TaskUpdate {
        card_frame: ByteString::from(monitor_html.clone()),
        card_counters_frame: ByteString::from(monitor_html.clone()),
        state_frame: ByteString::from(state_html.clone()),
        monitor_html,
        monitor_new_html: partials::monitor_card(&card, Some("afterbegin:#monitor-grid")),
        state_html,
        json: json.to_string(),
        all_counters: None,
        card,
    }))
}

async fn render_presence(state: &AppState, user_id: i64) -> Option<Update> {
    let occupancy = state.hub.occupancy(user_id);
    let user = state
        .db
        .read(move |conn| -> Result<_, crate::db::DbError> { Ok(crate::store::users::find(conn, user_id)?) })
        .await;
    let team_id = user.ok()??.team_id;
    let json = serde_json::json!({ "type": "presence", "user_id": user_id, "occupancy_status": occupancy });
    Some(Update::Presence(Arc::new(PresenceUpdate {
        user_id,
        team_id,
        html: partials::occupancy(user_id, occupancy, true).into(),
        json: json.to_string(),
    })))
}

/// Which page a socket serves.
#[derive(Debug, Clone)]
enum View {
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
    fn since(&self) -> Option<u64> {
        self.since.as_deref().and_then(|v| v.parse().ok())
    }

    fn task(&self) -> Option<i64> {
        self.task.as_deref().and_then(|v| v.parse().ok())
    }

    fn view(&self) -> View {
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
struct Page {
    actor: Actor,
    csrf: String,
    view: View,
    shown: HashSet<i64>,
    counters_dirty: bool,
}

impl Page {
    fn viewer(&self) -> Viewer {
        Viewer { id: self.actor.id, role: self.actor.role, team_id: self.actor.team_id }
    }

    /// Whether the viewer may see this person's presence.
    fn sees_presence(&self, user_id: i64, team_id: Option<i64>) -> bool {
        match self.actor.role {
            Role::Admin | Role::Manager => true,
            Role::Lead => user_id == self.actor.id || (team_id.is_some() && team_id == self.actor.team_id),
            Role::Employee => user_id == self.actor.id,
        }
    }

    /// The frame this page needs for a task change (empty: none). The common
    /// cases reuse the renderer's shared frames.
    fn task_message(&mut self, update: &TaskUpdate) -> ByteString {
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
    async fn resync(&mut self, state: &AppState) -> Result<String, ServiceError> {
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
                let overview = crate::web::jobs::overview(state).await?;
                Ok(crate::web::jobs::live_fragment(&overview, &self.csrf, true))
            }
            View::Other => Ok(String::new()),
        }
    }

    /// Which tasks the page shows now, without rendering (the page itself
    /// was rendered moments ago and is current).
    async fn learn_shown(&mut self, state: &AppState) -> Result<(), ServiceError> {
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

/// Pings are sent this often; a client silent for three intervals is dropped.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// The session behind a socket is re-checked this often, so a session ended
/// elsewhere (another instance, expiry) closes the socket within seconds.
const RECHECK: Duration = Duration::from_secs(3);

fn session_ended() -> Option<CloseReason> {
    Some(CloseReason { code: CloseCode::Policy, description: Some("session ended".into()) })
}

/// GET /ws: the live socket of a signed-in page. A foreign Origin is refused
/// with 403; without a session the access layer answers 401.
pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SocketQuery>,
) -> Result<HttpResponse, AppError> {
    if req.headers().get(actix_web::http::header::ORIGIN).is_none() {
        return Err(AppError::Csrf("A WebSocket needs an Origin header.".into()));
    }
    check_same_origin(&req)?;
    let session_id = user.session.as_ref().map(|s| s.session_id.clone()).ok_or(AppError::Unauthenticated)?;
    let (response, ws, stream) = actix_ws::handle(&req, body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let view = match query.view() {
        // The queue is for admins only; anyone else's socket serves no view.
        View::Jobs if user.actor.role != Role::Admin => View::Other,
        view => view,
    };
    let page =
        Page { csrf: user.csrf().to_string(), actor: user.actor, view, shown: HashSet::new(), counters_dirty: false };
    // Subscribed before the sequence is compared: an update the feed sent
    // before this point was counted before it, so the page is stale and
    // resynced; any later one arrives on this receiver.
    let updates = state.feed.subscribe();
    // The Jobs page carries no sequence: it is refreshed on connect.
    let stale = matches!(page.view, View::Jobs) || query.since() != Some(state.bus.sequence());
    let state = state.into_inner();
    actix_web::rt::spawn(serve_page(state, ws, stream, page, updates, session_id, stale));
    Ok(response)
}

async fn serve_page(
    state: Arc<AppState>,
    mut ws: Session,
    stream: MessageStream,
    mut page: Page,
    mut updates: broadcast::Receiver<Update>,
    session_id: String,
    stale: bool,
) {
    let mut stream = stream.max_frame_size(64 * 1024);
    let (conn_id, mut kicked) = state.hub.register(page.actor.id, session_id);
    let _jobs_viewer = matches!(page.view, View::Jobs).then(|| JobsViewer::enter(&state.feed.jobs_viewers));
    let first = if stale { page.resync(&state).await.map(Some) } else { page.learn_shown(&state).await.map(|()| None) };
    let mut alive = match first {
        Ok(Some(html)) => ws.text(html).await.is_ok(),
        Ok(None) => true,
        Err(err) => {
            tracing::warn!(error = %err, "could not prepare a live page");
            true
        }
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut counters = tokio::time::interval(COUNTER_TICK);
    let mut last_heard = Instant::now();
    let reason = loop {
        if !alive {
            break None;
        }
        tokio::select! {
            _ = &mut kicked => break session_ended(),
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > HEARTBEAT * 3 {
                    break Some(CloseReason { code: CloseCode::Away, description: Some("no heartbeat".into()) });
                }
                alive = ws.ping(b"").await.is_ok();
            }
            _ = counters.tick(), if page.counters_dirty => {
                page.counters_dirty = false;
                if let View::Monitor(filters) = &page.view
                    && let Some(html) = state.feed.counters(&state.db, &page.actor, filters.filter()).await
                {
                    alive = ws.text(html.to_string()).await.is_ok();
                }
            }
            update = updates.recv() => {
                let message = match update {
                    Ok(Update::Task(update)) => page.task_message(&update),
                    Ok(Update::Presence(update)) if page.sees_presence(update.user_id, update.team_id) => update.html.clone(),
                    Ok(Update::Presence(_)) => ByteString::new(),
                    Ok(Update::Bell(user_id, html, _)) if user_id == page.actor.id => html,
                    Ok(Update::Bell(..)) => ByteString::new(),
                    Ok(Update::Jobs(overview)) if matches!(page.view, View::Jobs) => {
                        crate::web::jobs::live_fragment(&overview, &page.csrf, true).into()
                    }
                    Ok(Update::Jobs(_)) => ByteString::new(),
                    Ok(Update::Resync) | Err(RecvError::Lagged(_)) => {
                        page.resync(&state).await.unwrap_or_default().into()
                    }
                    Err(RecvError::Closed) => break None,
                };
                if !message.is_empty() {
                    alive = ws.text(message).await.is_ok();
                }
            }
            message = stream.recv() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    last_heard = Instant::now();
                    alive = ws.pong(&bytes).await.is_ok();
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(Message::Text(text))) => {
                    last_heard = Instant::now();
                    if text.contains("resync") {
                        let html = page.resync(&state).await.unwrap_or_default();
                        alive = ws.text(html).await.is_ok();
                    } else {
                        state.hub.touch(conn_id);
                    }
                }
                Some(Ok(_)) => last_heard = Instant::now(),
            },
        }
    };
    state.hub.unregister(conn_id);
    let _ = ws.close(reason).await;
}

/// GET /api/live/: the same feed as JSON messages for API clients (Bearer
/// token): `{"type":"task","task":{…}}` and `{"type":"presence",…}`, each
/// only when the client may see it; `{"type":"resync"}` after missed
/// updates (fetch the lists again).
pub async fn api_feed(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let token = crate::web::access::bearer_token(req.headers()).unwrap_or_default();
    let (response, mut ws, stream) = actix_ws::handle(&req, body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let state = state.into_inner();
    let mut updates = state.feed.subscribe();
    let page = Page {
        csrf: String::new(),
        actor: user.actor,
        view: View::Other,
        shown: HashSet::new(),
        counters_dirty: false,
    };
    actix_web::rt::spawn(async move {
        let mut stream = stream.max_frame_size(64 * 1024);
        let (conn_id, mut kicked) = state.hub.register(page.actor.id, String::new());
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut recheck = tokio::time::interval(RECHECK);
        let mut last_heard = Instant::now();
        loop {
            let message = tokio::select! {
                _ = &mut kicked => break,
                // A revoked token or a disabled user ends the feed within seconds.
                _ = recheck.tick() => match auth::actor_from_token(&state.db, &token).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not re-check a feed's token");
                        continue;
                    }
                },
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > HEARTBEAT * 3 || ws.ping(b"").await.is_err() {
                        break;
                    }
                    continue;
                }
                update = updates.recv() => match update {
                    Ok(Update::Task(u)) if may_access(page.viewer(), &u.card.assignee_teams) => u.json.clone(),
                    Ok(Update::Presence(u)) if page.sees_presence(u.user_id, u.team_id) => u.json.clone(),
                    Ok(Update::Bell(user_id, _, unread)) if user_id == page.actor.id => {
                        serde_json::json!({ "type": "notifications", "unread": unread }).to_string()
                    }
                    Ok(Update::Resync) | Err(RecvError::Lagged(_)) => r#"{"type":"resync"}"#.to_string(),
                    Ok(_) => continue,
                    Err(RecvError::Closed) => break,
                },
                message = stream.recv() => match message {
                    Some(Ok(Message::Ping(bytes))) => {
                        last_heard = Instant::now();
                        if ws.pong(&bytes).await.is_err() { break; }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {
                        last_heard = Instant::now();
                        state.hub.touch(conn_id);
                        continue;
                    }
                },
            };
            if ws.text(message).await.is_err() {
                break;
            }
        }
        state.hub.unregister(conn_id);
        let _ = ws.close(None).await;
    });
    Ok(response)
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
