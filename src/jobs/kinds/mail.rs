//! The email kinds: thin calls into `services::mail`.

use crate::jobs::handler::{HandlerResult, JobContext};
use crate::services::mail;

/// Hourly: a digest of unread notifications not yet emailed to each user
/// who wants a digest, plus anything still waiting in the outbox.
pub async fn send_pending_notifications(ctx: JobContext, _payload: serde_json::Value) -> HandlerResult {
    mail::send_pending(&ctx.db, &ctx.settings.mail, true, ctx.now).await
}

/// Right after notifications are added: email those users who want each
/// notification at once.
pub async fn deliver_email(ctx: JobContext, _payload: serde_json::Value) -> HandlerResult {
    mail::send_pending(&ctx.db, &ctx.settings.mail, false, ctx.now).await
}
