//! Queries, one module per aggregate. The only place that builds SQL. Every
//! function takes `&mut DbConn` and runs on both backends.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

pub mod audit;
pub mod devices;
pub mod emails;
pub mod enqueue;
pub mod idempotency;
pub mod jobs;
pub mod notifications;
pub mod org;
pub mod payroll;
pub mod presence;
pub mod schedules;
pub mod sessions;
pub mod task_views;
pub mod tasks;
pub mod throttle;
pub mod time_entries;
pub mod tokens;
pub mod users;

/// Runs the same code on the concrete connection of either backend, for the
/// few statements the connection enum cannot express (upserts, batch inserts).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

/// A statement whose SQL never varies, marked so each connection prepares it
/// once and reuses it. Diesel never reuses its UPDATE statements (a changeset
/// may skip `None` fields, so their SQL can vary), and re-parsing them on
/// every progress update was a visible share of the write path. Wrap only a
/// statement whose text is fixed: plain `.set((col.eq(..), ..))` tuples, no
/// optional changeset fields, no variable-length `IN` lists. The statement is
/// looked up by its SQL text, so a different text is a different statement.
#[derive(Debug, Clone, Copy)]
pub struct Reused<Q>(pub Q);

impl<Q, DB> QueryFragment<DB> for Reused<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Reused<Q> {
    // No static id: the cache key is the SQL text itself.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> RunQueryDsl<Conn> for Reused<Q> {}
