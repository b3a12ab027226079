//! What the job kinds share: wrapping an async function as a handler, and
//! the slot a scheduled run stands for.

use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::jobs::handler::{Handler, HandlerResult, JobContext};

/// An async function as a registered handler.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobContext, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |ctx, payload| Box::pin(f(ctx, payload)))
}

/// The slot a scheduled run stands for (its payload), else the attempt's time.
pub fn slot_of(ctx: &JobContext, payload: &serde_json::Value) -> NaiveDateTime {
    payload["slot"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.naive_utc())
        .unwrap_or(ctx.now)
}
