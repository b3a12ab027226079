//! Durable background jobs in the serve process: rows in the same database
//! (so they commit with the change that caused them and survive restarts),
//! claimed by tokio workers under a lease, retried with backoff, and a cron
//! scheduler that enqueues each slot once. Tests drive it with a manual
//! clock and [`Jobs::run_due_now`].

mod admin;
pub mod clock;
pub mod diagnostics;
pub mod engine;
pub mod handler;
pub mod kinds;
mod lifecycle;
pub mod scheduler;
mod worker;

pub use crate::store::enqueue::{EnqueueOptions, enqueue_in, new_job};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::Jobs;
pub use handler::{DEFAULT_BATCH, DEFAULT_LEASE, Handler, HandlerFuture, HandlerResult, JobContext, JobSettings};
