//! Live connections. This slice keeps the registry of open WebSockets (so a
//! logout, a password change or disabling a user closes them at once) and the
//! authenticated, Origin-checked socket with heartbeats; live task events
//! build on it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message};
use tokio::sync::{broadcast, oneshot};

use crate::services::auth;
use crate::web::AppState;
use crate::web::access::{CurrentUser, check_same_origin};
use crate::web::errors::AppError;

/// Something that changed and that open pages may need to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A task's progress, status, assignment or fields changed.
    TaskChanged {
        /// The task.
        task_id: i64,
    },
    /// A user's presence changed.
    PresenceChanged {
        /// The user.
        user_id: i64,
    },
}

/// Where services publish changes after their transaction commits.
#[derive(Clone)]
pub struct LiveBus {
    sender: broadcast::Sender<LiveEvent>,
}

impl Default for LiveBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(4096).0 }
    }
}

impl LiveBus {
    /// Announces a changed task.
    pub fn task_changed(&self, task_id: i64) {
        // No subscriber (no open page) is fine.
        let _ = self.sender.send(LiveEvent::TaskChanged { task_id });
    }

    /// Announces a presence change.
    pub fn presence_changed(&self, user_id: i64) {
        let _ = self.sender.send(LiveEvent::PresenceChanged { user_id });
    }

    /// A receiver of every later event.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}

struct Registration {
    user_id: i64,
    session_id: String,
    close: Option<oneshot::Sender<()>>,
    last_active: Instant,
}

/// A connection with no activity for this long counts as IDLE.
pub const IDLE_AFTER: Duration = Duration::from_secs(5 * 60);

/// Registry of open sockets.
#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Registration>>,
}

impl Hub {
    fn register(&self, user_id: i64, session_id: String) -> (u64, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        self.lock().insert(id, Registration { user_id, session_id, close: Some(close), last_active: Instant::now() });
        (id, closed)
    }

    fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registration>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (single inserts/removes), so a poisoned lock is still usable.
        self.conns.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn close_where(&self, matches: impl Fn(&Registration) -> bool) -> usize {
        let mut closed = 0;
        for reg in self.lock().values_mut().filter(|r| matches(r)) {
            if let Some(close) = reg.close.take() {
                let _ = close.send(());
                closed += 1;
            }
        }
        closed
    }

    /// Closes every socket of a user.
    pub fn disconnect_user(&self, user_id: i64) -> usize {
        self.close_where(|r| r.user_id == user_id)
    }

    /// Closes a user's sockets except those of one session.
    pub fn disconnect_user_except(&self, user_id: i64, keep_session: &str) -> usize {
        self.close_where(|r| r.user_id == user_id && r.session_id != keep_session)
    }

    /// Closes the sockets of one session.
    pub fn disconnect_session(&self, session_id: &str) -> usize {
        self.close_where(|r| r.session_id == session_id)
    }

    /// Closes every socket (shutdown).
    pub fn close_all(&self) -> usize {
        self.close_where(|_| true)
    }

    /// Records activity on a connection.
    fn touch(&self, id: u64) {
        if let Some(reg) = self.lock().get_mut(&id) {
            reg.last_active = Instant::now();
        }
    }

    /// A user's presence: ACTIVE with a connection active in the last few
    /// minutes, IDLE when connected but inactive, OFFLINE without connection.
    pub fn occupancy(&self, user_id: i64) -> crate::domain::task::Occupancy {
        use crate::domain::task::Occupancy;
        let latest = self.lock().values().filter(|r| r.user_id == user_id).map(|r| r.last_active).max();
        match latest {
            Some(at) if at.elapsed() < IDLE_AFTER => Occupancy::Active,
            Some(_) => Occupancy::Idle,
            None => Occupancy::Offline,
        }
    }

    /// Number of open sockets.
    pub fn connection_count(&self) -> usize {
        self.lock().len()
    }
}

/// Pings are sent this often; a client silent for three intervals is dropped.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// The session behind a socket is re-checked this often, so a session ended
/// elsewhere (another instance, expiry) closes the socket within seconds.
const RECHECK: Duration = Duration::from_secs(3);

/// GET /ws: upgrades a signed-in page to a WebSocket. A foreign Origin is
/// refused with 403; without a session the access layer answers 401.
pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    if req.headers().get(actix_web::http::header::ORIGIN).is_none() {
        return Err(AppError::Csrf("A WebSocket needs an Origin header.".into()));
    }
    check_same_origin(&req)?;
    let session_id = user.session.as_ref().map(|s| s.session_id.clone()).ok_or(AppError::Unauthenticated)?;
    let (response, mut ws, mut stream) =
        actix_ws::handle(&req, body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    stream = stream.max_frame_size(64 * 1024);
    let hub = state.hub.clone();
    let (conn_id, mut kicked) = hub.register(user.actor.id, session_id.clone());
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut recheck = tokio::time::interval(RECHECK);
        let mut last_heard = Instant::now();
        let reason = loop {
            tokio::select! {
                _ = &mut kicked => break Some(CloseReason { code: CloseCode::Policy, description: Some("session ended".into()) }),
                _ = recheck.tick() => {
                    match auth::session_by_id(&state.db, session_id.clone(), state.settings.session).await {
                        Ok(Some(_)) => {}
                        Ok(None) => break Some(CloseReason { code: CloseCode::Policy, description: Some("session ended".into()) }),
                        Err(err) => tracing::warn!(error = %err, "could not re-check a socket's session"),
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > HEARTBEAT * 3 {
                        break Some(CloseReason { code: CloseCode::Away, description: Some("no heartbeat".into()) });
                    }
                    if ws.ping(b"").await.is_err() {
                        break None;
                    }
                }
                message = stream.recv() => match message {
                    Some(Ok(Message::Ping(bytes))) => {
                        last_heard = Instant::now();
                        if ws.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => {
                        last_heard = Instant::now();
                        hub.touch(conn_id);
                    }
                },
            }
        };
        hub.unregister(conn_id);
        let _ = ws.close(reason).await;
    });
    Ok(response)
}
