//! Time entries: employees log hours on their own tasks. An entry may
//! change until its pay period is approved; each change keeps the
//! assignment's actual hours and any pending pay period in step, in the
//! same transaction.

use chrono::NaiveDate;

use super::audit::{self, Entry, Outcome};
use super::{Actor, FieldErrors, RequestMeta, ServiceError};
use crate::db::{Db, DbConn, now};
use crate::domain::access::Viewer;
use crate::domain::export::Csv;
use crate::domain::payroll::{self as rules, DAY_MINUTES, NOTE_MAX};
use crate::store::tasks;
use crate::store::time_entries::{self as store, EntryListing, NewTimeEntry, TimeEntry};

/// An entry as typed in a form or sent as JSON.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EntryInput {
    /// The day worked, YYYY-MM-DD.
    #[serde(default)]
    pub work_date: String,
    /// Hours: `1.5` or `1:30`.
    #[serde(default)]
    pub hours: String,
    /// What was done.
    #[serde(default)]
    pub note: String,
}

/// A checked entry.
#[derive(Debug, Clone)]
struct Checked {
    day: NaiveDate,
    minutes: i32,
    note: String,
}

/// Checks every field at once; `today` bounds the day (no future work).
fn check(input: &EntryInput, today: NaiveDate) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let day = match input.work_date.trim().parse::<NaiveDate>() {
        Ok(day) if day > today => {
            errors.insert("work_date", "The day worked cannot be in the future.".into());
            None
        }
        Ok(day) if day < today - chrono::Duration::days(366) => {
            errors.insert("work_date", "The day worked must be within the last year.".into());
            None
        }
        Ok(day) => Some(day),
        Err(_) => {
            errors.insert("work_date", "Enter the day worked as YYYY-MM-DD.".into());
            None
        }
    };
    let minutes = rules::parse_hours(&input.hours).map_err(|e| errors.insert("hours", e)).ok();
    let note = input.note.trim().to_string();
    if note.chars().count() > NOTE_MAX {
        errors.insert("note", format!("Notes may hold at most {NOTE_MAX} characters."));
    }
    if note.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        errors.insert("note", "Notes may not hold control characters.".into());
    }
    match (day, minutes) {
        (Some(day), Some(minutes)) if errors.is_empty() => Ok(Checked { day, minutes, note }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// The actor must be assigned to the task: a task they cannot see is "not
/// found"; one they can see but do not work on is refused.
fn check_task(conn: &mut DbConn, actor: &Actor, task_id: i64) -> Result<(), ServiceError> {
    let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
    super::progress::load_visible(conn, viewer, task_id)?;
    if tasks::assignees(conn, task_id)?.iter().any(|a| a.user_id == actor.id) {
        Ok(())
    } else {
        Err(ServiceError::field("task", "You can log time only on tasks assigned to you."))
    }
}

fn check_day_total(conn: &mut DbConn, user_id: i64, c: &Checked, except: Option<i64>) -> Result<(), ServiceError> {
    store::lock_user(conn, user_id)?;
    let logged = store::day_minutes(conn, user_id, c.day, except)?;
    if logged + i64::from(c.minutes) > i64::from(DAY_MINUTES) {
        return Err(ServiceError::field(
            "hours",
            format!("You already logged {} h on {}; a day holds at most 24 h.", rules::format_hours(logged), c.day),
        ));
    }
    Ok(())
}

/// Runs a change to entries on `days`: refused when a day's pay period is
/// locked; afterwards the pending periods of those days are recomputed and
/// the assignment's actual hours refreshed.
fn change_entries<T>(
    conn: &mut DbConn,
    days: &[NaiveDate],
    task_id: i64,
    user_id: i64,
    at: chrono::NaiveDateTime,
    change: impl FnOnce(&mut DbConn) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    let mut periods = Vec::new();
    for day in days {
        if let Some(period) = super::payroll::open_period(conn, *day)? {
            periods.push(period);
        }
    }
    periods.dedup_by_key(|p| p.id);
    let out = change(conn)?;
    for period in &periods {
        super::payroll::recompute(conn, period, at)?;
    }
    store::refresh_actual_hours(conn, task_id, user_id)?;
    Ok(out)
}

fn audit_entry(
    conn: &mut DbConn,
    meta: &RequestMeta,
    actor: &Actor,
    action: &str,
    id: i64,
    details: String,
) -> Result<(), ServiceError> {
    audit::record(
        conn,
        meta,
        Entry {
            actor_id: Some(actor.id),
            action,
            resource_type: "time_entry",
            resource_id: Some(id.to_string()),
            outcome: Outcome::Success,
            details,
        },
    )?;
    Ok(())
}

/// Logs hours on one of the actor's tasks; returns the entry id.
pub async fn log(
    db: &Db,
    actor: &Actor,
    meta: &RequestMeta,
    task_id: i64,
    input: EntryInput,
) -> Result<i64, ServiceError> {
    let at = now();
    let checked = check(&input, at.date())?;
    let (actor, meta) = (actor.clone(), meta.clone());
    db.write(move |conn| {
        check_task(conn, &actor, task_id)?;
        check_day_total(conn, actor.id, &checked, None)?;
        let new = NewTimeEntry {
            user_id: actor.id,
            task_id,
            work_date: checked.day,
            minutes: checked.minutes,
            note: checked.note.clone(),
            created_at: at,
            updated_at: at,
        };
        let id = change_entries(conn, &[checked.day], task_id, actor.id, at, |conn| Ok(store::insert(conn, &new)?))?;
        let details = format!("task {task_id}: {} h on {}", rules::format_hours(checked.minutes.into()), checked.day);
        audit_entry(conn, &meta, &actor, "time_entry.create", id, details)?;
        Ok(id)
    })
    .await
}

/// Loads one of the actor's own entries; anyone else's is "not found".
fn own_entry(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<TimeEntry, ServiceError> {
    store::find(conn, id)?.filter(|e| e.user_id == actor.id).ok_or(ServiceError::NotFound)
}

/// Changes one of the actor's entries (while its period is open).
pub async fn edit(
    db: &Db,
    actor: &Actor,
    meta: &RequestMeta,
    id: i64,
    input: EntryInput,
) -> Result<TimeEntry, ServiceError> {
    let at = now();
    let checked = check(&input, at.date())?;
    let (actor, meta) = (actor.clone(), meta.clone());
    db.write(move |conn| {
        let entry = own_entry(conn, &actor, id)?;
        check_day_total(conn, actor.id, &checked, Some(id))?;
        // Both the old and the new day must be in open periods.
        change_entries(conn, &[entry.work_date, checked.day], entry.task_id, actor.id, at, |conn| {
            Ok(store::update(conn, id, checked.day, checked.minutes, &checked.note, at)?)
        })?;
        let details = format!(
            "{} h on {} → {} h on {}",
            rules::format_hours(entry.minutes.into()),
            entry.work_date,
            rules::format_hours(checked.minutes.into()),
            checked.day
        );
        audit_entry(conn, &meta, &actor, "time_entry.update", id, details)?;
        Ok(entry)
    })
    .await
}

/// Removes one of the actor's entries (while its period is open); returns
/// the entry as it was.
pub async fn delete(db: &Db, actor: &Actor, meta: &RequestMeta, id: i64) -> Result<TimeEntry, ServiceError> {
    let at = now();
    let (actor, meta) = (actor.clone(), meta.clone());
    db.write(move |conn| {
        let entry = own_entry(conn, &actor, id)?;
        change_entries(conn, &[entry.work_date], entry.task_id, actor.id, at, |conn| Ok(store::delete(conn, id)?))?;
        let details = format!("{} h on {}", rules::format_hours(entry.minutes.into()), entry.work_date);
        audit_entry(conn, &meta, &actor, "time_entry.delete", id, details)?;
        Ok(entry)
    })
    .await
}

/// The actor's entries on a task they may see.
pub async fn on_task(db: &Db, actor: &Actor, task_id: i64) -> Result<Vec<TimeEntry>, ServiceError> {
    let actor = actor.clone();
    db.read(move |conn| {
        let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
        super::progress::load_visible(conn, viewer, task_id)?;
        Ok(store::for_task(conn, task_id, Some(actor.id))?)
    })
    .await
}

/// The title of a task the actor may see (forms that log time on it name it).
pub async fn task_title(db: &Db, actor: &Actor, task_id: i64) -> Result<String, ServiceError> {
    let viewer = Viewer { id: actor.id, role: actor.role, team_id: actor.team_id };
    db.read(move |conn| Ok(super::progress::load_visible(conn, viewer, task_id)?.title)).await
}

/// One of the actor's entries (for the edit form).
pub async fn entry(db: &Db, actor: &Actor, id: i64) -> Result<TimeEntry, ServiceError> {
    let actor = actor.clone();
    db.read(move |conn| own_entry(conn, &actor, id)).await
}

/// The actor's week (Monday `week` or the week holding it): entries by day.
pub async fn week(db: &Db, actor: &Actor, day: NaiveDate) -> Result<(NaiveDate, Vec<EntryListing>), ServiceError> {
    let start = rules::week_start(day);
    let user = actor.id;
    let entries = db
        .read(move |conn| Ok::<_, ServiceError>(store::for_user(conn, user, start, start + chrono::Duration::days(6))?))
        .await?;
    Ok((start, entries))
}

/// The actor's own entries between two days as CSV (cells neutralised).
pub async fn csv(db: &Db, actor: &Actor, from: NaiveDate, to: NaiveDate) -> Result<String, ServiceError> {
    if to < from || (to - from).num_days() > 366 {
        return Err(ServiceError::field("to", "Export at most one year, with the end on or after the start."));
    }
    let user = actor.id;
    let entries = db.read(move |conn| Ok::<_, ServiceError>(store::for_user(conn, user, from, to)?)).await?;
    let mut out = Csv::with_header(&["date", "task_id", "task", "hours", "note"]);
    for row in entries {
        out.row(&[
            row.entry.work_date.to_string(),
            row.entry.task_id.to_string(),
            row.task_title,
            rules::format_hours(row.entry.minutes.into()),
            row.entry.note,
        ]);
    }
    Ok(out.finish())
}
