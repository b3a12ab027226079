//! Server-side login sessions. The id stored is a digest of the cookie value,
//! so a copy of the database does not hand out live sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::users::User;
use crate::db::DbConn;
use crate::schema::{sessions, users};

/// A stored session.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    /// Digest of the cookie value.
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Token every state-changing form and htmx request must carry.
    pub csrf_token: String,
    /// Login time; the absolute timeout counts from here.
    pub created_at: NaiveDateTime,
    /// Last request; the idle timeout counts from here.
    pub last_seen_at: NaiveDateTime,
    /// Absolute expiry.
    pub expires_at: NaiveDateTime,
}

/// Stores a new session.
pub fn insert(conn: &mut DbConn, session: &Session) -> QueryResult<usize> {
    diesel::insert_into(sessions::table).values(session).execute(conn)
}

/// A session with its (active) user.
pub fn find_with_user(conn: &mut DbConn, id: &str) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(users::is_active.eq(true))
        .select((sessions::all_columns, users::all_columns))
        .first(conn)
        .optional()
}

/// Records activity on a session.
pub fn touch(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id)).set(sessions::last_seen_at.eq(now)).execute(conn)
}

/// Ends one session.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Ends every session of a user, except `keep` if given.
pub fn delete_for_user(conn: &mut DbConn, user_id: i64, keep: Option<&str>) -> QueryResult<usize> {
    let query = sessions::table.filter(sessions::user_id.eq(user_id));
    match keep {
        Some(keep) => diesel::delete(query.filter(sessions::id.ne(keep))).execute(conn),
        None => diesel::delete(query).execute(conn),
    }
}

/// Removes sessions past their absolute expiry or idle for longer than
/// `idle_cutoff` allows.
pub fn delete_expired(conn: &mut DbConn, now: NaiveDateTime, idle_cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now).or(sessions::last_seen_at.lt(idle_cutoff))))
        .execute(conn)
}
