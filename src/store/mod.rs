//! Queries, one module per aggregate. The only place that builds SQL. Every
//! function takes `&mut DbConn` and runs on both backends.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use diesel::query_source::Table;
use diesel::sql_types::Bool;
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
pub mod settings;
pub mod task_views;
pub mod tasks;
pub mod throttle;
pub mod time_entries;
pub mod tokens;
pub mod users;

/// Runs the same code on the concrete connection of either backend, for the
/// few statements the connection enum cannot express (upserts, batch inserts),
/// and for the statements of the progress-update path: the enum writes out
/// a statement's SQL on every call even when the connection has it prepared,
/// the concrete connection finds it by type alone.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

/// `UPDATE table SET (fixed columns) WHERE filter`, prepared once per
/// connection and reused. Diesel never reuses its own UPDATE statements (a
/// struct changeset may skip `None` fields, so their text can vary), and
/// re-parsing them on every progress update was a visible share of the write
/// path. Here the columns are a plain tuple of `col.eq(value)`, so the text
/// is fixed by the types and the statement is cached like a SELECT.
pub struct FixedUpdate<T: Table, C: AsChangeset, W> {
    from: T::FromClause,
    set: C::Changeset,
    filter: W,
}

/// Builds a [`FixedUpdate`] of `table`: `set` a tuple of `col.eq(value)`.
pub fn fixed_update<T, C, W>(table: T, filter: W, set: C) -> FixedUpdate<T, C, W>
where
    T: Table,
    C: AsChangeset<Target = T>,
    W: AppearsOnTable<T> + Expression<SqlType = Bool>,
{
    FixedUpdate { from: table.from_clause(), set: set.as_changeset(), filter }
}

impl<T, C, W, DB> QueryFragment<DB> for FixedUpdate<T, C, W>
where
    DB: Backend,
    T: Table,
    T::FromClause: QueryFragment<DB>,
    C: AsChangeset,
    C::Changeset: QueryFragment<DB>,
    W: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.set.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// Marks the statement cache key of a [`FixedUpdate`].
pub struct UpdateOf;

// The text follows from the table, changeset and filter types alone: a
// changeset part that may be left out (an `Option`) has no `QueryId`, so it
// does not compile here.
impl<T, C, W> QueryId for FixedUpdate<T, C, W>
where
    T: Table + QueryId,
    C: AsChangeset + QueryId,
    W: QueryId,
{
    type QueryId = (UpdateOf, T::QueryId, C::QueryId, W::QueryId);
    const HAS_STATIC_QUERY_ID: bool = T::HAS_STATIC_QUERY_ID && C::HAS_STATIC_QUERY_ID && W::HAS_STATIC_QUERY_ID;
}

impl<T: Table, C: AsChangeset, W, Conn> RunQueryDsl<Conn> for FixedUpdate<T, C, W> {}
