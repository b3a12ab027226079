//! The user's own profile: details, skills, password change, API tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::services::{FieldErrors, RequestMeta, ServiceError, accounts};
use crate::store::tokens::ApiToken;
use crate::store::users::User;

#[derive(Template)]
#[template(path = "profile/page.html")]
struct ProfilePage {
    layout: Layout,
    user: User,
    team: Option<String>,
    skills: Vec<(String, i32)>,
    tokens: Vec<ApiToken>,
    new_token: Option<String>,
    token_name: String,
    errors: FieldErrors,
    /// The organisation's zone (the default choice).
    org_zone: &'static str,
}

impl ProfilePage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    flash: Option<flash::Flash>,
    new_token: Option<String>,
    token_name: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (stored, team, skills) = accounts::profile(&state.db, user.actor.id).await?;
    let tokens = accounts::list_tokens(&state.db, user.actor.id).await?;
    let page = ProfilePage {
        layout: Layout::for_user(user, "Profile", "profile", flash),
        user: stored,
        team,
        skills,
        tokens,
        new_token,
        token_name,
        errors,
        org_zone: state.org.zone().name(),
    };
    crate::http::render::html_status(status, &page)
}

/// GET /profile.
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    render(&state, &user, StatusCode::OK, flash.0, None, String::new(), FieldErrors::new()).await
}

/// The password form.
#[derive(serde::Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// POST /profile/password: every other session of the user ends.
pub async fn change_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    let session = user.session.as_ref().map(|s| s.session_id.clone()).unwrap_or_default();
    match accounts::change_own_password(
        &state.db,
        &state.hub,
        &user.actor,
        accounts::PasswordChange {
            current: &form.current_password,
            new_password: &form.new_password,
            confirm: &form.confirm_password,
        },
        &session,
        meta,
    )
    .await
    {
        Ok(()) => Ok(flash::redirect(
            "/profile",
            Level::Success,
            "Password changed. Your other sessions have been signed out.",
        )),
        Err(ServiceError::Invalid(errors)) => {
            render(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, None, None, String::new(), errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The new-token form.
#[derive(serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// POST /profile/tokens: creates a token and shows its secret once.
pub async fn create_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<TokenForm>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    match accounts::create_token(&state.db, user.actor.id, &form.name, meta).await {
        Ok(created) => {
            render(&state, &user, StatusCode::OK, None, Some(created.secret), String::new(), FieldErrors::new()).await
        }
        Err(ServiceError::Invalid(errors)) => {
            render(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, None, None, form.name.clone(), errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// POST /profile/tokens/{id}/revoke: someone else's token is 404.
pub async fn revoke_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_token(&state.db, user.actor.id, path.into_inner(), meta).await?;
    Ok(flash::redirect("/profile", Level::Success, "Token revoked."))
}

/// The email preference form.
#[derive(serde::Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email_preference: String,
}

/// POST /profile/email: immediate, digest or off.
pub async fn set_email(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, AppError> {
    match crate::services::mail::set_preference(&state.db, &user.actor, &form.email_preference).await {
        Ok(()) => Ok(flash::redirect("/profile", Level::Success, "Email preference saved.")),
        Err(ServiceError::Invalid(errors)) => {
            render(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, None, None, String::new(), errors).await
        }
        Err(err) => Err(err.into()),
    }
}
