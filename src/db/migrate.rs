//! Embedded migrations, one folder per backend with identical version names.

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::conn::{DbConn, immediate_transaction};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating, so instances
/// starting together apply each migration once.
const MIGRATION_LOCK_KEY: i64 = 0x7461_736b_7075_6c73; // "taskpuls"

/// The migration versions, in order (both folders hold the same ones).
pub const MIGRATION_VERSIONS: &[&str] = &[
    "20261123000001",
    "20261123000002",
    "20261130000003",
    "20261130000004",
    "20261202000005",
    "20261202000006",
    "20261203000007",
    "20261203000008",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn source(conn: &DbConn) -> EmbeddedMigrations {
    match conn {
        DbConn::Sqlite(_) => SQLITE,
        DbConn::Pg(_) => POSTGRES,
    }
}

/// Applies every pending migration and returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, BoxError> {
    let migrations = source(conn);
    let locked = matches!(conn, DbConn::Pg(_));
    if locked {
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    }
    // On SQLite the write lock taken by BEGIN IMMEDIATE serialises processes
    // starting together; each migration runs in a savepoint inside it.
    let result = if locked {
        conn.run_pending_migrations(migrations)
            .map(|versions| versions.iter().map(std::string::ToString::to_string).collect())
    } else {
        immediate_transaction(conn, |conn| {
            conn.run_pending_migrations(migrations)
                .map(|versions| versions.iter().map(std::string::ToString::to_string).collect())
        })
    };
    if locked {
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    }
    result
}

/// Versions embedded in the binary that the database has not applied yet.
pub fn pending_migrations(conn: &mut DbConn) -> Result<Vec<String>, BoxError> {
    let migrations = source(conn);
    Ok(conn.pending_migrations(migrations)?.iter().map(|m| m.name().version().to_string()).collect())
}

/// Reverts every applied migration (tests run them down and up again).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, BoxError> {
    let migrations = source(conn);
    Ok(conn.revert_all_migrations(migrations)?.iter().map(std::string::ToString::to_string).collect())
}
