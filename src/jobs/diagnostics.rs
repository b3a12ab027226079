//! Diagnostic job kinds, for benchmarks, operations checks and the
//! reliability tests: `noop` does nothing (a trivial job through the whole
//! queue), `sleep` waits a bounded time (a job that takes a while, e.g. to
//! kill its server mid-run). Neither touches any data.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::handler::{Handler, HandlerResult, JobContext};

/// The longest a `sleep` job may wait.
pub const MAX_SLEEP: Duration = Duration::from_secs(600);

/// The diagnostic kinds by name.
pub fn handlers() -> HashMap<&'static str, Handler> {
    let noop: Handler = Arc::new(|ctx, payload| Box::pin(noop(ctx, payload)));
    let sleep: Handler = Arc::new(|ctx, payload| Box::pin(sleep(ctx, payload)));
    HashMap::from([("noop", noop), ("sleep", sleep)])
}

/// Does nothing and says so.
async fn noop(_ctx: JobContext, _payload: serde_json::Value) -> HandlerResult {
    Ok(json!({ "ok": true }))
}

/// Sleeps `{"ms": n}` milliseconds (default 1,000; at most [`MAX_SLEEP`]),
/// then reports the attempt that finished.
async fn sleep(ctx: JobContext, payload: serde_json::Value) -> HandlerResult {
    let ms = match payload.get("ms") {
        None | Some(serde_json::Value::Null) => 1_000,
        Some(value) => value.as_u64().ok_or_else(|| "\"ms\" must be a whole number of milliseconds".to_string())?,
    };
    let wait = Duration::from_millis(ms);
    if wait > MAX_SLEEP {
        return Err(format!("\"ms\" must be at most {}", MAX_SLEEP.as_millis()));
    }
    tokio::time::sleep(wait).await;
    Ok(json!({ "slept_ms": ms, "attempt": ctx.attempt }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_are_registered() {
        let mut kinds: Vec<_> = handlers().into_keys().collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["noop", "sleep"]);
    }
}
