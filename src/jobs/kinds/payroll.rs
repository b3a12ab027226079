//! The payroll kind: a thin call into `services::payroll`.

use super::common::slot_of;
use crate::jobs::handler::{HandlerResult, JobContext};
use crate::services::payroll;

/// Monday 07:00: the pay period of the previous Monday–Sunday (in the
/// schedule's time zone), from time entries; pending until an admin
/// approves it. A payload `week` (any day, YYYY-MM-DD) picks another week.
pub async fn weekly_payroll(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    payroll::generate_scheduled(&ctx.db, slot_of(&ctx, &payload), payload["week"].as_str())
        .await
        .map_err(|e| e.to_string())
}
