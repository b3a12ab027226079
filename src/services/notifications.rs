//! The in-app notification centre: a user's list, unread count, and marking
//! read. Nobody reads or marks another user's notifications.

use crate::db::{Db, now};
use crate::live::LiveBus;
use crate::services::{Actor, ServiceError};
use crate::store::notifications::{self as store, Notification};

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

/// Marks every notification of the actor read; returns how many.
pub async fn mark_all_read(db: &Db, bus: &LiveBus, actor: &Actor) -> Result<usize, ServiceError> {
    let user = actor.id;
    let marked = db.write(move |conn| Ok::<_, ServiceError>(store::mark_all_read(conn, user, now())?)).await?;
    bus.notifications_changed(user);
    Ok(marked)
}
