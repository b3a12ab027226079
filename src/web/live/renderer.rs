//! The live renderer: turns each bus event into fragments once, whatever
//! the number of viewers, and hands them to the open sockets through the
//! [`Feed`]. It also records presence transitions and closes sockets whose
//! session ended elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex as AsyncMutex, broadcast};

use crate::api::json::task_json;
use crate::app::AppState;
use crate::db::Db;
use crate::live::LiveEvent;
use crate::services::jobs_admin::{self, JobsOverview};
use crate::services::task_views;
use crate::services::{Actor, auth};
use crate::store::task_views::TaskFilter;
use crate::web::partials;

pub use super::update::{Fragments, TaskUpdate};

/// The session behind a socket is re-checked this often, so a session ended
/// elsewhere (another instance, expiry) closes the socket within seconds.
pub const RECHECK: Duration = Duration::from_secs(3);

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
    Jobs(Arc<JobsOverview>),
    /// The renderer missed events: every page must resync.
    Resync,
}

/// Counters shared by sockets with the same filter, briefly cached so a
/// burst of changes costs one count per filter, not one per viewer.
type CounterCache = HashMap<String, (Instant, Arc<str>)>;
const COUNTER_TTL: Duration = Duration::from_millis(300);
/// How often a monitor with pending changes refreshes its counters.
pub const COUNTER_TICK: Duration = Duration::from_millis(250);

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
pub struct JobsViewer(Arc<AtomicUsize>);

impl JobsViewer {
    /// Counts a Jobs page open until the returned guard drops.
    pub fn enter(feed: &Feed) -> JobsViewer {
        let count = &feed.jobs_viewers;
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
    pub async fn counters(&self, db: &Db, actor: &Actor, filter: TaskFilter) -> Option<Arc<str>> {
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
pub fn start(state: Arc<AppState>, feed: Arc<Feed>) {
    let mut events = state.bus.subscribe();
    let (renderer, rendered) = (state.clone(), feed.clone());
    tokio::spawn(async move {
        while let Some(batch) = next_batch(&mut events).await {
            // Nobody is watching: nothing to load or render (a page that
            // opens later is brought up to date by its resync).
            if rendered.updates.receiver_count() == 0 {
                continue;
            }
            for update in render_batch(&renderer, batch).await {
                let _ = rendered.updates.send(update);
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
            if feed.jobs_viewers.load(Ordering::SeqCst) == 0 {
                continue;
            }
            match jobs_admin::overview(&jobs.db).await {
                Ok(overview) => {
                    let _ = feed.updates.send(Update::Jobs(Arc::new(overview)));
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
            batch.inboxes.push(user_id);
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
            Ok(counters) => last.all_counters = Some(partials::counters(&counters, true)),
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
    let json = serde_json::json!({ "type": "task", "task": task_json(card.clone(), true) });
    Some(Ok(TaskUpdate::new(card, json.to_string(), crate::db::now())))
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
