//! Presence transitions (ACTIVE / IDLE / OFFLINE), kept for occupancy
//! analytics.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::presence_events;

/// Appends a transition.
pub fn record(conn: &mut DbConn, user_id: i64, status: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::insert_into(presence_events::table)
        .values((
            presence_events::user_id.eq(user_id),
            presence_events::status.eq(status),
            presence_events::created_at.eq(at),
        ))
        .execute(conn)
}

/// A user's transitions, oldest first: (status, time).
pub fn history(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    presence_events::table
        .filter(presence_events::user_id.eq(user_id))
        .select((presence_events::status, presence_events::created_at))
        .order(presence_events::id.asc())
        .load(conn)
}
