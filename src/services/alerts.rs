//! Scheduled alerts as notifications: overdue tasks, projects with many
//! open high-priority tasks, progress gone stale, and archiving old read
//! notifications. Each note is sent once per day (run twice, an alert
//! leaves the same state), emails are queued in the same transaction, and
//! the recipients' bells update after the commit.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::ServiceError;
use crate::db::Db;
use crate::live::LiveBus;
use crate::services::notifications::{announce, send_once};
use crate::store::notifications::{self, NewNotification};

/// The start of the day a slot falls in (notes are once per task and day).
fn day_start(slot: NaiveDateTime) -> NaiveDateTime {
    slot.date().and_hms_opt(0, 0, 0).unwrap_or(slot)
}

/// Flags open tasks past due at `slot`: each assignee and their team's
/// leads get one notification per task and day.
pub async fn overdue_tasks(
    db: &Db,
    bus: &LiveBus,
    slot: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Value, ServiceError> {
    let (summary, notified) = db
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
            let (sent, notified) = send_once(conn, notes, day_start(slot), now)?;
            let summary = json!({
                "date": slot.date().to_string(),
                "overdue_tasks": tasks.len(),
                "notifications_sent": sent,
            });
            Ok::<_, ServiceError>((summary, notified))
        })
        .await?;
    announce(bus, &notified);
    Ok(summary)
}

/// A project with at least `threshold` open HIGH/URGENT tasks notifies its
/// manager and the admins, once per project and day.
pub async fn high_priority(
    db: &Db,
    bus: &LiveBus,
    slot: NaiveDateTime,
    now: NaiveDateTime,
    threshold: i64,
) -> Result<Value, ServiceError> {
    let (alerts_sent, notified) = db
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
            send_once(conn, notes, day_start(slot), now)
        })
        .await?;
    announce(bus, &notified);
    Ok(json!({ "date": slot.date().to_string(), "alerts_sent": alerts_sent, "threshold": threshold }))
}

/// IN_PROGRESS tasks with no update since the previous working day remind
/// their assignees, once per task and day.
pub async fn stale_progress(
    db: &Db,
    bus: &LiveBus,
    slot: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Value, ServiceError> {
    let since = crate::domain::jobs::previous_working_day(slot.date()).and_hms_opt(0, 0, 0).unwrap_or(slot);
    let (tasks, sent, notified) = db
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
            let (sent, notified) = send_once(conn, notes, day_start(slot), now)?;
            Ok::<_, ServiceError>((tasks.len(), sent, notified))
        })
        .await?;
    announce(bus, &notified);
    Ok(json!({ "date": slot.date().to_string(), "stale_tasks": tasks, "reminders_sent": sent }))
}

/// Archives notifications read more than `days` days before `now`.
pub async fn archive_read(db: &Db, days: i64, now: NaiveDateTime) -> Result<Value, ServiceError> {
    let before = now - chrono::Duration::days(days);
    let archived = db.write(move |conn| Ok::<_, ServiceError>(notifications::archive_read(conn, before, now)?)).await?;
    Ok(json!({ "archived": archived, "older_than_days": days }))
}
