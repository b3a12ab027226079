//! Use cases. Each write is one transaction (the change and its audit row
//! together); web and API handlers call exactly one service function.

pub mod accounts;
pub mod alerts;
pub mod assign;
pub mod audit;
pub mod auth;
pub mod demo;
pub mod home;
pub mod jobs_admin;
pub mod mail;
pub mod notifications;
pub mod payroll;
pub mod progress;
pub mod settings;
pub mod task_views;
pub mod time_entries;

use crate::db::DbError;
use crate::domain::role::Role;

pub use crate::domain::FieldErrors;

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input was refused; each field says why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The object does not exist or the actor may not see it.
    #[error("not found")]
    NotFound,
    /// The actor may see the object but not do this.
    #[error("forbidden")]
    Forbidden,
    /// Authentication failed.
    #[error("{0}")]
    Unauthorized(String),
    /// The state changed meanwhile, or a unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// The request was based on an older version; here is the current state.
    #[error("{message}")]
    Stale {
        /// What happened, for people.
        message: String,
        /// The current state, for clients to retry from.
        current: serde_json::Value,
    },
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; retry in {0} s")]
    TooManyRequests(u64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(err: diesel::result::Error) -> Self {
        ServiceError::Db(DbError::Query(err))
    }
}

impl From<crate::security::PasswordWorkError> for ServiceError {
    fn from(err: crate::security::PasswordWorkError) -> Self {
        ServiceError::Internal(err.to_string())
    }
}

impl ServiceError {
    /// A one-field validation error.
    pub fn field(name: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid(FieldErrors::from([(name, message.into())]))
    }
}

/// The signed-in user on whose behalf a use case runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// User id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub full_name: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<i64>,
    /// Their own time zone (`None`: the organisation's).
    pub time_zone: Option<chrono_tz::Tz>,
}

impl Actor {
    /// Builds an actor from a stored user; an unknown role string is refused.
    pub fn from_user(user: &crate::store::users::User) -> Result<Actor, ServiceError> {
        let role = user.role.parse::<Role>().map_err(|e| ServiceError::Internal(format!("user {}: {e}", user.id)))?;
        Ok(Actor {
            id: user.id,
            username: user.username.clone(),
            full_name: user.full_name.clone(),
            role,
            team_id: user.team_id,
            time_zone: user.time_zone.as_deref().and_then(crate::domain::when::parse_zone),
        })
    }

    /// Initials for avatars.
    pub fn initials(&self) -> String {
        self.full_name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase()
    }
}

/// Context of the request a use case runs for, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Request id (also in logs and the X-Request-Id header).
    pub request_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
}
