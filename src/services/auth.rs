//! Logging in and out, and recognising sessions and API tokens.

use crate::db::{Db, now};
use crate::domain::login::{
    SessionPolicy, TOUCH_INTERVAL, device_cookie_name, device_is_honoured, device_throttle_key, lockout_after,
    normalise_account, session_is_live,
};
use crate::live::Hub;
use crate::security::{digest, password_work, random_hex, verify_dummy, verify_password};
use crate::services::audit::{Entry, Outcome, record};
use crate::services::{Actor, RequestMeta, ServiceError};
use crate::store::devices::{self, LoginDevice};
use crate::store::sessions::{self, Session};
use crate::store::throttle::{self, Throttle};
use crate::store::{tokens, users};

/// A session just created: the cookie value (secret) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Value of the session cookie; only its digest is stored.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Who logged in.
    pub actor: Actor,
    /// The account's device cookie for this browser, issued or refreshed.
    pub device: DeviceCookie,
}

/// A device cookie: marks a browser that signed in to one account before.
#[derive(Debug, Clone)]
pub struct DeviceCookie {
    /// The cookie's name (one per account).
    pub name: String,
    /// The cookie's value, a random token; only its digest is stored.
    pub token: String,
}

/// A recognised session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// The user.
    pub actor: Actor,
    /// Digest of the cookie (the stored id).
    pub session_id: String,
    /// The session's CSRF token.
    pub csrf_token: String,
}

const BAD_CREDENTIALS: &str = "Invalid username or password.";

/// What a login attempt counts against: a known device of the account (its
/// own counter) or the account itself (every other client).
struct Origin {
    /// The failure counter's key.
    key: String,
    /// The device cookie honoured for this attempt, with its token.
    device: Option<(LoginDevice, String)>,
}

/// Logs in from a client that holds no device cookie (see [`login_from`]).
pub async fn login(
    db: &Db,
    username: &str,
    password: &str,
    policy: SessionPolicy,
    meta: RequestMeta,
) -> Result<NewSession, ServiceError> {
    login_from(db, username, password, None, policy, meta).await
}

