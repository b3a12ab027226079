//! The route table: every route with its access policy, and the only file
//! that names handlers (pages, API, live sockets). A route cannot exist
//! without a declared policy: [`configure`] registers exactly [`ROUTES`].

use actix_web::{Route, web};

use crate::api;
use crate::http::access::{ADMIN, ADMIN_MANAGER, ANY_ROLE, Access, MONITOR_ROLES, NavLink, RouteSpec};
use crate::http::assets;
use crate::web::live::page::LiveRoute;
use crate::web::live::socket as live;
use crate::web::{admin, jobs, notifications, ops, pages, payroll, profile, settings, tasks, time};

/// The navigation, in order. Who sees a link is the policy of its page's
/// GET route below: the table is the one source of truth.
pub const NAV: &[NavLink] = &[
    NavLink { path: "/", label: "Home", key: "home", group: "My work" },
    NavLink { path: "/tasks", label: "My tasks", key: "mine", group: "My work" },
    NavLink { path: "/time", label: "My time", key: "time", group: "My work" },
    NavLink { path: "/notifications", label: "Notifications", key: "notifications", group: "My work" },
    NavLink { path: "/monitor", label: "Monitor", key: "monitor", group: "Team" },
    NavLink { path: "/tasks/new", label: "Assign", key: "assign", group: "Team" },
    NavLink { path: "/jobs", label: "Jobs", key: "jobs", group: "Automation" },
    NavLink { path: "/admin/users", label: "Users", key: "users", group: "Admin" },
    NavLink { path: "/admin/audit", label: "Audit log", key: "audit", group: "Admin" },
    NavLink { path: "/payroll", label: "Payroll", key: "payroll", group: "Admin" },
    NavLink { path: "/admin/settings", label: "Settings", key: "settings", group: "Admin" },
    NavLink { path: "/profile", label: "Profile", key: "profile", group: "Account" },
];

/// The live pages: the `view` their socket names, the page whose policy
/// decides who may follow it, and the module that serves it.
pub const LIVE: &[LiveRoute] = &[
    LiveRoute { view: "mine", page: "/tasks", open: tasks::mine::live_view },
    LiveRoute { view: "monitor", page: "/monitor", open: tasks::monitor::live_view },
    LiveRoute { view: "detail", page: "/tasks/{id}", open: tasks::detail::live_view },
    LiveRoute { view: "jobs", page: "/jobs", open: jobs::live_view },
];

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path, $access:expr;)*) => {
        /// Every route with its access policy.
        pub const ROUTES: &[RouteSpec] = &[
            $(RouteSpec { method: stringify!($method), path: $path, access: $access },)*
        ];

        /// Registers every route of [`ROUTES`], grouped by first segment
        /// (see [`Scopes`]).
        pub fn configure(cfg: &mut web::ServiceConfig) {
            let mut scopes = Scopes::default();
            $(scopes.add($path, web::method(actix_web::http::Method::$method).to($handler));)*
            scopes.register(cfg);
        }
    };
}

/// The routes grouped by their first path segment, one actix scope per
/// segment shared by several routes (`/api`, `/tasks`, `/payroll`…), in table
/// order. A request is then matched against a handful of prefixes and the
/// routes of one scope, not against every dynamic pattern of the table in
/// turn (each a regex), and so is the pattern lookup of the access
/// middleware. The full patterns, and so the policies, are unchanged.
#[derive(Default)]
struct Scopes {
    /// Routes by first segment, segments in order of first appearance.
    groups: Vec<(&'static str, Vec<Entry>)>,
}

/// A route of a [`Scopes`] group: (path within the segment, full path, route).
type Entry = (&'static str, &'static str, Route);

impl Scopes {
    fn add(&mut self, path: &'static str, route: Route) {
        // "/api/task/{id}/progress/" → ("/api", "/task/{id}/progress/");
        // "/tasks" → ("/tasks", ""); "/" → ("/", "").
        let end = path[1..].find('/').map_or(path.len(), |i| i + 1);
        let (prefix, rest) = path.split_at(end);
        match self.groups.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, routes)) => routes.push((rest, path, route)),
            None => self.groups.push((prefix, vec![(rest, path, route)])),
        }
    }

    /// Distinct first segments never match the same path, so registering
    /// the groups one after the other keeps the table's first-match order.
    fn register(self, cfg: &mut web::ServiceConfig) {
        for (prefix, routes) in self.groups {
            if routes.len() == 1 || prefix == "/" {
                for (_, path, route) in routes {
                    cfg.route(path, route);
                }
            } else {
                let scope =
                    routes.into_iter().fold(web::scope(prefix), |scope, (rest, _, route)| scope.route(rest, route));
                cfg.service(scope);
            }
        }
    }
}

