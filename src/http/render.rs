//! Rendering askama pages into responses.

use super::errors::AppError;

/// Renders a full page as a 200 HTML response.
pub fn html_page(page: &impl askama::Template) -> Result<actix_web::HttpResponse, AppError> {
    html_status(actix_web::http::StatusCode::OK, page)
}

/// Renders a full page as an HTML response with `status` (422 for a form
/// shown again with its errors).
pub fn html_status(
    status: actix_web::http::StatusCode,
    page: &impl askama::Template,
) -> Result<actix_web::HttpResponse, AppError> {
    let body = page.render().map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(actix_web::HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}
