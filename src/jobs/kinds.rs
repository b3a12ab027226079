//! The job kinds: each handler is idempotent (run twice for the same slot,
//! it leaves the same state and sends each message once) and returns a
//! JSON summary kept on its job row.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDateTime;
use serde_json::json;

use super::clock::to_chrono;
use super::handler::{Handler, HandlerResult, JobContext};
use crate::services::ServiceError;
use crate::store::enqueue::{EnqueueOptions, enqueue_in};
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
    HashMap::from([
        ("overdue-tasks", handler(overdue_tasks)),
        ("high-priority-alert", handler(high_priority_alert)),
        ("stale-progress", handler(stale_progress)),
        ("cleanup-notifications", handler(cleanup_notifications)),
        ("cleanup-jobs", handler(cleanup_jobs)),
        ("send-pending-notifications", handler(send_pending_notifications)),
        ("deliver-email", handler(deliver_email)),
        ("weekly-payroll", handler(weekly_payroll)),
    ])
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
    let now = ctx.now;
    let (summary, notified) = ctx
        .db
        .write(move |conn| {
            let rows = notifications::overdue_tasks(conn, slot)?;
            let mut tasks = BTreeSet::new();
            let mut notes = Vec::new();
            for row in rows {
                tasks.insert(row.task_id);
                let mut recipients = vec![row.user_id];
                if let Some(team) = row.team_id {
                    recipients.extend(notifications::team_leads(conn, team)?);
                }
                for user_id in recipients {
                    notes.push(NewNotification {
                        user_id,
                        kind: "overdue".into(),
                        title: format!("Overdue: {}", row.title),
                        body: "This task is past its due date.".into(),
                        task_id: Some(row.task_id),
                        created_at: slot,
                    });
                }
            }
            let (sent, notified) = notify_once(conn, notes, day_start, now)?;
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
    announce(&ctx, &notified);
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

/// Sends each note once per day (and, when any is new, queues their email
/// delivery to run at `now`); returns how many were new and who got them
/// (their bells update after the commit).
fn notify_once(
    conn: &mut crate::db::DbConn,
    notes: Vec<NewNotification>,
    day_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(usize, BTreeSet<i64>), ServiceError> {
    let mut sent = 0;
    let mut notified = BTreeSet::new();
    for note in notes {
        if notifications::add_once(conn, &note, day_start)? {
            sent += 1;
            notified.insert(note.user_id);
        }
    }
    if sent > 0 {
        // Users who want each notification by email get it within moments,
        // not at the next hourly digest; the job commits with the notes.
        let once = EnqueueOptions { unique_key: Some("deliver-email".into()), ..Default::default() };
        enqueue_in(conn, "deliver-email", &json!({}), &once, now)?;
    }
    Ok((sent, notified))
}

fn announce(ctx: &JobContext, users: &BTreeSet<i64>) {
    for user in users {
        ctx.bus.notifications_changed(*user);
    }
}

/// A project with at least `threshold` (default 3) open HIGH/URGENT tasks
/// notifies its manager and the admins, once per project and day.
async fn high_priority_alert(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let slot = slot_of(&ctx, &payload);
    let day_start = slot.date().and_hms_opt(0, 0, 0).unwrap_or(slot);
    let now = ctx.now;
    let threshold = payload["threshold"].as_i64().filter(|t| *t >= 1).unwrap_or(3);
    let (alerts_sent, notified) = ctx
        .db
        .write(move |conn| {
            let projects = notifications::busy_projects(conn, threshold)?;
            let admins = notifications::admins(conn)?;
            let mut notes = Vec::new();
            for project in &projects {
                let (name, manager, open) = (&project.name, project.manager_id, project.open);
                let mut recipients: BTreeSet<i64> = admins.iter().copied().collect();
                recipients.extend(manager);
                for user_id in recipients {
                    notes.push(NewNotification {
                        user_id,
                        kind: "high_priority".into(),
                        title: format!("{name}: {open} open high-priority tasks"),
                        body: format!(
                            "The project has {open} open HIGH or URGENT tasks (alert threshold {threshold})."
                        ),
                        task_id: None,
                        created_at: slot,
                    });
                }
            }
            notify_once(conn, notes, day_start, now)
        })
        .await
        .map_err(|e| e.to_string())?;
    announce(&ctx, &notified);
    Ok(json!({ "date": slot.date().to_string(), "alerts_sent": alerts_sent, "threshold": threshold }))
}

/// IN_PROGRESS tasks with no update since the previous working day remind
/// their assignees, once per task and day.
async fn stale_progress(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let slot = slot_of(&ctx, &payload);
    let day_start = slot.date().and_hms_opt(0, 0, 0).unwrap_or(slot);
    let now = ctx.now;
    let since = crate::domain::jobs::previous_working_day(slot.date()).and_hms_opt(0, 0, 0).unwrap_or(slot);
    let (tasks, sent, notified) = ctx
        .db
        .write(move |conn| {
            let rows = notifications::stale_in_progress(conn, since)?;
            let tasks: BTreeSet<i64> = rows.iter().map(|r| r.0).collect();
            let notes = rows
                .into_iter()
                .map(|(task_id, title, user_id)| NewNotification {
                    user_id,
                    kind: "stale_progress".into(),
                    title: format!("No progress lately: {title}"),
                    body: "This task has not been updated since the previous working day.".into(),
                    task_id: Some(task_id),
                    created_at: slot,
                })
                .collect();
            let (sent, notified) = notify_once(conn, notes, day_start, now)?;
            Ok::<_, ServiceError>((tasks.len(), sent, notified))
        })
        .await
        .map_err(|e| e.to_string())?;
    announce(&ctx, &notified);
    Ok(json!({ "date": slot.date().to_string(), "stale_tasks": tasks, "reminders_sent": sent }))
}

/// Archives notifications read more than 30 days (payload `days`) ago.
async fn cleanup_notifications(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let days = payload["days"].as_i64().filter(|d| *d >= 1).unwrap_or(30);
    let before = ctx.now - chrono::Duration::days(days);
    let now = ctx.now;
    let archived = ctx
        .db
        .write(move |conn| Ok::<_, ServiceError>(notifications::archive_read(conn, before, now)?))
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({ "archived": archived, "older_than_days": days }))
}

/// Queues the emails that notifications call for, then delivers every
/// queued message. `digests`: also the hourly digests.
async fn send_emails(ctx: &JobContext, digests: bool) -> HandlerResult {
    let base_url = ctx.settings.mail.base_url.clone();
    let now = ctx.now;
    let queued = ctx
        .db
        .write(move |conn| crate::services::mail::queue_pending(conn, digests, &base_url, now))
        .await
        .map_err(|e| e.to_string())?;
    let delivery = crate::services::mail::deliver(&ctx.db, &ctx.settings.mail, now).await.map_err(|e| e.to_string())?;
    if let Some(error) = delivery.error {
        // Retried with backoff; the queued messages wait in the outbox.
        return Err(format!(
            "{} of {} emails could not be sent: {error}",
            delivery.failed,
            delivery.failed + delivery.sent
        ));
    }
    Ok(json!({ "queued": queued, "sent": delivery.sent }))
}

/// Hourly: a digest of unread notifications not yet emailed to each user
/// who wants a digest, plus anything still waiting in the outbox.
async fn send_pending_notifications(ctx: JobContext, _payload: serde_json::Value) -> HandlerResult {
    send_emails(&ctx, true).await
}

/// Right after notifications are added: email those users who want each
/// notification at once.
async fn deliver_email(ctx: JobContext, _payload: serde_json::Value) -> HandlerResult {
    send_emails(&ctx, false).await
}

/// Monday 07:00: the pay period of the previous Monday–Sunday (in the
/// schedule's time zone), from time entries; pending until an admin
/// approves it. A payload `week` (any day, YYYY-MM-DD) picks another week.
async fn weekly_payroll(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let slot = slot_of(&ctx, &payload);
    let chosen = payload["week"].as_str().map(str::parse::<chrono::NaiveDate>);
    ctx.db
        .write(move |conn| {
            let start = match chosen {
                Some(Ok(day)) => crate::domain::payroll::payable_week(day, slot.date())
                    .map_err(|e| ServiceError::field("week", e))?,
                Some(Err(_)) => return Err(ServiceError::field("week", "week must be a day as YYYY-MM-DD")),
                None => {
                    let zone = job_store::schedule(conn, "weekly-payroll")?
                        .and_then(|s| s.timezone.parse::<chrono_tz::Tz>().ok())
                        .unwrap_or(chrono_tz::UTC);
                    let local = chrono::TimeZone::from_utc_datetime(&zone, &slot).date_naive();
                    crate::domain::payroll::previous_week(local).0
                }
            };
            Ok(crate::services::payroll::generate(conn, start, slot)?.1)
        })
        .await
        .map_err(|e| e.to_string())
}
