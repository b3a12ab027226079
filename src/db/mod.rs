//! Database access: one connection type for both backends, a reader pool, and
//! the write path (a single writer thread on SQLite, pooled transactions on
//! PostgreSQL). Every blocking call runs off the async executor through
//! [`Db::read`] and [`Db::write`].

mod conn;
mod manager;
mod migrate;
mod writer;

use std::sync::Arc;

pub use conn::{
    Backend, DbConn, DbError, MultiBackend, immediate_transaction, is_unique_violation, now, truncate_micros,
};
pub use manager::{DatabaseUrl, Manager, Synchronous};
pub use migrate::{MIGRATION_VERSIONS, pending_migrations, revert_all_migrations, run_migrations};
pub use writer::WriterStats;

/// Pool sizes and durability settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Maximum connections in the reader pool (all connections on PostgreSQL).
    pub pool_size: u32,
    /// SQLite `synchronous` mode.
    pub synchronous: Synchronous,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { pool_size: 8, synchronous: Synchronous::Full }
    }
}

/// Handle to the database: cheap to clone, shared by handlers, jobs and CLI.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    pool: r2d2::Pool<Manager>,
    writer: Option<writer::Writer>,
    /// One permit per pooled connection: callers queue here (cheaply, on the
    /// executor) instead of each taking a blocking thread to wait for a
    /// connection, which under a burst grew hundreds of threads.
    permits: tokio::sync::Semaphore,
}

type DbPool = r2d2::Pool<Manager>;

impl Db {
    /// Connects (checking the server or file is usable), and for SQLite starts
    /// the writer thread. Does not run migrations.
    pub fn connect(url: &DatabaseUrl, options: &DbOptions) -> Result<Db, DbError> {
        let manager = Manager::new(url.clone(), options.synchronous);
        let backend = url.backend();
        // One direct connection first: its error names the real cause, where
        // the pool would only report a timeout.
        drop(manager.establish().map_err(|e| DbError::Task(e.to_string()))?);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(10))
            // A PostgreSQL connection can drop (server restart): check it on
            // checkout. A SQLite file connection cannot, and the check cost
            // a parsed `SELECT 1` on every read.
            .test_on_check_out(backend == Backend::Postgres)
            .build(manager.clone())?;
        let writer = match backend {
            Backend::Sqlite => Some(writer::Writer::start(manager)?),
            Backend::Postgres => None,
        };
        let permits = tokio::sync::Semaphore::new(options.pool_size.max(1) as usize);
        Ok(Db { inner: Arc::new(Inner { backend, pool, writer, permits }) })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Runs a read-only closure on a pooled connection, off the executor.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.on_pooled(f).await
    }

    /// Runs `f` on a pooled connection in a blocking task, under a permit
    /// (so waiting callers queue here, not in the pool) and in the caller's
    /// tracing span.
    async fn on_pooled<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let _permit = self.inner.permits.acquire().await.map_err(|e| E::from(DbError::Task(e.to_string())))?;
        let pool = self.inner.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs one use case's write transaction. On SQLite the closure goes to the
    /// single writer, which commits concurrent writes in groups (one `BEGIN
    /// IMMEDIATE` transaction, a savepoint per closure; the answer comes once
    /// the group is durable); on PostgreSQL it runs in a transaction on a
    /// pooled connection. An error or panic rolls back this closure's writes.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        match &self.inner.writer {
            Some(writer) => writer.submit(f).await,
            None => self.on_pooled(move |conn| immediate_transaction(conn, f)).await,
        }
    }

    /// A blocking connection for CLI commands and tests that are not on an
    /// async executor.
    pub fn blocking_conn(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Ok(self.inner.pool.get()?)
    }

    /// The reader pool, for checks that must see every pooled connection.
    pub fn pool(&self) -> &DbPool {
        &self.inner.pool
    }

    /// Counters of the SQLite writer (groups committed, writes handled, writes
    /// waiting); `None` on PostgreSQL, which has no single writer.
    pub fn writer_stats(&self) -> Option<WriterStats> {
        self.inner.writer.as_ref().map(writer::Writer::stats)
    }
}