/// Checks credentials and opens a new session (a fresh id every login).
/// Failures count in the database (so across instances); past a few, further
/// attempts wait a growing time. A browser holding a device cookie of the
/// account (`device_token`: it signed in successfully before) counts on its
/// own, so strangers' failures never lock it out and its failures lock only
/// itself; every other client shares the account's counter. Success issues
/// or refreshes the device cookie. Unknown and known names cost the same work.
pub async fn login_from(
    db: &Db,
    username: &str,
    password: &str,
    device_token: Option<String>,
    policy: SessionPolicy,
    meta: RequestMeta,
) -> Result<NewSession, ServiceError> {
    let account = normalise_account(username);
    let lookup = account.clone();
    let started = now();
    let (origin, throttle_row, user) = db
        .read(move |conn| {
            let device = match device_token {
                Some(token) => devices::find(conn, &digest(&token))?
                    .filter(|d| device_is_honoured(&d.account, &lookup, d.last_used_at, started))
                    .map(|d| (d, token)),
                None => None,
            };
            let key = device.as_ref().map_or_else(|| lookup.clone(), |(d, _)| device_throttle_key(&d.token_digest));
            let throttle_row = throttle::get(conn, &key)?;
            Ok::<_, ServiceError>((Origin { key, device }, throttle_row, users::find_by_username(conn, &lookup)?))
        })
        .await?;
    if let Some(until) = throttle_row.as_ref().and_then(|t| t.locked_until).filter(|until| *until > started) {
        let wait = (until - started).num_seconds().max(1) as u64;
        return Err(ServiceError::TooManyRequests(wait));
    }
    let password = password.to_string();
    let candidate = user.clone();
    let verified = password_work(move || match &candidate {
        Some(user) => verify_password(&password, &user.password_hash),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await?;

    match user.filter(|u| verified && u.is_active) {
        Some(user) => {
            let actor = Actor::from_user(&user)?;
            let cookie = random_hex(32);
            let csrf_token = random_hex(32);
            let at = now();
            let session = Session {
                id: digest(&cookie),
                user_id: user.id,
                csrf_token: csrf_token.clone(),
                created_at: at,
                last_seen_at: at,
                expires_at: at + policy.absolute,
            };
            let name = device_cookie_name(&account);
            let (known, token) = match origin.device {
                Some((device, token)) => (Some(device), token),
                None => (None, random_hex(32)),
            };
            let new_device = LoginDevice { token_digest: digest(&token), account, created_at: at, last_used_at: at };
            db.write(move |conn| {
                // Through a known device only its own counter is cleared, so
                // a stranger guessing meanwhile stays slowed.
                throttle::clear(conn, &origin.key)?;
                match known {
                    Some(device) => devices::touch(conn, &device.token_digest, at)?,
                    None => devices::insert(conn, &new_device)?,
                };
                sessions::insert(conn, &session)?;
                record(
                    conn,
                    &meta,
                    Entry {
                        actor_id: Some(session.user_id),
                        action: "login",
                        resource_type: "session",
                        resource_id: None,
                        outcome: Outcome::Success,
                        details: String::new(),
                    },
                )?;
                Ok::<_, ServiceError>(())
            })
            .await?;
            Ok(NewSession { cookie, csrf_token, actor, device: DeviceCookie { name, token } })
        }
        None => {
            let failures = throttle_row.map_or(0, |t| t.failures) + 1;
            let at = now();
            let row = Throttle {
                account: origin.key,
                failures,
                last_failure_at: at,
                locked_until: lockout_after(failures).map(|d| at + d),
            };
            let from = if origin.device.is_some() { ", known device" } else { "" };
            db.write(move |conn| {
                // Re-read inside the write so concurrent failures (also from
                // other instances) all count.
                let current = throttle::get(conn, &row.account)?.map_or(0, |t| t.failures);
                let failures = current.max(row.failures - 1) + 1;
                let row = Throttle {
                    failures,
                    locked_until: lockout_after(failures).map(|d| row.last_failure_at + d),
                    ..row
                };
                throttle::save(conn, &row)?;
                record(
                    conn,
                    &meta,
                    Entry {
                        actor_id: None,
                        action: "login",
                        resource_type: "session",
                        resource_id: None,
                        outcome: Outcome::Failure,
                        details: format!("account '{account}', failure {}{from}", row.failures),
                    },
                )?;
                Ok::<_, ServiceError>(())
            })
            .await?;
            Err(ServiceError::Unauthorized(BAD_CREDENTIALS.into()))
        }
    }
}

/// Ends a session; its open sockets close once it is gone.
pub async fn logout(db: &Db, hub: &Hub, session: SessionUser, meta: RequestMeta) -> Result<(), ServiceError> {
    let session_id = session.session_id.clone();
    db.write(move |conn| {
        sessions::delete(conn, &session.session_id)?;
        record(conn, &meta, Entry::success(session.actor.id, "logout", "session", None))?;
        Ok::<_, ServiceError>(())
    })
    .await?;
    hub.disconnect_session(&session_id);
    Ok(())
}

/// Recognises a session cookie. Expired sessions are deleted; activity is
/// recorded at most once a minute.
pub async fn session_from_cookie(
    db: &Db,
    cookie: &str,
    policy: SessionPolicy,
) -> Result<Option<SessionUser>, ServiceError> {
    session_by_id(db, digest(cookie), policy).await
}

/// Recognises a session by its stored id (the cookie's digest); used to
/// re-check long-lived connections.
pub async fn session_by_id(db: &Db, id: String, policy: SessionPolicy) -> Result<Option<SessionUser>, ServiceError> {
    let lookup = id.clone();
    let Some((session, user)) =
        db.read(move |conn| Ok::<_, ServiceError>(sessions::find_with_user(conn, &lookup)?)).await?
    else {
        return Ok(None);
    };
    let at = now();
    if !session_is_live(session.last_seen_at, session.expires_at, at, policy) {
        db.write(move |conn| Ok::<_, ServiceError>(sessions::delete(conn, &id)?)).await?;
        return Ok(None);
    }
    if at - session.last_seen_at >= TOUCH_INTERVAL {
        let touch_id = id.clone();
        db.write(move |conn| Ok::<_, ServiceError>(sessions::touch(conn, &touch_id, at)?)).await?;
    }
    Ok(Some(SessionUser { actor: Actor::from_user(&user)?, session_id: id, csrf_token: session.csrf_token }))
}

/// Recognises an API bearer token of an active user; records its use at most
/// once a minute.
pub async fn actor_from_token(db: &Db, token: &str) -> Result<Option<Actor>, ServiceError> {
    let hash = digest(token);
    let Some((token, user)) = db.read(move |conn| Ok::<_, ServiceError>(tokens::find_live(conn, &hash)?)).await? else {
        return Ok(None);
    };
    let at = now();
    if token.last_used_at.is_none_or(|last| at - last >= TOUCH_INTERVAL) {
        db.write(move |conn| Ok::<_, ServiceError>(tokens::touch(conn, token.id, at)?)).await?;
    }
    Ok(Some(Actor::from_user(&user)?))
}
