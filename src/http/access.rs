//! Access control, declared per route and enforced in one middleware:
//! authentication (session cookie for pages, bearer token for the API),
//! role checks, and CSRF protection for every state-changing page request.
//! A request that matches a route without a declared policy is refused.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::domain::role::Role;
use crate::http::errors::AppError;
use crate::security::constant_time_eq;
use crate::services::{Actor, RequestMeta, audit, auth};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in session of one of these roles (pages, htmx, WebSocket).
    Session(&'static [Role]),
    /// An API token of one of these roles (never a cookie).
    Token(&'static [Role]),
}

/// Every role.
pub const ANY_ROLE: &[Role] = &Role::ALL;
/// Admins only.
pub const ADMIN: &[Role] = &[Role::Admin];
/// Admins and managers.
pub const ADMIN_MANAGER: &[Role] = &[Role::Admin, Role::Manager];
/// Who watches tasks move: admins and managers (everything), leads (their team).
pub const MONITOR_ROLES: &[Role] = &[Role::Admin, Role::Manager, Role::Lead];

/// One route and its policy.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// actix path pattern.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// The signed-in caller, placed in the request by the middleware.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The user.
    pub actor: Actor,
    /// The browser session, for cookie-authenticated requests.
    pub session: Option<auth::SessionUser>,
    /// The navigation links this user's role may open (pages only).
    pub nav: Vec<NavLink>,
    /// The zone they read times in (their own, else the organisation's).
    pub zone: chrono_tz::Tz,
}

/// A link of the navigation: a page of the route table, shown to whoever
/// that page's GET route admits (so the links follow the policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavLink {
    /// The page.
    pub path: &'static str,
    /// Its text.
    pub label: &'static str,
    /// The key pages name to mark it current.
    pub key: &'static str,
    /// The sidebar group it is listed under ("My work", "Team", "Admin").
    pub group: &'static str,
}

/// The navigation in order, handed to the app as data with the route table.
#[derive(Debug, Clone, Copy)]
pub struct Navigation(pub &'static [NavLink]);

impl CurrentUser {
    /// The session's CSRF token (empty for API callers).
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf_token.as_str())
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = std::future::Ready<Result<CurrentUser, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(req.extensions().get::<CurrentUser>().cloned().ok_or(AppError::Unauthenticated))
    }
}

/// Request id and client address, for the audit log.
pub fn meta_of(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        request_id: Some(crate::http::errors::request_id_of(req)).filter(|s| !s.is_empty()),
        ip: req.peer_addr().map(|a| a.ip().to_string()),
    }
}