routes! {
    GET  "/healthz"                    => ops::healthz,             Access::Public;
    GET  "/readyz"                     => ops::readyz,              Access::Public;
    GET  "/static/{path:.*}"           => assets::serve,            Access::Public;
    GET  "/favicon.ico"                => assets::favicon,          Access::Public;
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
    POST "/notifications/read-selected" => notifications::mark_selected_read, Access::Session(ANY_ROLE);
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
    POST "/profile/time-zone"          => settings::save_mine,      Access::Session(ANY_ROLE);
    GET  "/admin/settings"             => settings::page,           Access::Session(ADMIN);
    POST "/admin/settings"             => settings::save,           Access::Session(ADMIN);
    GET  "/time"                       => time::week,               Access::Session(ANY_ROLE);
    GET  "/time/export.csv"            => time::export,             Access::Session(ANY_ROLE);
    GET  "/time/{id}/edit"             => time::edit_form,          Access::Session(ANY_ROLE);
    POST "/time/{id}/edit"             => time::edit,               Access::Session(ANY_ROLE);
    POST "/time/{id}/delete"           => time::delete,             Access::Session(ANY_ROLE);
    GET  "/tasks/{id}/time"            => time::log_form,           Access::Session(ANY_ROLE);
    POST "/tasks/{id}/time"            => time::log,                Access::Session(ANY_ROLE);
    GET  "/tasks"                      => tasks::mine::mine,              Access::Session(ANY_ROLE);
    GET  "/tasks/new"                  => tasks::form::new_form,          Access::Session(MONITOR_ROLES);
    POST "/tasks/new"                  => tasks::form::create,            Access::Session(MONITOR_ROLES);
    GET  "/tasks/{id}"                 => tasks::detail::detail,            Access::Session(ANY_ROLE);
    POST "/tasks/{id}/progress"        => tasks::mine::update_progress,   Access::Session(ANY_ROLE);
    POST "/tasks/{id}/status"          => tasks::detail::set_status,        Access::Session(ADMIN_MANAGER);
    GET  "/tasks/{id}/edit"            => tasks::form::edit_form,         Access::Session(MONITOR_ROLES);
    POST "/tasks/{id}/edit"            => tasks::form::update,            Access::Session(MONITOR_ROLES);
    GET  "/monitor"                    => tasks::monitor::monitor,           Access::Session(MONITOR_ROLES);
    GET  "/ws"                         => live::socket,      Access::Session(ANY_ROLE);
    GET  "/api/live/"                  => live::api_feed,    Access::Token(ANY_ROLE);
    GET  "/api/openapi.json"           => api::doc::openapi_json,  Access::Public;
    GET  "/api/docs"                   => api::doc::docs,          Access::Public;
    GET  "/api/me"                     => api::me,           Access::Token(ANY_ROLE);
    GET  "/api/employee-tasks/"        => api::tasks::employee_tasks, Access::Token(ANY_ROLE);
    POST "/api/task/{id}/progress/"    => api::tasks::progress,       Access::Token(ANY_ROLE);
    POST "/api/task/{id}/complete/"    => api::tasks::complete,       Access::Token(ANY_ROLE);
    GET  "/api/admin/task-status/"     => api::tasks::task_status,    Access::Token(MONITOR_ROLES);
    GET  "/automation/jobs/{id}/status" => api::automation::job_status, Access::Token(ADMIN_MANAGER);
    GET  "/automation/automation-log"  => api::automation::automation_log, Access::Token(ADMIN);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Role;
    use crate::http::access::{Navigation, RouteTable};

    fn labels(role: Role) -> Vec<&'static str> {
        RouteTable(ROUTES).visible(Navigation(NAV), role).iter().map(|l| l.label).collect()
    }

    #[test]
    fn every_link_is_a_page_of_the_table() {
        for link in NAV {
            let page = ROUTES.iter().find(|r| r.method == "GET" && r.path == link.path);
            assert!(matches!(page.map(|p| p.access), Some(Access::Session(_))), "{} is not a page", link.path);
        }
    }

    #[test]
    fn every_live_view_follows_a_page_of_the_table() {
        for live in LIVE {
            let page = ROUTES.iter().find(|r| r.method == "GET" && r.path == live.page);
            assert!(matches!(page.map(|p| p.access), Some(Access::Session(_))), "{} is not a page", live.page);
        }
        let views: std::collections::HashSet<_> = LIVE.iter().map(|l| l.view).collect();
        assert_eq!(views.len(), LIVE.len(), "each view is named once");
    }

    #[test]
    fn each_role_sees_the_links_its_policies_allow() {
        let mine = ["Home", "My tasks", "My time", "Notifications"];
        assert_eq!(labels(Role::Employee), [&mine[..], &["Profile"]].concat());
        assert_eq!(labels(Role::Lead), [&mine[..], &["Monitor", "Assign", "Profile"]].concat());
        assert_eq!(labels(Role::Manager), [&mine[..], &["Monitor", "Assign", "Profile"]].concat());
        assert_eq!(
            labels(Role::Admin),
            [&mine[..], &["Monitor", "Assign", "Jobs", "Users", "Audit log", "Payroll", "Settings", "Profile"]]
                .concat()
        );
    }
}
