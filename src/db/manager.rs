//! An r2d2 connection manager that picks the backend from the URL scheme and
//! reports the real connection error (diesel's derived `establish` tries each
//! backend in turn and hides it, and SQLite accepts any string as a path).

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::conn::{Backend, DbConn};

/// A parsed database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// SQLite `synchronous` setting. FULL survives power loss; NORMAL in WAL mode
/// is about 4× faster but may lose the last commits on power loss (never
/// corrupts the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// fsync on every commit (default).
    Full,
    /// fsync at checkpoints only.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Why a database URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("DATABASE_URL: {0}")]
pub struct UrlError(pub String);

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite://path`, `sqlite:path`
    /// or a plain file path. Any other scheme is an error.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, UrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UrlError("is empty".into()));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(raw.to_string()));
        }
        if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            if path.is_empty() || path == ":memory:" {
                return Err(UrlError(
                    "SQLite needs a file path (an in-memory database would not be shared between connections)".into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(UrlError(format!("unsupported scheme '{scheme}' (use postgres://… or sqlite://path)")));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(raw)))
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password masked, for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://(unparsable)".into(),
            },
        }
    }
}

/// Builds connections for the pools and the SQLite writer, applying the
/// per-connection settings.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    synchronous: Synchronous,
}

/// Busy timeout for SQLite connections, in milliseconds. Writes are
/// serialized by the writer, so this only covers checkpoints and other
/// processes (the CLI) touching the file.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

impl Manager {
    /// A manager for the given URL.
    pub fn new(url: DatabaseUrl, synchronous: Synchronous) -> Manager {
        Manager { url, synchronous }
    }

    /// Opens one connection and applies the backend's settings.
    pub fn establish(&self) -> Result<DbConn, ConnectError> {
        match &self.url {
            DatabaseUrl::Postgres(raw) => PgConnection::establish(raw)
                .map(DbConn::Pg)
                .map_err(|e| ConnectError(format!("cannot connect to PostgreSQL at {}: {e}", self.url.redacted()))),
            DatabaseUrl::Sqlite(path) => {
                let path_str = path.to_str().ok_or_else(|| ConnectError("SQLite path is not valid UTF-8".into()))?;
                let mut conn = SqliteConnection::establish(path_str)
                    .map_err(|e| ConnectError(format!("cannot open SQLite database {}: {e}", path.display())))?;
                let pragmas = format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                    self.synchronous.pragma()
                );
                // Switching a new file to WAL takes an exclusive lock, and SQLite
                // answers "database is locked" at once, without waiting, when
                // several processes open the same new file together: try again
                // briefly (at most about 5 s, as the busy timeout would).
                let mut attempt = 0;
                loop {
                    match conn.batch_execute(&pragmas) {
                        Ok(()) => break,
                        Err(e) if attempt < 100 && e.to_string().contains("database is locked") => {
                            attempt += 1;
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        Err(e) => {
                            return Err(ConnectError(format!(
                                "cannot configure SQLite database {}: {e}",
                                path.display()
                            )));
                        }
                    }
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// A connection could not be opened; the message names the database.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConn, ConnectError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(|e| ConnectError(e.to_string()))
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_pick_the_backend() {
        let cases = [
            ("postgres://u@h/db", Some(Backend::Postgres)),
            ("postgresql://u@h/db", Some(Backend::Postgres)),
            ("sqlite://data/x.db", Some(Backend::Sqlite)),
            ("sqlite:x.db", Some(Backend::Sqlite)),
            ("./data/x.db", Some(Backend::Sqlite)),
            ("mysql://h/db", None),
            ("", None),
            ("sqlite://:memory:", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(DatabaseUrl::parse(raw).ok().map(|u| u.backend()), expected, "{raw}");
        }
    }

    #[test]
    fn unknown_scheme_names_the_setting() {
        let err = DatabaseUrl::parse("mysql://h/db").unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL:"), "{err}");
        assert!(err.to_string().contains("mysql"));
    }

    #[test]
    fn redaction_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://bob:hunter2@db:5432/tp").unwrap();
        assert!(!url.redacted().contains("hunter2"));
    }
}
