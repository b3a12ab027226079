//! What the task pages share: the status and priority choices, reading
//! form numbers, and the live socket URL of a page.

use crate::domain::task::{Priority, TaskStatus};
use crate::services::{FieldErrors, ServiceError};

/// Status filter choices (value, label), in a task's order of life.
pub fn statuses() -> Vec<(&'static str, &'static str)> {
    TaskStatus::ALL.iter().map(|s| (s.as_str(), s.label())).collect()
}

/// Priority choices, lowest first.
pub fn priorities() -> Vec<&'static str> {
    Priority::ALL.iter().map(|p| p.as_str()).collect()
}

/// A status filter value, if it is a known status.
pub fn known_status(raw: Option<&str>) -> Option<String> {
    raw.and_then(|s| s.parse::<TaskStatus>().ok()).map(|s| s.as_str().to_string())
}

/// The WebSocket URL of a page: its view and filters, and the live-event
/// sequence the page was rendered at (a socket that connects with an older
/// sequence gets a resync). `since` must be read before the page's data:
/// read after, a change committed between the two would be in neither the
/// page nor the feed the socket joins.
pub fn ws_url(view: &str, filters: &str, since: u64) -> String {
    let sep = if filters.is_empty() { "" } else { "&" };
    format!("/ws?view={view}{sep}{filters}&since={since}")
}

/// Every field error in one sentence, for a flash message.
pub fn summary(errors: &FieldErrors) -> String {
    errors.values().cloned().collect::<Vec<_>>().join(" ")
}

/// A whole number from a form field, or the field's error.
pub fn parse_whole(field: &'static str, raw: &str, message: &str) -> Result<i64, ServiceError> {
    raw.trim().parse::<i64>().map_err(|_| ServiceError::field(field, message))
}

/// The optional `version` field of a form.
pub fn parse_version(raw: Option<&str>) -> Result<Option<i32>, ServiceError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i32>().map(Some).map_err(|_| ServiceError::field("version", "Unknown version.")),
    }
}
