//! The page fragments that both a page load and a live update render, so
//! what arrives over the WebSocket is exactly what a reload would show.

use askama::Template;

use crate::domain::progress::accepts_progress;
use crate::domain::role::Role;
use crate::domain::task::Occupancy;
use crate::http::times::Times;
use crate::services::task_views::{Counters, TaskCard};

/// A task on the monitor grid (`#mon-<id>`).
#[derive(Template)]
#[template(path = "tasks/_monitor_card.html")]
pub struct MonitorCard<'a> {
    /// The task.
    pub card: &'a TaskCard,
    /// Times as the viewer reads them.
    pub times: &'a Times,
    /// Out-of-band swap mode for live updates (`None` on page load).
    pub oob: Option<&'a str>,
}

/// A task on the employee's page, with its progress form (`#mine-<id>`).
#[derive(Template)]
#[template(path = "tasks/_my_card.html")]
pub struct MyCard<'a> {
    /// The task.
    pub card: &'a TaskCard,
    /// Times as the viewer reads them.
    pub times: &'a Times,
    /// The viewer's CSRF token for the form.
    pub csrf: &'a str,
    /// A fresh idempotency key: a form sent twice (double click, resubmit
    /// after a timeout) is applied once.
    pub idem_key: String,
    /// Out-of-band swap mode for live updates.
    pub oob: Option<&'a str>,
    /// The viewer may change its progress (else the controls are off).
    pub editable: bool,
}

/// How many of a task's latest updates its live state block shows.
pub const STATE_UPDATES: usize = 3;

/// The live part of a task (`#state-<id>`): status, progress, latest updates
/// and the version the form sends back.
#[derive(Template)]
#[template(path = "tasks/_task_state.html")]
pub struct TaskStateView<'a> {
    /// The task.
    pub card: &'a TaskCard,
    /// Times as the viewer reads them.
    pub times: &'a Times,
    /// Swap out of band (live update).
    pub oob: bool,
}

/// The monitor's counters (`#counters`).
#[derive(Template)]
#[template(path = "tasks/_counters.html")]
pub struct CountersView<'a> {
    /// The figures.
    pub counters: &'a Counters,
    /// Swap out of band (live update).
    pub oob: bool,
}

/// A person's presence indicator (every `.occ-u<id>` on the page).
#[derive(Template)]
#[template(path = "tasks/_occupancy.html")]
pub struct OccupancyView {
    /// The person.
    pub user_id: i64,
    /// Their presence.
    pub occupancy: Occupancy,
    /// Swap every indicator of this person out of band (live update).
    pub oob: bool,
}

/// The header bell (`#bell`) with the unread count.
#[derive(Template)]
#[template(path = "notifications/_bell.html")]
pub struct BellView {
    /// Unread notifications.
    pub unread: i64,
    /// Swap out of band (live update).
    pub oob: bool,
}

/// Renders the bell.
pub fn bell(unread: i64, oob: bool) -> String {
    render(&BellView { unread, oob })
}

fn render(template: &impl Template) -> String {
    // Rendering these fragments only formats owned data; it cannot fail short
    // of a formatter bug, which the tests would show as an empty fragment.
    template.render().unwrap_or_else(|err| {
        tracing::error!(error = %err, "fragment failed to render");
        String::new()
    })
}

/// Renders a presence indicator.
pub fn occupancy(user_id: i64, occupancy: Occupancy, oob: bool) -> String {
    render(&OccupancyView { user_id, occupancy, oob })
}

/// A presence indicator as page templates call it (they pass references).
pub fn occupancy_badge(user_id: &i64, occupancy: &Occupancy) -> String {
    render(&OccupancyView { user_id: *user_id, occupancy: *occupancy, oob: false })
}

/// Renders a task's live state.
pub fn task_state(card: &TaskCard, times: &Times, oob: bool) -> String {
    render(&TaskStateView { card, times, oob })
}

/// A task as a compact card of the monitor's board (`#mon-<id>`).
#[derive(Template)]
#[template(path = "tasks/_board_card.html")]
pub struct BoardCard<'a> {
    /// The task.
    pub card: &'a TaskCard,
    /// Times as the viewer reads them.
    pub times: &'a Times,
    /// Out-of-band swap mode for live updates (`None` on page load).
    pub oob: Option<&'a str>,
}

/// A task as a row of the monitor's table (`#mon-<id>`).
#[derive(Template)]
#[template(path = "tasks/_task_row.html")]
pub struct TaskRow<'a> {
    /// The task.
    pub card: &'a TaskCard,
    /// Times as the viewer reads them.
    pub times: &'a Times,
    /// Out-of-band swap mode for live updates (`None` on page load).
    pub oob: Option<&'a str>,
}

/// Renders a board card.
pub fn board_card(card: &TaskCard, times: &Times, oob: Option<&str>) -> String {
    render(&BoardCard { card, times, oob })
}

/// Renders a table row.
pub fn task_row(card: &TaskCard, times: &Times, oob: Option<&str>) -> String {
    render(&TaskRow { card, times, oob })
}

/// A table row as a live frame of its own (rows cannot stand alone in HTML,
/// so htmx takes them from a template).
pub fn row_frame(html: &str) -> String {
    format!("<template>{html}</template>")
}

/// A priority's rank for sorting (urgent first).
pub fn priority_rank(priority: &str) -> u8 {
    match priority {
        "URGENT" => 0,
        "HIGH" => 1,
        "MEDIUM" => 2,
        _ => 3,
    }
}

/// Renders a monitor card.
pub fn monitor_card(card: &TaskCard, times: &Times, oob: Option<&str>) -> String {
    render(&MonitorCard { card, times, oob })
}

/// A status as people read it ("In progress"), from its stored name.
pub fn status_label(status: &str) -> &'static str {
    status.parse::<crate::domain::task::TaskStatus>().map_or("Unknown", |s| s.label())
}

/// A role as people read it ("Team lead").
pub fn role_label(role: &str) -> &'static str {
    role.parse::<Role>().map_or("Unknown", |r| r.label())
}

/// A priority as people read it ("Urgent").
pub fn priority_label(priority: &str) -> &'static str {
    priority.parse::<crate::domain::task::Priority>().map_or("Unknown", |p| p.label())
}

/// An out-of-band frame inserting `html` as the first child of `target`
/// (htmx inserts the wrapper's children, so the element keeps its id).
pub fn insert_first(target: &str, html: &str) -> String {
    format!(r#"<div hx-swap-oob="afterbegin:{target}">{html}</div>"#)
}

/// Renders an employee card.
pub fn my_card(card: &TaskCard, times: &Times, csrf: &str, role: Role, oob: Option<&str>) -> String {
    render(&MyCard {
        card,
        times,
        csrf,
        oob,
        editable: offers_controls(card, role),
        idem_key: crate::security::random_hex(16),
    })
}

/// Whether an employee card offers its progress controls to `role`.
pub fn offers_controls(card: &TaskCard, role: Role) -> bool {
    card.task.status.parse().is_ok_and(|status| accepts_progress(status, role))
}

/// Renders the counters.
pub fn counters(counters: &Counters, oob: bool) -> String {
    render(&CountersView { counters, oob })
}
