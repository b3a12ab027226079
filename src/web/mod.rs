//! Pages and htmx partials, and the route table with each route's access
//! policy. Every route is registered here, through [`routes!`], so none can
//! exist without a declared policy.

pub mod access;
pub mod admin;
pub mod assets;
pub mod errors;
pub mod flash;
pub mod headers;
pub mod jobs;
pub mod layout;
pub mod notifications;
pub mod ops;
pub mod pages;
pub mod partials;
pub mod payroll;
pub mod profile;
pub mod tasks;
pub mod time;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::web;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::db::Db;
use access::{ADMIN, ADMIN_MANAGER, ANY_ROLE, Access, MONITOR_ROLES, RouteSpec};

/// Shared state of the web app.
pub struct AppState {
    /// Database handle.
    pub db: Db,
    /// Resolved settings.
    pub settings: Settings,
    /// Login attempts per client IP.
    pub login_limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Live connections (for closing a disabled user's sockets).
    pub hub: Arc<crate::live::Hub>,
    /// Where services announce changes for open pages.
    pub bus: crate::live::LiveBus,
    /// Rendered changes, fanned out to open sockets.
    pub feed: crate::live::Feed,
    /// Background jobs and schedules.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Which origins state changes are accepted from.
    pub origins: access::OriginPolicy,
}

impl AppState {
    /// Builds the state for a server listening on `bound`.
    pub fn new(db: Db, settings: Settings, hub: Arc<crate::live::Hub>, bound: std::net::SocketAddr) -> AppState {
        let per_minute = NonZeroU32::new(settings.login_per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let bus = crate::live::LiveBus::default();
        let job_settings = crate::jobs::JobSettings {
            workers: settings.job_workers,
            mail: settings.mail.clone(),
            ..Default::default()
        };
        let jobs = crate::jobs::Jobs::new(db.clone(), bus.clone(), Arc::new(crate::jobs::SystemClock), job_settings);
        AppState {
            origins: access::OriginPolicy::new(&settings, bound),
            jobs,
            db,
            login_limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            settings,
            hub,
            bus,
            feed: crate::live::Feed::default(),
        }
    }
}

/// Renders a full page as a 200 HTML response.
pub fn html_page(page: &impl askama::Template) -> Result<actix_web::HttpResponse, errors::AppError> {
    html_status(actix_web::http::StatusCode::OK, page)
}

/// Renders a full page as an HTML response with `status` (422 for a form
/// shown again with its errors).
pub fn html_status(
    status: actix_web::http::StatusCode,
    page: &impl askama::Template,
) -> Result<actix_web::HttpResponse, errors::AppError> {
    let body = page.render().map_err(|e| errors::AppError::Internal(e.to_string()))?;
    Ok(actix_web::HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path, $access:expr;)*) => {
        /// Every route with its access policy.
        pub const ROUTES: &[RouteSpec] = &[
            $(RouteSpec { method: stringify!($method), path: $path, access: $access },)*
        ];

        /// Registers every route of [`ROUTES`].
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::method(actix_web::http::Method::$method).to($handler));)*
        }
    };
}

