//! Progress updates and completions: one transaction changes the task, its
//! assignments and appends exactly one trail row (plus the idempotency
//! record); the live event goes out after commit.

use serde::{Deserialize, Serialize};

use crate::db::{Db, DbConn, is_unique_violation, now};
use crate::domain::access::{Viewer, may_access};
use crate::domain::progress::{self, ChangeError, TaskState};
use crate::domain::task::{Occupancy, Progress, TaskStatus};
use crate::live::LiveBus;
use crate::security::digest;
use crate::services::{Actor, FieldErrors, ServiceError};
use crate::store::idempotency::{self, StoredAnswer};
use crate::store::tasks::{self, NewProgress, StateChange, Task};

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Set progress to a value.
    Progress,
    /// Mark complete (progress 100).
    Complete,
}

/// A progress update as received (checked here, once).
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The task.
    pub task_id: i64,
    /// Progress or completion.
    pub kind: Kind,
    /// New progress (ignored for completions).
    pub progress: i64,
    /// Notes.
    pub notes: String,
    /// The caller's presence, as reported.
    pub occupancy: Option<String>,
    /// The version the caller saw; None applies to the current state.
    pub expected_version: Option<i32>,
    /// Makes retries safe: the same key replays the first answer.
    pub idempotency_key: Option<String>,
}

/// The answer (the seed's fields plus the new version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateAnswer {
    /// Always "success".
    pub status: String,
    /// The task.
    pub task_id: i64,
    /// Progress now.
    pub new_progress: i32,
    /// Status now.
    pub task_status: String,
    /// Version now.
    pub version: i32,
}

/// How long idempotency keys are kept.
pub const IDEMPOTENCY_RETENTION: chrono::Duration = chrono::Duration::hours(24);

#[derive(Clone)]
struct Checked {
    progress: Progress,
    notes: String,
    occupancy: Option<Occupancy>,
    key: Option<String>,
}

