//! The live sockets: `/ws` for signed-in pages (rendered fragments for the
//! page it serves) and `/api/live/` for API clients (JSON), each sending
//! only what its viewer may see.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use bytestring::ByteString;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use serde::Deserialize;

use super::page::{LiveRequest, LiveRoutes, LiveView, PageCtx, StaticView};
use super::renderer::{COUNTER_TICK, Feed, RECHECK, Update};
use crate::app::AppState;
use crate::domain::access::{may_access, sees_presence};
use crate::http::access::{CurrentUser, RouteTable, bearer_token, check_same_origin};
use crate::http::errors::AppError;
use crate::services::auth;

/// Pings are sent this often; a client silent for three intervals is dropped.
const HEARTBEAT: Duration = Duration::from_secs(10);

fn session_ended() -> Option<CloseReason> {
    Some(CloseReason { code: CloseCode::Policy, description: Some("session ended".into()) })
}

/// What `/ws` itself reads of its query: the page and the event sequence
/// it was rendered at (the view parses its own filters).
#[derive(Debug, Default, Deserialize)]
struct SocketQuery {
    view: Option<String>,
    since: Option<String>,
}

/// GET /ws: the live socket of a signed-in page. A foreign Origin is refused
/// with 403; without a session the access layer answers 401. A page the
/// viewer may not open (by its route's policy) gets no live content.
pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    feed: web::Data<Feed>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    if req.headers().get(actix_web::http::header::ORIGIN).is_none() {
        return Err(AppError::Csrf("A WebSocket needs an Origin header.".into()));
    }
    check_same_origin(&req)?;
    let session_id = user.session.as_ref().map(|s| s.session_id.clone()).ok_or(AppError::Unauthenticated)?;
    let (response, ws, stream) = actix_ws::handle(&req, body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let query: SocketQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let ctx = PageCtx { csrf: user.csrf().to_string(), zone: user.zone, actor: user.actor };
    let request = LiveRequest { query: req.query_string(), ctx: &ctx, feed: &feed };
    let live = req.app_data::<LiveRoutes>().map_or(&[][..], |live| live.0);
    let admits = |page| req.app_data::<RouteTable>().is_some_and(|table| table.admits(page, ctx.actor.role));
    let view: Box<dyn LiveView> = match live.iter().find(|r| Some(r.view) == query.view.as_deref()) {
        Some(route) if admits(route.page) => (route.open)(&request),
        _ => Box::new(StaticView),
    };
    // Subscribed before the sequence is compared: an update the feed sent
    // before this point was counted before it, so the page is stale and
    // resynced; any later one arrives on this receiver.
    let updates = feed.subscribe();
    let since = query.since.as_deref().and_then(|v| v.parse::<u64>().ok());
    let stale = view.resync_on_connect() || since != Some(state.bus.sequence());
    let page = OpenPage { ctx, view };
    let state = state.into_inner();
    actix_web::rt::spawn(serve_page(state, feed.into_inner(), ws, stream, page, updates, session_id, stale));
    Ok(response)
}

/// A page's socket state: who looks and the view it serves.
struct OpenPage {
    ctx: PageCtx,
    view: Box<dyn LiveView>,
}

impl OpenPage {
    /// The frame an update means for this page (empty: none).
    async fn frame(&mut self, state: &AppState, update: Update) -> ByteString {
        let ctx = &self.ctx;
        match update {
            Update::Task(update) => self.view.task_frame(ctx, &update),
            Update::Presence(update)
                if sees_presence(ctx.viewer(), (update.user_id, update.team_id))
                    && self.view.shows_person(ctx, update.user_id) =>
            {
                update.html.clone()
            }
            Update::Bell(user_id, html, _) if user_id == ctx.actor.id => html,
            Update::Jobs(overview) => self.view.jobs_frame(ctx, &overview),
            Update::Resync => self.resync(state).await.into(),
            Update::Presence(_) | Update::Bell(..) => ByteString::new(),
        }
    }

    async fn resync(&mut self, state: &AppState) -> String {
        self.view.resync(state, &self.ctx).await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "could not resync a live page");
            String::new()
        })
    }
}

#[expect(clippy::too_many_arguments, reason = "one socket's whole context, handed over once")]
async fn serve_page(
    state: Arc<AppState>,
    feed: Arc<Feed>,
    mut ws: Session,
    stream: MessageStream,
    mut page: OpenPage,
    mut updates: broadcast::Receiver<Update>,
    session_id: String,
    stale: bool,
) {
    let mut stream = stream.max_frame_size(64 * 1024);
    let (conn_id, mut kicked) = state.hub.register(page.ctx.actor.id, session_id);
    let first = if stale {
        page.view.resync(&state, &page.ctx).await.map(Some)
    } else {
        page.view.learn_shown(&state, &page.ctx).await.map(|()| None)
    };
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
    counters.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
            _ = counters.tick(), if page.view.counters_stale() => {
                if let Some(filter) = page.view.stale_counters()
                    && let Some(html) = feed.counters(&state.db, &page.ctx.actor, filter).await
                {
                    alive = ws.text(html.to_string()).await.is_ok();
                }
            }
            update = updates.recv() => {
                let message = match update {
                    Ok(update) => page.frame(&state, update).await,
                    Err(RecvError::Lagged(_)) => page.resync(&state).await.into(),
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
                        let html = page.resync(&state).await;
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
    let ctx = PageCtx { csrf: String::new(), zone: user.zone, actor: user.actor };
    actix_web::rt::spawn(serve_feed(state, ws, stream, ctx, updates, token));
    Ok(response)
}

/// Forwards the feed to one API client until it leaves, its token stops
/// working, or it falls silent.
async fn serve_feed(
    state: Arc<AppState>,
    mut ws: Session,
    stream: MessageStream,
    page: PageCtx,
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
                Ok(Update::Presence(u)) if sees_presence(page.viewer(), (u.user_id, u.team_id)) => u.json.clone(),
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
