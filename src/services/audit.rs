//! Writing audit entries (inside a use case's transaction, or alone for
//! access denials).

use crate::db::{Db, DbConn, now};
use crate::services::{RequestMeta, ServiceError};
use crate::store::audit::{self, NewAudit};

/// Outcome of an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Success,
    /// Access was refused.
    Denied,
    /// It was attempted and failed (bad password, …).
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Acting user, if known.
    pub actor_id: Option<i64>,
    /// What was attempted.
    pub action: &'a str,
    /// Kind of resource.
    pub resource_type: &'a str,
    /// Which one.
    pub resource_id: Option<String>,
    /// How it went.
    pub outcome: Outcome,
    /// Free text, never a secret.
    pub details: String,
}

impl<'a> Entry<'a> {
    /// A successful `action` by `actor_id` on a resource, without details.
    pub fn success(actor_id: i64, action: &'a str, resource_type: &'a str, resource_id: Option<String>) -> Entry<'a> {
        Entry {
            actor_id: Some(actor_id),
            action,
            resource_type,
            resource_id,
            outcome: Outcome::Success,
            details: String::new(),
        }
    }

    /// The same entry with `details`.
    pub fn with_details(self, details: impl Into<String>) -> Entry<'a> {
        Entry { details: details.into(), ..self }
    }
}

/// Appends an entry within the caller's transaction.
pub fn record(conn: &mut DbConn, meta: &RequestMeta, entry: Entry<'_>) -> diesel::QueryResult<usize> {
    audit::insert(
        conn,
        &NewAudit {
            actor_id: entry.actor_id,
            action: entry.action.to_string(),
            resource_type: entry.resource_type.to_string(),
            resource_id: entry.resource_id,
            outcome: entry.outcome.as_str().to_string(),
            request_id: meta.request_id.clone(),
            ip: meta.ip.clone(),
            details: entry.details,
            created_at: now(),
        },
    )
}

/// Records that a request was refused (its own small transaction).
pub async fn record_denial(
    db: &Db,
    meta: RequestMeta,
    actor_id: Option<i64>,
    method: &str,
    path: &str,
    reason: &str,
) -> Result<(), ServiceError> {
    let details = format!("{method} {path}: {reason}");
    db.write(move |conn| {
        record(
            conn,
            &meta,
            Entry {
                actor_id,
                action: "access",
                resource_type: "route",
                resource_id: None,
                outcome: Outcome::Denied,
                details,
            },
        )?;
        Ok(())
    })
    .await
}

/// A page of the audit log for admins.
pub async fn page(
    db: &Db,
    denied_only: bool,
    page: i64,
    per_page: i64,
) -> Result<(Vec<audit::AuditEntry>, i64), ServiceError> {
    let outcome = denied_only.then_some("denied");
    db.read(move |conn| {
        let total = audit::count(conn, outcome)?;
        let rows = audit::page(conn, outcome, per_page, (page.max(1) - 1) * per_page)?;
        Ok((rows, total))
    })
    .await
}
