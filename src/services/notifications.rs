//! The in-app notification centre: a user's list, unread count, and marking
//! read. Nobody reads or marks another user's notifications.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::{Db, DbConn, now};
use crate::live::LiveBus;
use crate::services::{Actor, ServiceError};
use crate::store::enqueue::{EnqueueOptions, enqueue_in};
use crate::store::notifications::{self as store, NewNotification, Notification};

/// How many notifications the list shows.
pub const LIST_LIMIT: i64 = 100;

/// The actor's latest notifications and unread count.
pub async fn overview(db: &Db, actor: &Actor) -> Result<(Vec<Notification>, i64), ServiceError> {
    let user = actor.id;
    db.read(move |conn| Ok::<_, ServiceError>((store::list(conn, user, LIST_LIMIT)?, store::unread_count(conn, user)?)))
        .await
}

/// The actor's unread count.
pub async fn unread(db: &Db, user_id: i64) -> Result<i64, ServiceError> {
    db.read(move |conn| Ok::<_, ServiceError>(store::unread_count(conn, user_id)?)).await
}

/// Marks one notification read; another user's is "not found". The user's
/// bells update after the commit.
pub async fn mark_read(db: &Db, bus: &LiveBus, actor: &Actor, id: i64) -> Result<(), ServiceError> {
    let user = actor.id;
    db.write(move |conn| {
        if !store::belongs_to(conn, user, id)? {
            return Err(ServiceError::NotFound);
        }
        store::mark_read(conn, user, id, now())?;
        Ok(())
    })
    .await?;
    bus.notifications_changed(user);
    Ok(())
}

/// Most notifications one bulk action marks.
pub const MAX_SELECTED: usize = 500;

/// Marks the selected notifications of the actor read (ids of others' are
/// ignored); returns how many were unread.
pub async fn mark_selected_read(db: &Db, bus: &LiveBus, actor: &Actor, ids: Vec<i64>) -> Result<usize, ServiceError> {
    if ids.is_empty() {
        return Err(ServiceError::field("ids", "Select the notifications to mark read first."));
    }
    if ids.len() > MAX_SELECTED {
        return Err(ServiceError::field("ids", format!("Select at most {MAX_SELECTED} notifications at once.")));
    }
    let user = actor.id;
    let marked = db.write(move |conn| Ok::<_, ServiceError>(store::mark_some_read(conn, user, &ids, now())?)).await?;
    bus.notifications_changed(user);
    Ok(marked)
}

/// Marks every notification of the actor read; returns how many.
pub async fn mark_all_read(db: &Db, bus: &LiveBus, actor: &Actor) -> Result<usize, ServiceError> {
    let user = actor.id;
    let marked = db.write(move |conn| Ok::<_, ServiceError>(store::mark_all_read(conn, user, now())?)).await?;
    bus.notifications_changed(user);
    Ok(marked)
}

/// Adds each note unless its recipient already has the same one since
/// `since` (a job run twice sends it once) and, when any is new, queues
/// their email delivery in the same transaction (each person's preference
/// decides: at once, or in the digest). Returns how many were new and who
/// got them.
pub fn send_once(
    conn: &mut DbConn,
    notes: Vec<NewNotification>,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(usize, BTreeSet<i64>), ServiceError> {
    let mut sent = 0;
    let mut notified = BTreeSet::new();
    for note in notes {
        if store::add_once(conn, &note, since)? {
            sent += 1;
            notified.insert(note.user_id);
        }
    }
    if sent > 0 {
        // Within moments for those who want each notification by email,
        // not at the next digest; the job commits with the notes.
        let once = EnqueueOptions { unique_key: Some("deliver-email".into()), ..Default::default() };
        enqueue_in(conn, "deliver-email", &json!({}), &once, now)?;
    }
    Ok((sent, notified))
}

/// Tells people they were assigned a task (not the one who assigned it, who
/// knows). Inside the assigning transaction; returns who was notified.
pub fn assigned(
    conn: &mut DbConn,
    task_id: i64,
    title: &str,
    by: &Actor,
    people: &[i64],
    at: NaiveDateTime,
) -> Result<BTreeSet<i64>, ServiceError> {
    let by_name = crate::store::users::find(conn, by.id)?.map(|u| u.full_name).unwrap_or_default();
    let notes = people
        .iter()
        .filter(|user| **user != by.id)
        .map(|user| NewNotification {
            user_id: *user,
            kind: "assigned".into(),
            title: format!("Assigned to you: {title}"),
            body: format!("{by_name} assigned you the task \"{title}\"."),
            task_id: Some(task_id),
            created_at: at,
        })
        .collect();
    Ok(send_once(conn, notes, at, at)?.1)
}

/// After the commit: these people's bells update live.
pub fn announce(bus: &LiveBus, users: &BTreeSet<i64>) {
    for user in users {
        bus.notifications_changed(*user);
    }
}
