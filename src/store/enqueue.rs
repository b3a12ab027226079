//! Enqueueing jobs inside a use case's transaction: the job exists only
//! if the change that caused it commits. Services and job kinds use these;
//! the engine wakes a worker after the commit.

use chrono::NaiveDateTime;

use super::jobs::{self as store, NewJob};
use crate::db::DbConn;
use crate::domain::jobs::{self as rules, JobState};

/// Options of one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Run no earlier than this (default: now).
    pub run_at: Option<NaiveDateTime>,
    /// Attempts allowed (default: the engine's).
    pub max_attempts: Option<i32>,
    /// Refuse a second job with this key while one is waiting or running.
    pub unique_key: Option<String>,
}

/// Builds the row of a new job (for enqueues inside a use case's transaction).
pub fn new_job(kind: &str, payload: &serde_json::Value, options: &EnqueueOptions, now: NaiveDateTime) -> NewJob {
    NewJob {
        kind: kind.to_string(),
        payload: payload.to_string(),
        state: JobState::Pending.as_str().to_string(),
        max_attempts: options.max_attempts.unwrap_or(rules::DEFAULT_MAX_ATTEMPTS).max(1),
        run_at: options.run_at.unwrap_or(now),
        unique_key: options.unique_key.clone(),
        created_at: now,
    }
}

/// Enqueues inside a use case's transaction (the job exists only if the
/// change commits); call `Jobs::wake` after the commit.
pub fn enqueue_in(
    conn: &mut DbConn,
    kind: &str,
    payload: &serde_json::Value,
    options: &EnqueueOptions,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<i64>> {
    store::enqueue(conn, &new_job(kind, payload, options, now))
}
