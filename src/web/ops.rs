//! Health and readiness probes.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::app::AppState;
use crate::db::{DbError, pending_migrations};

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers and every migration is applied.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let outcome = state
        .db
        .read(|conn| {
            conn.batch_execute("SELECT 1")?;
            pending_migrations(conn).map_err(|e| DbError::Task(e.to_string()))
        })
        .await;
    match outcome {
        Ok(pending) if pending.is_empty() => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(pending) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "not ready", "reason": "migrations pending", "pending": pending })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "not ready", "reason": "database unreachable" }))
        }
    }
}