fn check(request: &UpdateRequest) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let raw = if request.kind == Kind::Complete { 100 } else { request.progress };
    let progress = Progress::parse(raw).map_err(|e| errors.insert("progress_percentage", e)).ok();
    let notes = progress::parse_notes(&request.notes).map_err(|e| errors.insert("notes", e)).ok();
    let occupancy = match request.occupancy.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => raw
            .parse::<Occupancy>()
            .map(Some)
            .map_err(|_| errors.insert("occupancy_status", "Occupancy must be ACTIVE, IDLE or OFFLINE.".into()))
            .ok()
            .flatten(),
        None => None,
    };
    let key = request.idempotency_key.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(str::to_string);
    if key.as_ref().is_some_and(|k| k.len() > 200 || k.chars().any(char::is_control)) {
        errors.insert("idempotency_key", "An idempotency key is 1 to 200 printable characters.".into());
    }
    match (progress, notes, errors.is_empty()) {
        (Some(progress), Some(notes), true) => Ok(Checked { progress, notes, occupancy, key }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

fn request_hash(request: &UpdateRequest, checked: &Checked) -> String {
    let kind = match request.kind {
        Kind::Progress => "progress",
        Kind::Complete => "complete",
    };
    digest(&format!(
        "{kind}|{}|{}|{}|{:?}|{:?}",
        request.task_id,
        checked.progress.value(),
        checked.notes,
        checked.occupancy.map(Occupancy::as_str),
        request.expected_version
    ))
}

fn current_state(task: &Task) -> serde_json::Value {
    serde_json::json!({
        "task_id": task.id,
        "progress_percentage": task.progress,
        "status": task.status,
        "version": task.version,
    })
}

fn task_state(task: &Task) -> Result<TaskState, ServiceError> {
    Ok(TaskState {
        progress: Progress::parse(i64::from(task.progress)).map_err(ServiceError::Internal)?,
        status: task.status.parse::<TaskStatus>().map_err(ServiceError::Internal)?,
    })
}

/// Loads a task the viewer may access; anything else is "not found".
pub fn load_visible(conn: &mut DbConn, viewer: Viewer, task_id: i64) -> Result<Task, ServiceError> {
    let task = tasks::find(conn, task_id)?.ok_or(ServiceError::NotFound)?;
    let assignees: Vec<(i64, Option<i64>)> =
        tasks::assignees(conn, task_id)?.into_iter().map(|a| (a.user_id, a.team_id)).collect();
    if may_access(viewer, &assignees) { Ok(task) } else { Err(ServiceError::NotFound) }
}

/// Whether the answer was replayed from an earlier identical request.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The answer.
    pub answer: UpdateAnswer,
    /// True when nothing was written (idempotent replay).
    pub replayed: bool,
}

/// Updates a task's progress (or completes it) for `actor`.
pub async fn update(db: &Db, bus: &LiveBus, actor: &Actor, request: UpdateRequest) -> Result<Outcome, ServiceError> {
    let checked = check(&request)?;
    let hash = request_hash(&request, &checked);
    let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
    let attempt = {
        let (request, hash, checked) = (request.clone(), hash.clone(), checked.clone());
        db.write(move |conn| apply(conn, viewer, &request, &checked, &hash)).await
    };
    let outcome = match attempt {
        // Two identical keyed requests raced (PostgreSQL): the loser rolled
        // back entirely; answer it with the winner's stored answer.
        Err(ServiceError::Db(crate::db::DbError::Query(ref e))) if checked.key.is_some() && is_unique_violation(e) => {
            let key = checked.key.clone().unwrap_or_default();
            db.read(move |conn| replay(conn, viewer.id, &key, &hash))
                .await?
                .ok_or(ServiceError::Internal("lost idempotency record".into()))?
        }
        other => other?,
    };
    if !outcome.replayed {
        bus.task_changed(outcome.answer.task_id);
    }
    Ok(outcome)
}

fn replay(conn: &mut DbConn, user_id: i64, key: &str, hash: &str) -> Result<Option<Outcome>, ServiceError> {
    let Some(stored) = idempotency::find(conn, user_id, key)? else { return Ok(None) };
    if stored.request_hash != hash {
        return Err(ServiceError::field("idempotency_key", "This Idempotency-Key was used for a different request."));
    }
    let answer: UpdateAnswer =
        serde_json::from_str(&stored.response_body).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Some(Outcome { answer, replayed: true }))
}

/// Attempts before giving up on a task that keeps changing under us.
const MAX_RETRIES: usize = 50;

fn apply(
    conn: &mut DbConn,
    viewer: Viewer,
    request: &UpdateRequest,
    checked: &Checked,
    hash: &str,
) -> Result<Outcome, ServiceError> {
    if let Some(key) = &checked.key
        && let Some(outcome) = replay(conn, viewer.id, key, hash)?
    {
        return Ok(outcome);
    }
    for _ in 0..MAX_RETRIES {
        let task = load_visible(conn, viewer, request.task_id)?;
        if let Some(expected) = request.expected_version
            && expected != task.version
        {
            return stale_unless_replayed(conn, viewer.id, checked, hash, &task);
        }
        let from = task_state(&task)?;
        let transition = progress::update_progress(from, checked.progress, viewer.role).map_err(|e| match e {
            ChangeError::NotAllowed => ServiceError::Forbidden,
            other => ServiceError::Conflict(other.to_string()),
        })?;
        let occupancy = checked.occupancy;
        if !record_transition(conn, &task, &transition, viewer.id, &checked.notes, occupancy)? {
            // Changed between our read and write (PostgreSQL): a caller who
            // named a version gets the conflict, others retry on the new state.
            if request.expected_version.is_some() {
                let task = tasks::find(conn, task.id)?.ok_or(ServiceError::NotFound)?;
                return stale_unless_replayed(conn, viewer.id, checked, hash, &task);
            }
            continue;
        }
        let answer = UpdateAnswer {
            status: "success".into(),
            task_id: task.id,
            new_progress: transition.to.progress.value(),
            task_status: transition.to.status.as_str().to_string(),
            version: task.version + 1,
        };
        if let Some(key) = &checked.key {
            idempotency::insert(
                conn,
                &StoredAnswer {
                    user_id: viewer.id,
                    idem_key: key.clone(),
                    request_hash: hash.to_string(),
                    response_status: 200,
                    response_body: serde_json::to_string(&answer).map_err(|e| ServiceError::Internal(e.to_string()))?,
                    created_at: now(),
                },
            )?;
        }
        return Ok(Outcome { answer, replayed: false });
    }
    Err(ServiceError::Conflict("The task is changing too fast; try again.".into()))
}

