//! What every page's base layout needs: the signed-in user, the navigation
//! their role may use, the CSRF token, a flash message and the asset URLs.

use crate::http::access::{CurrentUser, NavLink};
use crate::http::assets::{AssetUrls, asset_urls};
use crate::http::flash::Flash;
use crate::http::times::Times;
use crate::services::Actor;

/// A group of the sidebar with its links.
#[derive(Debug, Clone)]
pub struct NavGroup {
    /// Its heading.
    pub label: &'static str,
    /// Its links, in order.
    pub items: Vec<NavItem>,
}

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
    /// Times as the viewer reads them.
    pub times: Times,
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
            times: Times::in_zone(user.zone),
        }
    }

    /// Layout for a page seen before signing in.
    pub fn anonymous(title: impl Into<String>, csrf: String, flash: Option<Flash>) -> Layout {
        Layout {
            title: title.into(),
            actor: None,
            csrf,
            flash,
            nav: "",
            links: Vec::new(),
            assets: asset_urls(),
            times: Times::default(),
        }
    }

    /// Today (UTC), for date fields.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::db::now().date()
    }

    /// The sidebar: the links the user may open, by group, in table order
    /// (the account links live in the top bar's user menu instead).
    pub fn nav_groups(&self) -> Vec<NavGroup> {
        let mut groups: Vec<NavGroup> = Vec::new();
        for link in self.links.iter().filter(|l| l.group != "Account") {
            let item = NavItem { href: link.path, label: link.label, current: link.key == self.nav };
            match groups.iter_mut().find(|g| g.label == link.group) {
                Some(group) => group.items.push(item),
                None => groups.push(NavGroup { label: link.group, items: vec![item] }),
            }
        }
        groups
    }

    /// The signed-in person's initials, for their avatar.
    pub fn initials(&self) -> String {
        self.actor.as_ref().map(|a| crate::domain::text::initials(&a.full_name)).unwrap_or_default()
    }

    /// The signed-in person's avatar colour class.
    pub fn avatar(&self) -> i64 {
        self.actor.as_ref().map_or(0, |a| crate::domain::text::avatar_colour(a.id))
    }
}
