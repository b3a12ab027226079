//! What every page's base layout needs: the signed-in user, navigation by
//! role, the CSRF token, a flash message and the asset URLs.

use crate::domain::role::Role;
use crate::http::access::CurrentUser;
use crate::http::assets::{AssetUrls, asset_urls};
use crate::http::flash::Flash;
use crate::services::Actor;

/// A navigation link.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Target.
    pub href: &'static str,
    /// Text.
    pub label: &'static str,
    /// Marks the current page.
    pub current: bool,
}

/// The base layout's data.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Page title.
    pub title: String,
    /// The signed-in user, if any.
    pub actor: Option<Actor>,
    /// CSRF token for forms and htmx requests.
    pub csrf: String,
    /// One-time message.
    pub flash: Option<Flash>,
    /// Key of the current navigation entry.
    pub nav: &'static str,
    /// Cache-busted asset URLs.
    pub assets: &'static AssetUrls,
}

impl Layout {
    /// Layout for a signed-in page.
    pub fn for_user(user: &CurrentUser, title: impl Into<String>, nav: &'static str, flash: Option<Flash>) -> Layout {
        Layout {
            title: title.into(),
            actor: Some(user.actor.clone()),
            csrf: user.csrf().to_string(),
            flash,
            nav,
            assets: asset_urls(),
        }
    }

    /// Layout for a page seen before signing in.
    pub fn anonymous(title: impl Into<String>, csrf: String, flash: Option<Flash>) -> Layout {
        Layout { title: title.into(), actor: None, csrf, flash, nav: "", assets: asset_urls() }
    }

    /// Today (UTC), for date fields.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::db::now().date()
    }

    /// The navigation entries the user's role may use.
    pub fn nav_items(&self) -> Vec<NavItem> {
        let Some(actor) = &self.actor else { return Vec::new() };
        let mut items = vec![("/", "Home", "home"), ("/tasks", "My tasks", "mine"), ("/time", "My time", "time")];
        if actor.role != Role::Employee {
            items.push(("/monitor", "Monitor", "monitor"));
            items.push(("/tasks/new", "Assign", "assign"));
        }
        if actor.role == Role::Admin {
            items.push(("/admin/users", "Users", "users"));
            items.push(("/admin/audit", "Audit log", "audit"));
            items.push(("/jobs", "Jobs", "jobs"));
            items.push(("/payroll", "Payroll", "payroll"));
        }
        items.push(("/profile", "Profile", "profile"));
        items.into_iter().map(|(href, label, key)| NavItem { href, label, current: key == self.nav }).collect()
    }
}