routes! {
    GET  "/healthz"                    => ops::healthz,             Access::Public;
    GET  "/readyz"                     => ops::readyz,              Access::Public;
    GET  "/static/{path:.*}"           => assets::serve,            Access::Public;
    GET  "/login"                      => pages::login_form,        Access::Public;
    POST "/login"                      => pages::login,             Access::Public;
    POST "/logout"                     => pages::logout,            Access::Session(ANY_ROLE);
    GET  "/"                           => pages::home,              Access::Session(ANY_ROLE);
    GET  "/profile"                    => profile::show,            Access::Session(ANY_ROLE);
    POST "/profile/password"           => profile::change_password, Access::Session(ANY_ROLE);
    POST "/profile/tokens"             => profile::create_token,    Access::Session(ANY_ROLE);
    POST "/profile/tokens/{id}/revoke" => profile::revoke_token,    Access::Session(ANY_ROLE);
    GET  "/admin/users"                => admin::users,             Access::Session(ADMIN);
    POST "/admin/users/{id}/disable"   => admin::disable,           Access::Session(ADMIN);
    POST "/admin/users/{id}/enable"    => admin::enable,            Access::Session(ADMIN);
    GET  "/admin/audit"                => admin::audit,             Access::Session(ADMIN);
    GET  "/notifications"              => notifications::page,      Access::Session(ANY_ROLE);
    GET  "/notifications/bell"         => notifications::bell,      Access::Session(ANY_ROLE);
    POST "/notifications/{id}/read"    => notifications::mark_read, Access::Session(ANY_ROLE);
    POST "/notifications/read-all"     => notifications::mark_all_read, Access::Session(ANY_ROLE);
    GET  "/jobs"                       => jobs::page,               Access::Session(ADMIN);
    POST "/jobs/run"                   => jobs::run_now,            Access::Session(ADMIN);
    POST "/jobs/{id}/retry"            => jobs::retry,              Access::Session(ADMIN);
    POST "/jobs/schedules/{name}"      => jobs::edit_schedule,      Access::Session(ADMIN);
    POST "/jobs/test-email"            => jobs::test_email,         Access::Session(ADMIN);
    GET  "/payroll"                    => payroll::list,            Access::Session(ADMIN);
    POST "/payroll"                    => payroll::generate,        Access::Session(ADMIN);
    GET  "/payroll/{id}"               => payroll::show,            Access::Session(ADMIN);
    POST "/payroll/{id}/approve"       => payroll::approve,         Access::Session(ADMIN);
    POST "/payroll/{id}/paid"          => payroll::mark_paid,       Access::Session(ADMIN);
    GET  "/payroll/{id}/export.csv"    => payroll::export,          Access::Session(ADMIN);
    POST "/admin/users/{id}/rate"      => admin::set_rate,          Access::Session(ADMIN);
    POST "/profile/email"              => profile::set_email,       Access::Session(ANY_ROLE);
    GET  "/time"                       => time::week,               Access::Session(ANY_ROLE);
    GET  "/time/export.csv"            => time::export,             Access::Session(ANY_ROLE);
    GET  "/time/{id}/edit"             => time::edit_form,          Access::Session(ANY_ROLE);
    POST "/time/{id}/edit"             => time::edit,               Access::Session(ANY_ROLE);
    POST "/time/{id}/delete"           => time::delete,             Access::Session(ANY_ROLE);
    GET  "/tasks/{id}/time"            => time::log_form,           Access::Session(ANY_ROLE);
    POST "/tasks/{id}/time"            => time::log,                Access::Session(ANY_ROLE);
    GET  "/tasks"                      => tasks::mine,              Access::Session(ANY_ROLE);
    GET  "/tasks/new"                  => tasks::new_form,          Access::Session(MONITOR_ROLES);
    POST "/tasks/new"                  => tasks::create,            Access::Session(MONITOR_ROLES);
    GET  "/tasks/{id}"                 => tasks::detail,            Access::Session(ANY_ROLE);
    POST "/tasks/{id}/progress"        => tasks::update_progress,   Access::Session(ANY_ROLE);
    POST "/tasks/{id}/status"          => tasks::set_status,        Access::Session(ADMIN_MANAGER);
    GET  "/tasks/{id}/edit"            => tasks::edit_form,         Access::Session(MONITOR_ROLES);
    POST "/tasks/{id}/edit"            => tasks::update,            Access::Session(MONITOR_ROLES);
    GET  "/monitor"                    => tasks::monitor,           Access::Session(MONITOR_ROLES);
    GET  "/ws"                         => crate::live::socket,      Access::Session(ANY_ROLE);
    GET  "/api/live/"                  => crate::live::api_feed,    Access::Token(ANY_ROLE);
    GET  "/api/me"                     => crate::api::me,           Access::Token(ANY_ROLE);
    GET  "/api/employee-tasks/"        => crate::api::tasks::employee_tasks, Access::Token(ANY_ROLE);
    POST "/api/task/{id}/progress/"    => crate::api::tasks::progress,       Access::Token(ANY_ROLE);
    POST "/api/task/{id}/complete/"    => crate::api::tasks::complete,       Access::Token(ANY_ROLE);
    GET  "/api/admin/task-status/"     => crate::api::tasks::task_status,    Access::Token(MONITOR_ROLES);
    GET  "/automation/jobs/{id}/status" => crate::api::automation::job_status, Access::Token(ADMIN_MANAGER);
    GET  "/automation/automation-log"  => crate::api::automation::automation_log, Access::Token(ADMIN);
}
