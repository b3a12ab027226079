//! The live sockets: `/ws` for signed-in pages (rendered fragments for the
//! page it serves) and `/api/live/` for API clients (JSON), each sending
//! only what its viewer may see.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use bytestring::ByteString;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::page::{Page, SocketQuery, View};
use super::renderer::{COUNTER_TICK, Feed, JobsViewer, RECHECK, Update};
use crate::app::AppState;
use crate::domain::access::may_access;
use crate::domain::role::Role;
use crate::http::access::{CurrentUser, bearer_token, check_same_origin};
use crate::http::errors::AppError;
use crate::services::auth;

/// Pings are sent this often; a client silent for three intervals is dropped.
const HEARTBEAT: Duration = Duration::from_secs(10);

fn session_ended() -> Option<CloseReason> {
    Some(CloseReason { code: CloseCode::Policy, description: Some("session ended".into()) })
}

/// GET /ws: the live socket of a signed-in page. A foreign Origin is refused
/// with 403; without a session the access layer answers 401.
pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    feed: web::Data<Feed>,
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
    let updates = feed.subscribe();
    // The Jobs page carries no sequence: it is refreshed on connect.
    let stale = matches!(page.view, View::Jobs) || query.since() != Some(state.bus.sequence());
    let state = state.into_inner();
    actix_web::rt::spawn(serve_page(state, feed.into_inner(), ws, stream, page, updates, session_id, stale));
    Ok(response)
}

#[expect(clippy::too_many_arguments, reason = "one socket's whole context, handed over once")]
async fn serve_page(
    state: Arc<AppState>,
    feed: Arc<Feed>,
    mut ws: Session,
    stream: MessageStream,
    mut page: Page,
    mut updates: broadcast::Receiver<Update>,
    session_id: String,
    stale: bool,
) {
    let mut stream = stream.max_frame_size(64 * 1024);
    let (conn_id, mut kicked) = state.hub.register(page.actor.id, session_id);
    let _jobs_viewer = matches!(page.view, View::Jobs).then(|| JobsViewer::enter(&feed));
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
                    && let Some(html) = feed.counters(&state.db, &page.actor, filters.filter()).await
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
    feed: web::Data<Feed>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let token = bearer_token(req.headers()).unwrap_or_default();
    let (response, ws, stream) = actix_ws::handle(&req, body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let state = state.into_inner();
    let updates = feed.subscribe();
    let page = Page {
        csrf: String::new(),
        actor: user.actor,
        view: View::Other,
        shown: HashSet::new(),
        counters_dirty: false,
    };
    actix_web::rt::spawn(serve_feed(state, ws, stream, page, updates, token));
    Ok(response)
}

/// Forwards the feed to one API client until it leaves, its token stops
/// working, or it falls silent.
async fn serve_feed(
    state: Arc<AppState>,
    mut ws: Session,
    stream: MessageStream,
    page: Page,
    mut updates: broadcast::Receiver<Update>,
    token: String,
) {
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
}
