//! The live WebSocket as a page opens it: a session cookie and the page's
//! Origin, then text frames read with a bound.

use std::time::Duration;

use futures_util::StreamExt;
use taskpulse::services::{RequestMeta, auth};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::app::{TestApp, TestUser};

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A fresh session for `user`: its cookie value and CSRF token.
pub async fn session_for(app: &TestApp, user: &TestUser) -> (String, String) {
    let session = auth::login(&app.db, &user.username, &user.password, app.settings.session, RequestMeta::default())
        .await
        .expect("session");
    (session.cookie, session.csrf_token)
}

/// Opens `/ws?{query}` on `base` (`http://host:port`) with the session cookie
/// (if any) and `origin`; the HTTP status when the server refuses the upgrade.
pub async fn try_socket(base: &str, query: &str, cookie: Option<&str>, origin: &str) -> Result<Socket, u16> {
    let url = format!("{}/ws?{query}", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("Origin", origin.parse().expect("origin"));
    if let Some(cookie) = cookie {
        request.headers_mut().insert("Cookie", format!("tp_session={cookie}").parse().expect("cookie"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((stream, _)) => Ok(stream),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("unexpected WebSocket error: {other}"),
    }
}

/// Opens the live socket of a page (`query`, e.g. `view=mine`) as `user`,
/// with a fresh session; also returns that session's CSRF token.
pub async fn live_socket(app: &TestApp, user: &TestUser, query: &str) -> (Socket, String) {
    let (cookie, csrf) = session_for(app, user).await;
    let socket = try_socket(&app.address, query, Some(&cookie), &app.address).await.expect("socket opens");
    (socket, csrf)
}

/// The next text frame holding `needle`, within `wait` (None: none came).
pub async fn frame_with(socket: &mut Socket, needle: &str, wait: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.contains(needle) => return Some(text.to_string()),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

/// Every text frame received within `wait`.
pub async fn frames_within(socket: &mut Socket, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        if let Message::Text(text) = message {
            out.push(text.to_string());
        }
    }
    out
}
