//! The audit log: who did what to which resource, with what outcome.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{audit_log, users};

/// A new audit entry.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAudit {
    /// Who acted (None: anonymous).
    pub actor_id: Option<i64>,
    /// What was attempted, e.g. `login`, `token.create`, `access`.
    pub action: String,
    /// Kind of resource, e.g. `session`, `api_token`, `route`.
    pub resource_type: String,
    /// Which one.
    pub resource_id: Option<String>,
    /// success | denied | failure.
    pub outcome: String,
    /// Request id tying the entry to the logs.
    pub request_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Free text (never a secret).
    pub details: String,
    /// When.
    pub created_at: NaiveDateTime,
}

/// A stored audit entry with the actor's username.
#[derive(Debug, Clone, Queryable)]
pub struct AuditEntry {
    /// Primary key.
    pub id: i64,
    /// Actor username, if any.
    pub actor: Option<String>,
    /// Action.
    pub action: String,
    /// Resource kind.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Details.
    pub details: String,
    /// When.
    pub created_at: NaiveDateTime,
}

/// Appends an entry.
pub fn insert(conn: &mut DbConn, entry: &NewAudit) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table).values(entry).execute(conn)
}

/// A page of entries, newest first, optionally only one outcome.
pub fn page(conn: &mut DbConn, outcome: Option<&str>, limit: i64, offset: i64) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .left_join(users::table)
        .select((
            audit_log::id,
            users::username.nullable(),
            audit_log::action,
            audit_log::resource_type,
            audit_log::resource_id,
            audit_log::outcome,
            audit_log::request_id,
            audit_log::ip,
            audit_log::details,
            audit_log::created_at,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .offset(offset)
        .into_boxed();
    if let Some(outcome) = outcome {
        query = query.filter(audit_log::outcome.eq(outcome.to_string()));
    }
    query.load(conn)
}

/// Number of entries, optionally only one outcome.
pub fn count(conn: &mut DbConn, outcome: Option<&str>) -> QueryResult<i64> {
    let mut query = audit_log::table.into_boxed();
    if let Some(outcome) = outcome {
        query = query.filter(audit_log::outcome.eq(outcome.to_string()));
    }
    query.count().get_result(conn)
}
