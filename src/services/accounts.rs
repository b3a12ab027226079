//! Accounts: creating users, passwords, enabling and disabling, API tokens.

use crate::db::{Db, is_unique_violation, now};
use crate::domain::account::{Email, Username, parse_full_name};
use crate::domain::password::check_policy;
use crate::domain::role::Role;
use crate::live::Hub;
use crate::security::{digest, hash_password, password_work, random_hex, verify_password};
use crate::services::audit::{Entry, Outcome, record};
use crate::services::{Actor, FieldErrors, RequestMeta, ServiceError};
use crate::store::tokens::{self, ApiToken, NewApiToken};
use crate::store::users::{self, NewUser, UserListing};
use crate::store::{org, sessions};

/// Input for a new user (CLI, demo data).
#[derive(Debug, Clone)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// Role.
    pub role: Role,
    /// Team name; created if new.
    pub team: Option<String>,
    /// Initial password (policy applies).
    pub password: String,
    /// Weekly capacity in hours.
    pub capacity_hours_per_week: f64,
    /// Pay per hour in cents.
    pub hourly_rate_cents: i64,
}

/// Creates a user; every invalid field is reported at once.
pub async fn create_user(db: &Db, input: CreateUser, meta: RequestMeta) -> Result<i64, ServiceError> {
    let mut errors = FieldErrors::new();
    let username = Username::parse(&input.username).map_err(|e| errors.insert("username", e)).ok();
    let email = Email::parse(&input.email).map_err(|e| errors.insert("email", e)).ok();
    let full_name = parse_full_name(&input.full_name).map_err(|e| errors.insert("full_name", e)).ok();
    if let Err(e) = check_policy(&input.password, &input.username) {
        errors.insert("password", e);
    }
    if !(0.0..=168.0).contains(&input.capacity_hours_per_week) {
        errors.insert("capacity_hours_per_week", "Capacity must be between 0 and 168 hours a week.".into());
    }
    if input.hourly_rate_cents < 0 {
        errors.insert("hourly_rate_cents", "Hourly rate may not be negative.".into());
    }
    let (Some(username), Some(email), Some(full_name), true) = (username, email, full_name, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let password = input.password.clone();
    let hash =
        password_work(move || hash_password(&password)).await?.map_err(|e| ServiceError::Internal(e.to_string()))?;
    db.write(move |conn| {
        let at = now();
        let team_id = match input.team.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(team) => Some(org::ensure_team(conn, team, at)?),
            None => None,
        };
        let id = users::insert(
            conn,
            &NewUser {
                username: username.as_str(),
                email: email.as_str(),
                full_name: &full_name,
                role: input.role.as_str(),
                team_id,
                password_hash: &hash,
                capacity_hours_per_week: input.capacity_hours_per_week,
                hourly_rate_cents: input.hourly_rate_cents,
                is_active: true,
                created_at: at,
                updated_at: at,
            },
        )
        .map_err(|e| {
            if is_unique_violation(&e) { ServiceError::field("username", "This username is taken.") } else { e.into() }
        })?;
        record(
            conn,
            &meta,
            Entry {
                actor_id: None,
                action: "user.create",
                resource_type: "user",
                resource_id: Some(id.to_string()),
                outcome: Outcome::Success,
                details: format!("role {}", input.role),
            },
        )?;
        Ok(id)
    })
    .await
}

/// Sets a new password for a user by name (CLI) and ends all their sessions.
pub async fn reset_password(
    db: &Db,
    username: &str,
    new_password: &str,
    meta: RequestMeta,
) -> Result<(), ServiceError> {
    let name = username.trim().to_lowercase();
    let lookup = name.clone();
    let user = db
        .read(move |conn| Ok::<_, ServiceError>(users::find_by_username(conn, &lookup)?))
        .await?
        .ok_or(ServiceError::NotFound)?;
    store_password(db, user.id, &user.username, new_password, None, meta).await
}

/// A password change as typed on the profile form.
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    /// The password now.
    pub current: &'a str,
    /// The new one.
    pub new_password: &'a str,
    /// The new one again.
    pub confirm: &'a str,
}

