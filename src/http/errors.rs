//! One error type for the web and API layers, mapped once to HTTP (the
//! message and details travel with the response for
//! [`crate::http::error_pages`] to render). Internals never reach the client.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use tracing_actix_web::RequestId;

use crate::db::DbError;
use crate::services::ServiceError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// From a use case.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Malformed input (not a field-level problem).
    #[error("{0}")]
    BadRequest(String),
    /// Body over the size limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Wrong Content-Type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Not signed in (or the token is not valid).
    #[error("authentication required")]
    Unauthenticated,
    /// Signed in but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// No such page or object (or not visible to the caller).
    #[error("not found")]
    NotFound,
    /// A cross-site request or a missing/wrong CSRF token.
    #[error("{0}")]
    Csrf(String),
    /// Rate limited; retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// Our fault; the cause is logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        AppError::Service(ServiceError::Db(err))
    }
}

/// What the error renderer needs, attached to the response.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Text safe to show the user.
    pub message: String,
    /// Field errors, if any.
    pub details: Option<serde_json::Value>,
}

impl AppError {
    fn public_message(&self) -> String {
        match self {
            AppError::Service(ServiceError::Invalid(_)) => "Some fields are not valid.".into(),
            AppError::Service(ServiceError::NotFound) | AppError::NotFound => {
                "The page or item you asked for does not exist, or you may not see it.".into()
            }
            AppError::Service(ServiceError::Forbidden) | AppError::Forbidden => {
                "You do not have access to this.".into()
            }
            AppError::Service(ServiceError::Unauthorized(m)) => m.clone(),
            AppError::Unauthenticated => "Please sign in.".into(),
            AppError::Service(ServiceError::Conflict(m)) => m.clone(),
            AppError::Service(ServiceError::Stale { message, .. }) => message.clone(),
            AppError::Service(ServiceError::TooManyRequests(s)) | AppError::TooManyRequests(s) => {
                format!("Too many attempts. Try again in {s} seconds.")
            }
            AppError::Service(ServiceError::Db(DbError::Pool(_))) => {
                "The service is busy. Please try again shortly.".into()
            }
            AppError::BadRequest(m) | AppError::UnsupportedMediaType(m) | AppError::Csrf(m) => m.clone(),
            AppError::PayloadTooLarge => "The request body is too large.".into(),
            AppError::Service(ServiceError::Db(_) | ServiceError::Internal(_)) | AppError::Internal(_) => {
                "Something went wrong on our side. It has been logged.".into()
            }
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Service(ServiceError::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Service(ServiceError::NotFound) | AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Service(ServiceError::Forbidden) | AppError::Forbidden | AppError::Csrf(_) => {
                StatusCode::FORBIDDEN
            }
            AppError::Service(ServiceError::Unauthorized(_)) | AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Service(ServiceError::Conflict(_) | ServiceError::Stale { .. }) => StatusCode::CONFLICT,
            AppError::Service(ServiceError::TooManyRequests(_)) | AppError::TooManyRequests(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Service(ServiceError::Db(DbError::Pool(_))) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Service(ServiceError::Db(_) | ServiceError::Internal(_)) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let details = match self {
            AppError::Service(ServiceError::Invalid(fields)) => serde_json::to_value(fields).ok(),
            AppError::Service(ServiceError::Stale { current, .. }) => Some(serde_json::json!({ "current": current })),
            _ => None,
        };
        let mut response = HttpResponse::build(status);
        if let AppError::Service(ServiceError::TooManyRequests(s)) | AppError::TooManyRequests(s) = self {
            response.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let mut response = response.finish();
        response.extensions_mut().insert(ErrorInfo { message: self.public_message(), details });
        response
    }
}

/// True for paths of the JSON API, whose errors are JSON.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/automation/") || path.starts_with("/tasks/api/")
}

/// The request id of a request, as text.
pub fn request_id_of(req: &actix_web::HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(std::string::ToString::to_string).unwrap_or_default()
}

/// A page script that asked for JSON (`Accept: application/json`).
pub fn wants_json(req: &actix_web::HttpRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// Maps JSON body errors: unknown fields and bad syntax → 400, wrong
/// Content-Type → 415, too large → 413.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let app = match &err {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => AppError::PayloadTooLarge,
        J::ContentType => AppError::UnsupportedMediaType("Content-Type must be application/json.".into()),
        J::Deserialize(e) => AppError::BadRequest(format!("Invalid JSON body: {e}")),
        other => AppError::BadRequest(format!("Invalid request body: {other}")),
    };
    app.into()
}

/// Maps form body errors the same way.
pub fn form_error(err: actix_web::error::UrlencodedError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as U;
    let app = match &err {
        U::Overflow { .. } | U::UnknownLength => AppError::PayloadTooLarge,
        U::ContentType => {
            AppError::UnsupportedMediaType("Content-Type must be application/x-www-form-urlencoded.".into())
        }
        other => AppError::BadRequest(format!("Invalid form: {other}")),
    };
    app.into()
}

/// Maps query-string errors to 400.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::BadRequest(format!("Invalid query string: {err}")).into()
}

/// Maps path parameter errors (e.g. a non-numeric id) to 404.
pub fn path_error(_err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::NotFound.into()
}
