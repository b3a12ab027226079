//! Signing in and out, and the home page of each role.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use governor::clock::{Clock, DefaultClock};

use crate::app::AppState;
use crate::domain::login::{DEVICE_LIFETIME, device_cookie_name};
use crate::domain::redirect::local_path;
use crate::domain::role::Role;
use crate::http::access::{CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE, see_other};
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::security::random_hex;
use crate::services::home::HomeData;
use crate::services::{RequestMeta, ServiceError, auth, home};

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
    error: Option<String>,
}

/// Query of the login page.
#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The login form fields.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: &str) -> &str {
    local_path(next).unwrap_or("/")
}

fn login_page(
    status: StatusCode,
    csrf: String,
    username: String,
    next: String,
    error: Option<String>,
    flash: Option<flash::Flash>,
) -> Result<HttpResponse, AppError> {
    let page = LoginPage { layout: Layout::anonymous("Sign in", csrf.clone(), flash), username, next, error };
    let body = page.render().map_err(|e| AppError::Internal(e.to_string()))?;
    let cookie = Cookie::build(LOGIN_CSRF_COOKIE, csrf).path("/").http_only(true).same_site(SameSite::Strict).finish();
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").cookie(cookie).body(body))
}

/// GET /login: the form (or home, when already signed in).
pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE)
        && auth::session_from_cookie(&state.db, cookie.value(), state.settings.session).await?.is_some()
    {
        return Ok(see_other("/"));
    }
    let csrf = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 64)
        .unwrap_or_else(|| random_hex(32));
    let next = query.next.as_deref().map(safe_next).unwrap_or("/").to_string();
    login_page(StatusCode::OK, csrf, String::new(), next, None, flash.0)
}

/// The login form again with a 429 and Retry-After.
fn throttled(
    csrf: String,
    form: LoginForm,
    next: String,
    message: String,
    wait: u64,
) -> Result<HttpResponse, AppError> {
    let mut response = login_page(StatusCode::TOO_MANY_REQUESTS, csrf, form.username, next, Some(message), None)?;
    response.headers_mut().insert(actix_web::http::header::RETRY_AFTER, wait.into());
    Ok(response)
}

/// The account's device cookie: long-lived, so the browser stays known for
/// the account (and keeps its own failure counter) between sessions.
fn device_cookie(device: auth::DeviceCookie, state: &AppState) -> Cookie<'static> {
    Cookie::build(device.name, device.token)
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(DEVICE_LIFETIME.num_seconds()))
        .finish()
}

/// The session cookie, and the removal of the used login CSRF cookie.
fn session_cookies(value: String, state: &AppState) -> (Cookie<'static>, Cookie<'static>) {
    let session = Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(state.settings.session.absolute.num_seconds()))
        .finish();
    let mut used_csrf = Cookie::build(LOGIN_CSRF_COOKIE, "").path("/").finish();
    used_csrf.make_removal();
    (session, used_csrf)
}

/// Seconds the caller's address must wait before signing in again, if its
/// per-minute allowance is used up.
fn address_throttled(req: &HttpRequest, state: &AppState) -> Option<u64> {
    let ip = req.peer_addr()?.ip();
    let not_until = state.login_limiter.check_key(&ip).err()?;
    Some(not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
}

/// POST /login: checks credentials, opens a session with a fresh id; the
/// account's device cookie, when the browser has one, is passed along.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let csrf = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_else(|| random_hex(32));
    let next = safe_next(&form.next).to_string();
    if let Some(wait) = address_throttled(&req, &state) {
        let message = format!("Too many sign-in attempts from your address. Try again in {wait} seconds.");
        return throttled(csrf, form, next, message, wait);
    }
    if form.username.trim().is_empty() || form.password.is_empty() {
        let message = Some("Enter your username and password.".to_string());
        return login_page(StatusCode::UNPROCESSABLE_ENTITY, csrf, form.username, next, message, None);
    }
    let device = req.cookie(&device_cookie_name(&form.username)).map(|c| c.value().to_string());
    match auth::login_from(&state.db, &form.username, &form.password, device, state.settings.session, meta).await {
        Ok(session) => {
            let (session_cookie, used_csrf) = session_cookies(session.cookie, &state);
            Ok(HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, next))
                .cookie(session_cookie)
                .cookie(used_csrf)
                .cookie(device_cookie(session.device, &state))
                .finish())
        }
        Err(ServiceError::Unauthorized(message)) => {
            login_page(StatusCode::UNAUTHORIZED, csrf, form.username, next, Some(message), None)
        }
        Err(ServiceError::TooManyRequests(wait)) => {
            let message = format!("Too many failed attempts for this account. Try again in {wait} seconds.");
            throttled(csrf, form, next, message, wait)
        }
        Err(other) => Err(other.into()),
    }
}

/// POST /logout: ends the session; the old cookie no longer works.
pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    if let Some(session) = user.session {
        auth::logout(&state.db, &state.hub, session, meta).await?;
    }
    let mut response = flash::redirect("/login", Level::Info, "You have been signed out.");
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    response.add_cookie(&removal).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "home/page.html")]
struct HomePage {
    layout: Layout,
    data: HomeData,
    role: Role,
}

impl HomePage {
    fn count(&self, status: &str) -> i64 {
        self.data.status_counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n)
    }

    fn total(&self) -> i64 {
        self.data.status_counts.iter().map(|(_, n)| n).sum()
    }
}

/// GET /: the home page for the user's role.
pub async fn home(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<impl actix_web::Responder, AppError> {
    let data = home::load(&state.db, &user.actor).await?;
    let role = user.actor.role;
    Ok(HomePage { layout: Layout::for_user(&user, "Home", "home", flash.0), data, role })
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next("/profile"), "/profile");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
        assert_eq!(safe_next("/%0a/x"), "/");
    }
}
