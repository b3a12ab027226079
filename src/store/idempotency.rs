//! Stored first answers of requests that carried an idempotency key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::idempotency_keys;

/// A stored answer.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct StoredAnswer {
    /// Whose key.
    pub user_id: i64,
    /// The key the client chose.
    pub idem_key: String,
    /// Digest of the request (route and body).
    pub request_hash: String,
    /// HTTP status of the first answer.
    pub response_status: i32,
    /// JSON body of the first answer.
    pub response_body: String,
    /// When.
    pub created_at: NaiveDateTime,
}

/// The stored answer for a user's key.
pub fn find(conn: &mut DbConn, user_id: i64, key: &str) -> QueryResult<Option<StoredAnswer>> {
    idempotency_keys::table.find((user_id, key)).first(conn).optional()
}

/// Stores an answer.
pub fn insert(conn: &mut DbConn, answer: &StoredAnswer) -> QueryResult<usize> {
    diesel::insert_into(idempotency_keys::table).values(answer).execute(conn)
}

/// Forgets keys older than `cutoff`.
pub fn prune(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff))).execute(conn)
}