/// A signed-in user changes their own password: the current one must match.
/// Every other session of the user ends; `keep_session` (the caller's) stays.
pub async fn change_own_password(
    db: &Db,
    hub: &Hub,
    actor: &Actor,
    change: PasswordChange<'_>,
    keep_session: &str,
    meta: RequestMeta,
) -> Result<(), ServiceError> {
    let PasswordChange { current, new_password, confirm } = change;
    let id = actor.id;
    let user =
        db.read(move |conn| Ok::<_, ServiceError>(users::find(conn, id)?)).await?.ok_or(ServiceError::NotFound)?;
    let current = current.to_string();
    let stored = user.password_hash.clone();
    let matches = password_work(move || verify_password(&current, &stored)).await?;
    let mut errors = FieldErrors::new();
    if !matches {
        errors.insert("current_password", "The current password is not correct.".into());
    }
    if let Err(e) = check_policy(new_password, &user.username) {
        errors.insert("new_password", e);
    } else if new_password != confirm {
        errors.insert("confirm_password", "The two new passwords differ.".into());
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    store_password(db, user.id, &user.username, new_password, Some(keep_session.to_string()), meta).await?;
    // The other sessions are gone: so are their sockets.
    hub.disconnect_user_except(user.id, keep_session);
    Ok(())
}

async fn store_password(
    db: &Db,
    user_id: i64,
    username: &str,
    new_password: &str,
    keep_session: Option<String>,
    meta: RequestMeta,
) -> Result<(), ServiceError> {
    check_policy(new_password, username).map_err(|e| ServiceError::field("new_password", e))?;
    let password = new_password.to_string();
    let hash =
        password_work(move || hash_password(&password)).await?.map_err(|e| ServiceError::Internal(e.to_string()))?;
    db.write(move |conn| {
        users::set_password(conn, user_id, &hash, now())?;
        let ended = sessions::delete_for_user(conn, user_id, keep_session.as_deref())?;
        record(
            conn,
            &meta,
            Entry::success(user_id, "user.password", "user", Some(user_id.to_string()))
                .with_details(format!("{ended} other session(s) ended")),
        )?;
        Ok(())
    })
    .await
}

/// Enables or disables a user by id. Disabling ends their sessions at once
/// and, after the commit, closes their sockets in this process (other
/// instances close theirs at their next session check); their tokens stop
/// working because only active users' tokens are accepted. An admin cannot
/// disable themselves.
pub async fn set_active(
    db: &Db,
    hub: &Hub,
    actor_id: Option<i64>,
    user_id: i64,
    active: bool,
    meta: RequestMeta,
) -> Result<(), ServiceError> {
    if actor_id == Some(user_id) && !active {
        return Err(ServiceError::Conflict("You cannot disable your own account.".into()));
    }
    db.write(move |conn| {
        if users::set_active(conn, user_id, active, now())? == 0 {
            return Err(ServiceError::NotFound);
        }
        if !active {
            sessions::delete_for_user(conn, user_id, None)?;
        }
        record(
            conn,
            &meta,
            Entry {
                actor_id,
                action: if active { "user.enable" } else { "user.disable" },
                resource_type: "user",
                resource_id: Some(user_id.to_string()),
                outcome: Outcome::Success,
                details: String::new(),
            },
        )?;
        Ok(())
    })
    .await?;
    if !active {
        hub.disconnect_user(user_id);
    }
    Ok(())
}

/// Finds a user id by username.
pub async fn user_id_by_name(db: &Db, username: &str) -> Result<i64, ServiceError> {
    let name = username.trim().to_lowercase();
    db.read(move |conn| Ok::<_, ServiceError>(users::find_by_username(conn, &name)?))
        .await?
        .map(|u| u.id)
        .ok_or(ServiceError::NotFound)
}

/// Every user, for the admin list.
pub async fn list_users(db: &Db) -> Result<Vec<UserListing>, ServiceError> {
    db.read(|conn| Ok::<_, ServiceError>(users::list(conn)?)).await
}

/// Every user with their rate history, newest rate first (the Users page).
pub async fn list_users_with_rates(
    db: &Db,
) -> Result<Vec<(UserListing, crate::domain::payroll::RateHistory)>, ServiceError> {
    db.read(|conn| {
        let listed = users::list(conn)?;
        let ids: Vec<i64> = listed.iter().map(|l| l.user.id).collect();
        let (mut histories, _) = crate::store::payroll::rates_of(conn, &ids)?;
        Ok::<_, ServiceError>(
            listed
                .into_iter()
                .map(|l| {
                    let mut history = histories.remove(&l.user.id).unwrap_or_default();
                    history.sort_by_key(|(from, _)| std::cmp::Reverse(*from));
                    (l, history)
                })
                .collect(),
        )
    })
    .await
}

/// A token just created; `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// Token id.
    pub id: i64,
    /// The bearer secret.
    pub secret: String,
}

/// Prefix of every token secret, so leaked tokens are recognisable.
pub const TOKEN_PREFIX: &str = "tp_";

/// Creates an API token for `user_id`.
pub async fn create_token(db: &Db, user_id: i64, name: &str, meta: RequestMeta) -> Result<CreatedToken, ServiceError> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 || crate::domain::text::has_hidden_controls(&name) {
        return Err(ServiceError::field(
            "name",
            "Give the token a name of 1 to 60 characters (no control characters).",
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(24));
    let hash = digest(&secret);
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let id = db
        .write(move |conn| {
            let id = tokens::insert(
                conn,
                &NewApiToken { user_id, name: &name, token_hash: &hash, prefix: &prefix, created_at: now() },
            )?;
            record(
                conn,
                &meta,
                Entry::success(user_id, "token.create", "api_token", Some(id.to_string()))
                    .with_details(format!("name '{name}'")),
            )?;
            Ok::<_, ServiceError>(id)
        })
        .await?;
    Ok(CreatedToken { id, secret })
}

/// Revokes one of the actor's own tokens; someone else's token is "not found".
pub async fn revoke_token(db: &Db, user_id: i64, token_id: i64, meta: RequestMeta) -> Result<(), ServiceError> {
    db.write(move |conn| {
        if tokens::revoke(conn, token_id, user_id, now())? == 0 {
            return Err(ServiceError::NotFound);
        }
        record(conn, &meta, Entry::success(user_id, "token.revoke", "api_token", Some(token_id.to_string())))?;
        Ok(())
    })
    .await
}

/// A user's tokens.
pub async fn list_tokens(db: &Db, user_id: i64) -> Result<Vec<ApiToken>, ServiceError> {
    db.read(move |conn| Ok::<_, ServiceError>(tokens::list_for_user(conn, user_id)?)).await
}

/// A user's profile: the stored user, team name and skills.
pub async fn profile(db: &Db, user_id: i64) -> Result<(users::User, Option<String>, Vec<(String, i32)>), ServiceError> {
    db.read(move |conn| {
        let user = users::find(conn, user_id)?.ok_or(ServiceError::NotFound)?;
        let team = match user.team_id {
            Some(id) => org::find_team(conn, id)?.map(|t| t.name),
            None => None,
        };
        let skills = org::user_skills(conn, user_id)?;
        Ok((user, team, skills))
    })
    .await
}
