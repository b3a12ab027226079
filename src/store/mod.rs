//! Queries, one module per aggregate. The only place that builds SQL. Every
//! function takes `&mut DbConn` and runs on both backends.

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
