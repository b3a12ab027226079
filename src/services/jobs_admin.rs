//! What admins see of the job queue: jobs by state, the latest jobs and the
//! email outbox (the Jobs page, live).

use super::ServiceError;
use crate::db::Db;
use crate::store::jobs::{self as store, Job};

/// What the Jobs page shows live: jobs by state, the latest jobs, the
/// email outbox.
#[derive(Debug, Clone)]
pub struct JobsOverview {
    /// Jobs per state, in the order of a job's life.
    pub counts: Vec<(String, i64)>,
    /// The latest jobs.
    pub recent: Vec<Job>,
    /// Email outbox: (sent, waiting).
    pub outbox: (i64, i64),
}

/// How many recent jobs the page lists.
const RECENT: i64 = 50;

/// Loads the live part of the Jobs page.
pub async fn overview(db: &Db) -> Result<JobsOverview, ServiceError> {
    let (mut counts, recent) = queue(db, RECENT).await?;
    let order = ["pending", "running", "retrying", "succeeded", "dead"];
    counts.sort_by_key(|(s, _)| order.iter().position(|o| o == s));
    let outbox = super::mail::outbox(db).await?;
    Ok(JobsOverview { counts, recent, outbox })
}

/// Jobs per state and the `recent` latest jobs (the Jobs page, the CLI).
pub async fn queue(db: &Db, recent: i64) -> Result<(Vec<(String, i64)>, Vec<Job>), ServiceError> {
    db.read(move |conn| Ok::<_, ServiceError>((store::counts(conn)?, store::recent(conn, recent)?))).await
}

/// Prunes finished jobs: succeeded ones finished before `succeeded_before`,
/// dead ones before `dead_before`; returns how many went.
pub async fn prune(
    db: &Db,
    succeeded_before: chrono::NaiveDateTime,
    dead_before: chrono::NaiveDateTime,
) -> Result<usize, ServiceError> {
    db.write(move |conn| Ok::<_, ServiceError>(store::prune(conn, succeeded_before, dead_before)?)).await
}