impl FromRequest for RequestMeta {
    type Error = AppError;
    type Future = std::future::Ready<Result<RequestMeta, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(meta_of(req)))
    }
}

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tp_session";
/// Name of the pre-login CSRF cookie (double-submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "tp_csrf";
/// Header carrying the CSRF token on htmx requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The route table the middleware enforces, handed to the app as data by
/// whoever registers the routes (so this edge does not depend on them).
#[derive(Debug, Clone, Copy)]
pub struct RouteTable(pub &'static [RouteSpec]);

impl RouteTable {
    /// Whether `role` may open the page at `path` (its GET route admits the
    /// role's sessions).
    pub fn admits(self, path: &str, role: Role) -> bool {
        self.policy_for(&Method::GET, path)
            .is_some_and(|spec| matches!(spec.access, Access::Session(roles) if roles.contains(&role)))
    }

    /// The links of `nav` that `role` may open.
    pub fn visible(self, nav: Navigation, role: Role) -> Vec<NavLink> {
        nav.0.iter().filter(|link| self.admits(link.path, role)).copied().collect()
    }

    /// The policy of a request's route.
    pub fn policy_for(self, method: &Method, pattern: &str) -> Option<&'static RouteSpec> {
        self.0.iter().find(|r| r.path == pattern && r.method == method.as_str())
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware enforcing [`Access`] for every request.
pub async fn enforce(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let Some(pattern) = req.match_pattern() else {
        // No route matches: the router answers 404, inside the app shell
        // for someone signed in.
        if !is_unsafe(req.method()) && !crate::http::errors::is_api_path(req.path()) {
            identify(&mut req).await;
        }
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let Some(table) = req.app_data::<RouteTable>().copied() else {
        tracing::error!("no route table registered; refusing");
        return Ok(req.error_response(AppError::Forbidden).map_into_right_body());
    };
    let spec = match table.policy_for(req.method(), &pattern) {
        Some(spec) => *spec,
        None if table.0.iter().any(|r| r.path == pattern) => {
            // The path exists for other methods: the router answers 404/405.
            return next.call(req).await.map(ServiceResponse::map_into_left_body);
        }
        None => {
            tracing::error!(%pattern, "route has no declared access policy; refusing");
            return Ok(req.error_response(AppError::Forbidden).map_into_right_body());
        }
    };
    match check(&mut req, spec).await {
        Ok(()) => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Err(AppError::Unauthenticated) if !matches!(spec.access, Access::Token(_)) => {
            let response = sign_in_first(&req_path_and_query(&req), &req);
            Ok(req.into_response(response).map_into_right_body())
        }
        Err(err) => Ok(req.error_response(err).map_into_right_body()),
    }
}

async fn check(req: &mut ServiceRequest, spec: RouteSpec) -> Result<(), AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    match spec.access {
        Access::Public => {
            if is_unsafe(req.method()) {
                check_same_origin(req.request())?;
                let expected = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
                check_token(req, &expected).await?;
            }
            Ok(())
        }
        Access::Session(roles) => {
            let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
            let session = match cookie {
                Some(value) => auth::session_from_cookie(&state.db, &value, state.settings.session).await?,
                None => None,
            };
            let Some(session) = session else {
                return Err(AppError::Unauthenticated);
            };
            let actor = session.actor.clone();
            if !roles.contains(&actor.role) {
                deny(req, &state, Some(actor.id), "role not allowed").await;
                // Known, just not allowed here: the refusal page keeps the shell.
                remember(req, session);
                return Err(AppError::Forbidden);
            }
            if is_unsafe(req.method()) {
                if let Err(err) = check_same_origin(req.request()) {
                    deny(req, &state, Some(actor.id), "cross-origin request").await;
                    return Err(err);
                }
                if let Err(err) = check_token(req, &session.csrf_token).await {
                    deny(req, &state, Some(actor.id), "missing or wrong CSRF token").await;
                    return Err(err);
                }
            }
            remember(req, session);
            Ok(())
        }
        Access::Token(roles) => {
            let bearer = bearer_token(req.headers());
            let actor = match bearer {
                Some(token) if !token.is_empty() => auth::actor_from_token(&state.db, &token).await?,
                _ => None,
            };
            let Some(actor) = actor else {
                return Err(AppError::Unauthenticated);
            };
            if !roles.contains(&actor.role) {
                deny(req, &state, Some(actor.id), "role not allowed").await;
                return Err(AppError::Forbidden);
            }
            let zone = zone_of(req, &actor);
            req.extensions_mut().insert(CurrentUser { actor, session: None, nav: Vec::new(), zone });
            Ok(())
        }
    }
}

/// Records the signed-in user of a request (with the links their role may
/// open) for handlers and error pages.
fn remember(req: &mut ServiceRequest, session: auth::SessionUser) {
    let actor = session.actor.clone();
    let nav = match (req.app_data::<RouteTable>(), req.app_data::<Navigation>()) {
        (Some(table), Some(nav)) => table.visible(*nav, actor.role),
        _ => Vec::new(),
    };
    let zone = zone_of(req, &actor);
    req.extensions_mut().insert(CurrentUser { actor, session: Some(session), nav, zone });
}

/// The zone `actor` reads times in.
fn zone_of(req: &ServiceRequest, actor: &Actor) -> chrono_tz::Tz {
    req.app_data::<web::Data<AppState>>().map_or(chrono_tz::UTC, |state| state.org.zone_of(actor))
}

/// Looks up the session of a request no route answers (so its 404 page can
/// show the app shell); nothing is enforced.
async fn identify(req: &mut ServiceRequest) {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else { return };
    let Some(cookie) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else { return };
    if let Ok(Some(session)) = auth::session_from_cookie(&state.db, &cookie, state.settings.session).await {
        remember(req, session);
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

fn req_path_and_query(req: &ServiceRequest) -> String {
    req.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_string()
}

/// The answer to a page request without a valid session: a redirect to the
/// login page (htmx gets an HX-Redirect, other non-GET requests a 401).
fn sign_in_first(next_url: &str, req: &ServiceRequest) -> HttpResponse {
    let location = format!("/login?next={}", urlencoding::encode(next_url));
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return actix_web::ResponseError::error_response(&AppError::Unauthenticated);
    }
    if req.headers().contains_key("hx-request") {
        return HttpResponse::Unauthorized().insert_header(("HX-Redirect", location)).finish();
    }
    if req.method() == Method::GET {
        return see_other(&location);
    }
    actix_web::ResponseError::error_response(&AppError::Unauthenticated)
}

async fn deny(req: &ServiceRequest, state: &AppState, actor_id: Option<i64>, reason: &str) {
    let meta = meta_of(req.request());
    let result = audit::record_denial(&state.db, meta, actor_id, req.method().as_str(), req.path(), reason).await;
    if let Err(err) = result {
        tracing::error!(error = %err, "could not audit a denial");
    }
}

/// Refuses requests a browser marks as cross-site, or whose Origin is not
/// this server's (see [`crate::domain::origin::OriginPolicy`]).
pub fn check_same_origin(req: &HttpRequest) -> Result<(), AppError> {
    if let Some(site) = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(AppError::Csrf("Cross-site requests are not allowed.".into()));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| AppError::Internal("application state missing".into()))?;
        let peer = req.peer_addr().map(|addr| addr.ip());
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
        let forwarded = || {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        };
        if !origin.to_str().is_ok_and(|origin| state.origins.accepts(origin, peer, host, forwarded)) {
            return Err(AppError::Csrf("Cross-origin requests are not allowed.".into()));
        }
    }
    Ok(())
}

/// Checks the CSRF token from the header or the urlencoded form body (which
/// is read and put back for the handler).
async fn check_token(req: &mut ServiceRequest, expected: &str) -> Result<(), AppError> {
    let from_header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let supplied = match from_header {
        Some(token) => token,
        None => {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return Err(AppError::Csrf("Missing CSRF token.".into()));
            }
            let body = req.extract::<Bytes>().await.map_err(|_| AppError::PayloadTooLarge)?;
            let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v))
                .unwrap_or_default();
            req.set_payload(Payload::from(body));
            token
        }
    };
    if expected.is_empty() || !constant_time_eq(&supplied, expected) {
        return Err(AppError::Csrf("Missing or wrong CSRF token. Reload the page and try again.".into()));
    }
    Ok(())
}

/// A 303 redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}
