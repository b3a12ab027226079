//! Error pages: every error response that has no body of ours yet becomes
//! the right thing for its caller — JSON for the API, a toast for htmx, a
//! page (in the app shell when signed in) for browsers.

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use askama::Template;

use super::access::CurrentUser;
use super::errors::{ErrorInfo, is_api_path, request_id_of, wants_json};
use super::layout::Layout;

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "errors/_toast.html")]
struct ErrorToast<'a> {
    message: &'a str,
    request_id: &'a str,
}

/// Middleware: turns every error response that has no body of ours yet
/// (ours via [`AppError`], or actix's own 404/405/extractor errors) into the
/// right format for the caller.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Every layer below answers errors with a response (never Err), and the
    // request cannot be cloned before routing, so an Err is passed on as is.
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let info = res.response().extensions().get::<ErrorInfo>().cloned();
    let has_own_body = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("application/json"));
    if info.is_none() && has_own_body {
        return Ok(res);
    }
    let message = info.as_ref().map(|i| i.message.clone()).unwrap_or_else(|| default_message(status).to_string());
    let details = info.and_then(|i| i.details);
    let (req, mut res) = res.into_parts();
    let request_id = request_id_of(&req);
    let (content_type, body) = if is_api_path(req.path()) || wants_json(&req) {
        let json = serde_json::json!({ "error": message, "details": details.unwrap_or_else(|| serde_json::json!({})) });
        ("application/json", json.to_string())
    } else if req.headers().contains_key("hx-request") {
        let html = ErrorToast { message: &message, request_id: &request_id }.render().unwrap_or_default();
        ("text/html; charset=utf-8", html)
    } else {
        // Signed in, the error page keeps the app shell around it.
        let title = format!("{} · {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
        let user = req.extensions().get::<CurrentUser>().cloned();
        let layout = match user {
            Some(user) => Layout::for_user(&user, title, "", None),
            None => Layout::anonymous(title, String::new(), None),
        };
        let page = ErrorPage { layout, status: status.as_u16(), message: &message, request_id: &request_id };
        ("text/html; charset=utf-8", page.render().unwrap_or_else(|_| message.clone()))
    };
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let res = res.set_body(BoxBody::new(body));
    Ok(ServiceResponse::new(req, res))
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "The page or item you asked for does not exist, or you may not see it.",
        StatusCode::METHOD_NOT_ALLOWED => "This method is not allowed here.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported Content-Type.",
        StatusCode::UNAUTHORIZED => "Please sign in.",
        StatusCode::FORBIDDEN => "You do not have access to this.",
        s if s.is_server_error() => "Something went wrong on our side. It has been logged.",
        _ => "The request could not be processed.",
    }
}
