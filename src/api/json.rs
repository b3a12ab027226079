//! JSON shapes shared by API endpoints and the live JSON feed.

use serde::Serialize;

use crate::services::task_views::{AssigneeView, TaskCard};

/// A task in API lists.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    /// Each assignee with their status and presence (detailed lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    assignees: Option<Vec<AssigneeView>>,
    /// The latest trail row (detailed lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
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

/// Every API error: a message safe to show, and field messages when input
/// was refused (`{"field": "why"}`; for a 409, `{"current": …}`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: String,
    /// Per-field messages, or the current state on a conflict.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// `GET /api/employee-tasks/`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    /// The tasks.
    pub tasks: Vec<TaskJson>,
}

/// `GET /api/admin/task-status/`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskStatusPage {
    /// This page's tasks, with assignees and last update.
    pub tasks: Vec<TaskJson>,
    /// Counters over the caller's scope (total, per status, overdue).
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
    /// Page number.
    pub page: i64,
    /// Page size.
    pub per_page: i64,
    /// Number of pages.
    pub pages: i64,
    /// Matching tasks.
    pub total: i64,
}

/// `GET /api/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// User id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub full_name: String,
    /// admin, manager, lead or employee.
    pub role: String,
    /// Team, if any.
    pub team_id: Option<i64>,
}

/// `GET /automation/jobs/{id}/status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// Job id (text, as in the seed).
    pub job_id: String,
    /// PENDING, STARTED, SUCCESS, FAILURE or RETRY.
    pub status: String,
    /// The handler's summary, or `{"error"}`.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
    /// Job kind.
    pub kind: String,
    /// Attempts so far.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

/// `GET /automation/automation-log`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AutomationLog {
    /// Entries in all.
    pub total: i64,
    /// Pages in all.
    pub pages: i64,
    /// This page.
    pub current_page: i64,
    /// The entries: id, user, action, resource_type, resource_id, status, created_at.
    #[schema(value_type = Vec<Object>)]
    pub logs: Vec<serde_json::Value>,
}
