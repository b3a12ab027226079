//! The JSON API (Bearer tokens only; cookies are ignored, so no CSRF token is
//! needed). Seed endpoints join here as their issues land.

pub mod automation;
pub mod doc;
pub mod json;
pub mod paging;
pub mod tasks;

use actix_web::HttpResponse;

use crate::http::access::CurrentUser;

/// GET /api/me: who the token belongs to.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "account",
    responses(
        (status = 200, description = "The token's user", body = json::Me),
        (status = 401, description = "No or an invalid token", body = json::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn me(user: CurrentUser) -> HttpResponse {
    let actor = user.actor;
    HttpResponse::Ok().json(serde_json::json!({
        "id": actor.id,
        "username": actor.username,
        "full_name": actor.full_name,
        "role": actor.role,
        "team_id": actor.team_id,
    }))
}
