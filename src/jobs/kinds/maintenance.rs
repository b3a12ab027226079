//! Keeping the job table small: a thin call into `services::jobs_admin`.

use serde_json::json;

use crate::jobs::clock::to_chrono;
use crate::jobs::handler::{HandlerResult, JobContext};
use crate::services::jobs_admin;

/// Daily: prunes finished job rows past their retention (dead ones kept
/// longer): the engine's settings, unless the payload names other days.
pub async fn cleanup_jobs(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let keep =
        |key: &str, configured| payload[key].as_i64().map_or_else(|| to_chrono(configured), chrono::Duration::days);
    let succeeded_before = ctx.now - keep("retention_days", ctx.settings.retention);
    let dead_before = ctx.now - keep("dead_retention_days", ctx.settings.dead_retention);
    let pruned = jobs_admin::prune(&ctx.db, succeeded_before, dead_before).await.map_err(|e| e.to_string())?;
    Ok(json!({ "pruned": pruned }))
}
