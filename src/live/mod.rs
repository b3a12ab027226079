//! Live updates, the low layer. Services publish [`LiveEvent`]s on the
//! [`LiveBus`] after their transaction commits; `web::live` renders each
//! event once and fans it out to the open sockets allowed to see it. The
//! [`Hub`] is the registry of open sockets: it closes them when a session
//! ends and derives each person's presence (ACTIVE / IDLE / OFFLINE) from
//! them. Nothing here knows pages or the API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::domain::task::Occupancy;

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
    /// A user's notifications changed (new, or read).
    NotificationsChanged {
        /// The user.
        user_id: i64,
    },
}

/// Where services publish changes after their transaction commits.
#[derive(Clone)]
pub struct LiveBus {
    sender: broadcast::Sender<LiveEvent>,
    /// Job changes: a flag, not an event per change (the queue moves
    /// thousands of jobs a second; the Jobs page needs the latest state).
    jobs: Arc<tokio::sync::Notify>,
    /// Task events published so far: a page remembers the value it was
    /// rendered at, so a socket knows whether the page is still current.
    sequence: Arc<AtomicU64>,
}

impl Default for LiveBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(4096).0, jobs: Arc::default(), sequence: Arc::default() }
    }
}

impl LiveBus {
    /// Announces a changed task.
    pub fn task_changed(&self, task_id: i64) {
        self.sequence.fetch_add(1, Ordering::SeqCst);
        // No subscriber (no open page) is fine.
        let _ = self.sender.send(LiveEvent::TaskChanged { task_id });
    }

    /// Number of task events published so far.
    pub fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::SeqCst)
    }

    /// Announces a presence change.
    pub fn presence_changed(&self, user_id: i64) {
        let _ = self.sender.send(LiveEvent::PresenceChanged { user_id });
    }

    /// Announces that a user's notifications changed.
    pub fn notifications_changed(&self, user_id: i64) {
        let _ = self.sender.send(LiveEvent::NotificationsChanged { user_id });
    }

    /// Announces that jobs changed (coalesced: many changes, one wake-up).
    pub fn jobs_changed(&self) {
        self.jobs.notify_one();
    }

    /// Completes after the next job change (or at once if one is pending).
    pub async fn jobs_notified(&self) {
        self.jobs.notified().await;
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

/// A change of someone's presence, to be stored and shown.
pub type Transition = (i64, Occupancy);

/// Registry of open sockets.
pub struct Hub {
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Registration>>,
    /// The presence last announced per user (absent: OFFLINE).
    announced: Mutex<HashMap<i64, Occupancy>>,
    transitions: mpsc::UnboundedSender<Transition>,
    pending: Mutex<Option<mpsc::UnboundedReceiver<Transition>>>,
}

impl Default for Hub {
    fn default() -> Self {
        let (transitions, pending) = mpsc::unbounded_channel();
        Hub {
            next_id: AtomicU64::default(),
            conns: Mutex::default(),
            announced: Mutex::default(),
            transitions,
            pending: Mutex::new(Some(pending)),
        }
    }
}

impl Hub {
    /// Registers a socket (`session_id` is empty for API clients).
    pub fn register(&self, user_id: i64, session_id: String) -> (u64, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        self.lock().insert(id, Registration { user_id, session_id, close: Some(close), last_active: Instant::now() });
        self.announce(user_id);
        (id, closed)
    }

    /// Forgets a closed socket.
    pub fn unregister(&self, id: u64) {
        let removed = self.lock().remove(&id);
        if let Some(reg) = removed {
            self.announce(reg.user_id);
        }
    }

    /// The stream of presence transitions (taken once, by the recorder).
    pub fn take_transitions(&self) -> Option<mpsc::UnboundedReceiver<Transition>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Compares a user's presence with what was last announced and sends a
    /// transition when it differs.
    fn announce(&self, user_id: i64) {
        let now = self.occupancy(user_id);
        let mut announced = self.announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = announced.get(&user_id).copied().unwrap_or(Occupancy::Offline);
        if before != now {
            if now == Occupancy::Offline {
                announced.remove(&user_id);
            } else {
                announced.insert(user_id, now);
            }
            let _ = self.transitions.send((user_id, now));
        }
    }

    /// Re-derives every connected user's presence (ACTIVE users turn IDLE
    /// after [`IDLE_AFTER`] without activity); run periodically.
    pub fn sweep(&self) {
        let users: Vec<i64> =
            self.announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().copied().collect();
        for user in users {
            self.announce(user);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registration>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (single inserts/removes), so a poisoned lock is still usable.
        self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Records activity on a connection (an IDLE user becomes ACTIVE).
    pub fn touch(&self, id: u64) {
        let user = self.lock().get_mut(&id).map(|reg| {
            reg.last_active = Instant::now();
            reg.user_id
        });
        if let Some(user) = user {
            self.announce(user);
        }
    }

    /// A user's presence: ACTIVE with a connection active in the last few
    /// minutes, IDLE when connected but inactive, OFFLINE without connection.
    pub fn occupancy(&self, user_id: i64) -> Occupancy {
        let latest = self.lock().values().filter(|r| r.user_id == user_id).map(|r| r.last_active).max();
        match latest {
            Some(at) if at.elapsed() < IDLE_AFTER => Occupancy::Active,
            Some(_) => Occupancy::Idle,
            None => Occupancy::Offline,
        }
    }

    /// The distinct browser sessions behind open sockets.
    pub fn session_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.lock().values().filter(|r| !r.session_id.is_empty()).map(|r| r.session_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Number of open sockets.
    pub fn connection_count(&self) -> usize {
        self.lock().len()
    }
}
