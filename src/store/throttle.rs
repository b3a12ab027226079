//! Failed-login counters per account, kept in the database so the limit
//! holds across instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::login_throttles;

/// The counter of one account name (also for names that do not exist, so
/// unknown and known accounts behave alike).
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = login_throttles)]
pub struct Throttle {
    /// Normalised account name.
    pub account: String,
    /// Consecutive failures.
    pub failures: i32,
    /// Time of the last failure.
    pub last_failure_at: NaiveDateTime,
    /// No attempt is checked before this time.
    pub locked_until: Option<NaiveDateTime>,
}

/// The counter of an account, if any.
pub fn get(conn: &mut DbConn, account: &str) -> QueryResult<Option<Throttle>> {
    login_throttles::table.find(account).first(conn).optional()
}

/// Stores a counter (insert or replace the row's values).
pub fn save(conn: &mut DbConn, row: &Throttle) -> QueryResult<usize> {
    crate::per_backend!(conn, c => diesel::insert_into(login_throttles::table)
        .values(row)
        .on_conflict(login_throttles::account)
        .do_update()
        .set((
            login_throttles::failures.eq(row.failures),
            login_throttles::last_failure_at.eq(row.last_failure_at),
            login_throttles::locked_until.eq(row.locked_until),
        ))
        .execute(c))
}

/// Forgets an account's failures (after a successful login).
pub fn clear(conn: &mut DbConn, account: &str) -> QueryResult<usize> {
    diesel::delete(login_throttles::table.find(account)).execute(conn)
}
