//! The connection to either backend, its errors, and the transaction and
//! time helpers every query shares.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

/// A connection to either backend; store functions take `&mut DbConn` and run
/// unchanged on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL, the scale-out backend.
    Pg(PgConnection),
    /// SQLite, the embedded default.
    Sqlite(SqliteConnection),
}

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Errors of the database plumbing itself (not of a query).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The pool could not hand out a connection in time.
    #[error("database pool exhausted or unreachable: {0}")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The SQLite writer thread stopped; the process is shutting down.
    #[error("database writer is not running")]
    WriterGone,
    /// A blocking task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// Runs `f` in a transaction that takes the write lock up front: `BEGIN
/// IMMEDIATE` on SQLite (a deferred read-then-write could fail with "database
/// is locked"), a plain `BEGIN` on PostgreSQL.
pub fn immediate_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    begin_immediate(conn)?;
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => match <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(err),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Opens the transaction of [`immediate_transaction`] without running anything
/// in it (the SQLite writer runs a whole group of closures in it).
pub(super) fn begin_immediate(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Current UTC time truncated to microseconds, so both backends store and
/// return exactly the same value.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
}

/// Truncates a timestamp to whole microseconds.
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Timelike};
    let micros = t.nanosecond() / 1_000;
    t.trunc_subsecs(0) + chrono::Duration::microseconds(i64::from(micros))
}

/// Returns true for a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(err, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