/// A stale version, unless the version moved because an identical keyed
/// request committed meanwhile (concurrent retries on PostgreSQL, where both
/// passed the replay check before either committed): then its answer.
fn stale_unless_replayed(
    conn: &mut DbConn,
    user_id: i64,
    checked: &Checked,
    hash: &str,
    task: &Task,
) -> Result<Outcome, ServiceError> {
    if let Some(key) = &checked.key
        && let Some(outcome) = replay(conn, user_id, key, hash)?
    {
        return Ok(outcome);
    }
    Err(stale(task))
}

/// The "changed meanwhile" answer, carrying the current state.
pub fn stale(task: &Task) -> ServiceError {
    ServiceError::Stale {
        message: "The task changed meanwhile; review its current state and try again.".into(),
        current: current_state(task),
    }
}

/// Writes a transition: the task (if still at its version), its assignments
/// and one trail row. Returns false when the task changed meanwhile.
fn record_transition(
    conn: &mut DbConn,
    task: &Task,
    transition: &progress::Transition,
    by: i64,
    notes: &str,
    occupancy: Option<Occupancy>,
) -> Result<bool, ServiceError> {
    let at = now();
    let completed_at = if transition.completes {
        Some(at)
    } else if transition.reopens {
        None
    } else {
        task.completed_at
    };
    let change = StateChange {
        progress: transition.to.progress.value(),
        status: transition.to.status.as_str().to_string(),
        completed_at,
        by,
        at,
    };
    if !tasks::apply_change(conn, task.id, task.version, &change)? {
        return Ok(false);
    }
    tasks::set_assignment_status(conn, task.id, progress::assignment_status(transition.to.status), completed_at)?;
    tasks::append_progress(
        conn,
        &NewProgress {
            task_id: task.id,
            user_id: Some(by),
            previous_progress: transition.from.progress.value(),
            new_progress: change.progress,
            previous_status: transition.from.status.as_str().to_string(),
            new_status: change.status,
            notes: notes.to_string(),
            occupancy_status: occupancy.map(|o| o.as_str().to_string()),
            created_at: at,
        },
    )?;
    Ok(true)
}

/// Sets ON_HOLD or CANCELLED, or lifts them (admins and managers), with a
/// note; one trail row. A stale `expected_version` gets the current state.
pub async fn set_status(
    db: &Db,
    bus: &LiveBus,
    actor: &Actor,
    task_id: i64,
    status: &str,
    notes: &str,
    expected_version: Option<i32>,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    let target = status.parse::<TaskStatus>().map_err(|e| errors.insert("status", e)).ok();
    let notes = progress::parse_notes(notes).map_err(|e| errors.insert("notes", e)).ok();
    let (Some(target), Some(notes)) = (target, notes) else { return Err(ServiceError::Invalid(errors)) };
    let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
    db.write(move |conn| {
        let task = load_visible(conn, viewer, task_id)?;
        if expected_version.is_some_and(|v| v != task.version) {
            return Err(stale(&task));
        }
        let transition = progress::set_status(task_state(&task)?, target, viewer.role).map_err(|e| match e {
            ChangeError::NotAllowed => ServiceError::Forbidden,
            other => ServiceError::Conflict(other.to_string()),
        })?;
        if record_transition(conn, &task, &transition, viewer.id, &notes, None)? {
            Ok(())
        } else {
            Err(stale(&tasks::find(conn, task_id)?.ok_or(ServiceError::NotFound)?))
        }
    })
    .await?;
    bus.task_changed(task_id);
    Ok(())
}
