//! What every page's base layout needs: the signed-in user, the navigation
//! their role may use, the CSRF token, a flash message and the asset URLs.

use crate::http::access::{CurrentUser, NavLink};
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
    /// The links the user may open, in order.
    pub links: Vec<NavLink>,
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
            links: user.nav.clone(),
            assets: asset_urls(),
        }
    }

    /// Layout for a page seen before signing in.
    pub fn anonymous(title: impl Into<String>, csrf: String, flash: Option<Flash>) -> Layout {
        Layout { title: title.into(), actor: None, csrf, flash, nav: "", links: Vec::new(), assets: asset_urls() }
    }

    /// Today (UTC), for date fields.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::db::now().date()
    }

    /// The navigation entries the user's role may use (from the route
    /// table's policies), the current one marked.
    pub fn nav_items(&self) -> Vec<NavItem> {
        self.links.iter().map(|l| NavItem { href: l.path, label: l.label, current: l.key == self.nav }).collect()
    }
}
