//! JSON shapes shared by API endpoints and the live JSON feed.

use serde::Serialize;

use crate::services::task_views::{AssigneeView, TaskCard};

/// A task in API lists.
#[derive(Debug, Serialize)]
pub struct TaskJson {
    id: i64,
    title: String,
    description: String,
    project: Option<String>,
    progress_percentage: i32,
    status: String,
    priority: String,
    /// Due date (YYYY-MM-DD, UTC), as in the seed.
    due_date: Option<String>,
    /// Due time (RFC 3339, UTC).
    due_at: Option<String>,
    is_overdue: bool,
    version: i32,
    last_progress_update_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignees: Option<Vec<AssigneeView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update: Option<serde_json::Value>,
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A card as the API shows it (`detailed`: with assignees and last update).
pub fn task_json(card: TaskCard, detailed: bool) -> TaskJson {
    let last_update = card.recent.first().map(|row| {
        serde_json::json!({
            "previous_progress": row.previous_progress,
            "new_progress": row.new_progress,
            "previous_status": row.previous_status,
            "new_status": row.new_status,
            "notes": row.notes,
            "occupancy_status": row.occupancy_status,
            "by": row.who,
            "at": rfc3339(row.created_at),
        })
    });
    let task = card.task;
    TaskJson {
        id: task.id,
        title: task.title,
        description: task.description,
        project: card.project,
        progress_percentage: task.progress,
        status: task.status,
        priority: task.priority,
        due_date: task.due_at.map(|d| d.format("%Y-%m-%d").to_string()),
        due_at: task.due_at.map(rfc3339),
        is_overdue: card.overdue,
        version: task.version,
        last_progress_update_at: task.last_progress_update_at.map(rfc3339),
        assignees: detailed.then_some(card.assignees),
        last_update: if detailed { Some(last_update.unwrap_or(serde_json::Value::Null)) } else { None },
    }
}
