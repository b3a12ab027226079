//! The job kinds, one file per capability, and the registry with the
//! default schedules side by side. Each handler is idempotent (run twice
//! for the same slot, it leaves the same state and sends each message
//! once), is a thin call into one service, and returns a JSON summary kept
//! on its job row.

pub mod alerts;
pub mod common;
pub mod mail;
pub mod maintenance;
pub mod payroll;

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::jobs::handler::Handler;
use crate::store::schedules::Schedule;
use common::handler;

/// Every built-in kind by name.
pub fn handlers() -> HashMap<&'static str, Handler> {
    HashMap::from([
        ("overdue-tasks", handler(alerts::overdue_tasks)),
        ("high-priority-alert", handler(alerts::high_priority_alert)),
        ("stale-progress", handler(alerts::stale_progress)),
        ("cleanup-notifications", handler(alerts::cleanup_notifications)),
        ("cleanup-jobs", handler(maintenance::cleanup_jobs)),
        ("send-pending-notifications", handler(mail::send_pending_notifications)),
        ("deliver-email", handler(mail::deliver_email)),
        ("weekly-payroll", handler(payroll::weekly_payroll)),
    ])
}

/// The default schedules (added at start-up when missing; edits are kept).
pub fn default_schedules(now: NaiveDateTime) -> Vec<Schedule> {
    let schedule = |name: &str, cron: &str| Schedule {
        name: name.into(),
        job_kind: name.into(),
        cron: cron.into(),
        timezone: "UTC".into(),
        enabled: true,
        catch_up: "once".into(),
        last_slot: None,
        updated_at: now,
    };
    vec![
        schedule("overdue-tasks", "0 6 * * *"),
        schedule("high-priority-alert", "0 9 * * *"),
        schedule("stale-progress", "15 17 * * *"),
        schedule("cleanup-notifications", "0 2 * * SUN"),
        schedule("cleanup-jobs", "30 2 * * *"),
        schedule("send-pending-notifications", "0 * * * *"),
        schedule("weekly-payroll", "0 7 * * MON"),
    ]
}
