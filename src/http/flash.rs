//! One-time messages carried across a redirect in a short-lived cookie.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse};

const COOKIE: &str = "tp_flash";

/// Kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something worked.
    Success,
    /// Something failed.
    Error,
    /// Neutral.
    Info,
}

/// A message to show once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Kind.
    pub level: Level,
    /// Text (escaped when rendered).
    pub message: String,
}

impl Flash {
    /// CSS class of the level.
    pub fn class(&self) -> &'static str {
        match self.level {
            Level::Success => "flash flash-success",
            Level::Error => "flash flash-error",
            Level::Info => "flash flash-info",
        }
    }

    fn encode(&self) -> String {
        let level = match self.level {
            Level::Success => "s",
            Level::Error => "e",
            Level::Info => "i",
        };
        urlencoding::encode(&format!("{level}{}", self.message)).into_owned()
    }

    fn decode(raw: &str) -> Option<Flash> {
        let text = urlencoding::decode(raw).ok()?;
        let mut chars = text.chars();
        let level = match chars.next()? {
            's' => Level::Success,
            'e' => Level::Error,
            'i' => Level::Info,
            _ => return None,
        };
        let message: String = chars.take(300).collect();
        Some(Flash { level, message })
    }
}

/// Redirects (303) to `location` with a message for the next page.
pub fn redirect(location: &str, level: Level, message: impl Into<String>) -> HttpResponse {
    let flash = Flash { level, message: message.into() };
    let cookie = Cookie::build(COOKIE, flash.encode())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(Duration::minutes(5))
        .finish();
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).cookie(cookie).finish()
}

/// Extracts the pending flash message, if any.
pub struct PendingFlash(pub Option<Flash>);

impl FromRequest for PendingFlash {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<PendingFlash, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(PendingFlash(req.cookie(COOKIE).and_then(|c| Flash::decode(c.value())))))
    }
}

/// Middleware: once a page has been shown (a 2xx answer), the flash cookie
/// the request carried is deleted.
pub async fn clear_shown(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let had_flash = req.cookie(COOKIE).is_some();
    let mut res = next.call(req).await?;
    if had_flash && res.status().is_success() {
        let mut removal = Cookie::build(COOKIE, "").path("/").finish();
        removal.make_removal();
        let _ = res.response_mut().add_cookie(&removal);
    }
    Ok(res)
}

/// A refused form shown on the page it came from: invalid input (every
/// message) and conflicts become an error flash after a redirect to
/// `location`; anything else stays an error page.
pub fn refused(
    location: &str,
    err: crate::services::ServiceError,
) -> Result<HttpResponse, crate::http::errors::AppError> {
    use crate::services::ServiceError;
    match err {
        ServiceError::Invalid(errors) => {
            Ok(redirect(location, Level::Error, errors.into_values().collect::<Vec<_>>().join(" ")))
        }
        ServiceError::Conflict(message) => Ok(redirect(location, Level::Error, message)),
        other => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let flash = Flash { level: Level::Error, message: "Nope <b>&</b> ünïcode".into() };
        assert_eq!(Flash::decode(&flash.encode()), Some(flash));
        assert_eq!(Flash::decode("x-bad"), None);
    }
}
