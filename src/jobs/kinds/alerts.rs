//! The alert kinds: thin calls into `services::alerts`.

use super::common::slot_of;
use crate::jobs::handler::{HandlerResult, JobContext};
use crate::services::alerts;

/// Daily: open tasks past due notify their assignees and team leads.
pub async fn overdue_tasks(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    alerts::overdue_tasks(&ctx.db, &ctx.bus, slot_of(&ctx, &payload), ctx.now).await.map_err(|e| e.to_string())
}

/// Daily: a project with at least `threshold` (default 3) open HIGH/URGENT
/// tasks notifies its manager and the admins.
pub async fn high_priority_alert(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let threshold = payload["threshold"].as_i64().filter(|t| *t >= 1).unwrap_or(3);
    alerts::high_priority(&ctx.db, &ctx.bus, slot_of(&ctx, &payload), ctx.now, threshold)
        .await
        .map_err(|e| e.to_string())
}

/// Daily: IN_PROGRESS tasks not updated since the previous working day
/// remind their assignees.
pub async fn stale_progress(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    alerts::stale_progress(&ctx.db, &ctx.bus, slot_of(&ctx, &payload), ctx.now).await.map_err(|e| e.to_string())
}

/// Weekly: archives notifications read more than 30 days (payload `days`) ago.
pub async fn cleanup_notifications(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let days = payload["days"].as_i64().filter(|d| *d >= 1).unwrap_or(30);
    alerts::archive_read(&ctx.db, days, ctx.now).await.map_err(|e| e.to_string())
}
