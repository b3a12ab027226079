//! The job kinds: each handler is idempotent (run twice for the same slot,
//! it leaves the same state and sends each message once) and returns a
//! JSON summary kept on its job row.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDateTime;
use serde_json::json;

use super::{Handler, HandlerResult, JobContext, to_chrono};
use crate::services::ServiceError;
use crate::store::jobs as job_store;
use crate::store::notifications::{self, NewNotification};

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobContext, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |ctx, payload| Box::pin(f(ctx, payload)))
}

/// Every built-in kind by name.
pub fn handlers() -> HashMap<&'static str, Handler> {
    HashMap::from([("overdue-tasks", handler(overdue_tasks)), ("cleanup-jobs", handler(cleanup_jobs))])
}

/// The slot a scheduled run stands for (its payload), else the attempt's time.
fn slot_of(ctx: &JobContext, payload: &serde_json::Value) -> NaiveDateTime {
    payload["slot"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.naive_utc())
        .unwrap_or(ctx.now)
}

/// Flags open tasks past due: each assignee and their team's lead get one
/// notification per task and day.
async fn overdue_tasks(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let slot = slot_of(&ctx, &payload);
    let day_start = slot.date().and_hms_opt(0, 0, 0).unwrap_or(slot);
    let (summary, notified) = ctx
        .db
        .write(move |conn| {
            let rows = notifications::overdue_tasks(conn, slot)?;
            let mut tasks = BTreeSet::new();
            let mut notified = BTreeSet::new();
            let mut sent = 0;
            for row in rows {
                tasks.insert(row.task_id);
                let mut recipients = vec![row.user_id];
                if let Some(team) = row.team_id {
                    recipients.extend(notifications::team_leads(conn, team)?);
                }
                for recipient in recipients {
                    let note = NewNotification {
                        user_id: recipient,
                        kind: "overdue".into(),
                        title: format!("Overdue: {}", row.title),
                        body: "This task is past its due date.".into(),
                        task_id: Some(row.task_id),
                        created_at: slot,
                    };
                    if notifications::add_once(conn, &note, day_start)? {
                        sent += 1;
                        notified.insert(recipient);
                    }
                }
            }
            let summary = json!({
                "date": slot.date().to_string(),
                "overdue_tasks": tasks.len(),
                "notifications_sent": sent,
            });
            Ok::<_, ServiceError>((summary, notified))
        })
        .await
        .map_err(|e| e.to_string())?;
    // After the commit: the recipients' bells update live.
    for user in notified {
        ctx.bus.notifications_changed(user);
    }
    Ok(summary)
}

/// Prunes finished job rows past their retention (dead ones kept longer):
/// the engine's settings, unless the payload names other days.
async fn cleanup_jobs(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let keep =
        |key: &str, configured| payload[key].as_i64().map_or_else(|| to_chrono(configured), chrono::Duration::days);
    let succeeded_before = ctx.now - keep("retention_days", ctx.settings.retention);
    let dead_before = ctx.now - keep("dead_retention_days", ctx.settings.dead_retention);
    let pruned = ctx
        .db
        .write(move |conn| Ok::<_, ServiceError>(job_store::prune(conn, succeeded_before, dead_before)?))
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({ "pruned": pruned }))
}
