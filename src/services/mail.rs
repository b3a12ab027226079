//! Notifications by email. Messages go through an outbox: each is written
//! in the transaction that marks its notifications emailed (keyed, so a
//! job run twice queues it once), then delivered and marked sent. A crash
//! between the two re-sends rather than loses.

use std::collections::BTreeMap;

use askama::Template;
use chrono::NaiveDateTime;

use super::audit::{self, Entry, Outcome};
use super::{Actor, RequestMeta, ServiceError};
use crate::db::{Db, DbConn};
use crate::domain::payroll::EmailPreference;
use crate::domain::role::Role;
use crate::mail::{self, MailSettings, Outgoing};
use crate::store::emails::{self as store, NewEmail, PendingNote};

#[derive(Template)]
#[template(path = "email/digest.txt")]
struct DigestText<'a> {
    name: &'a str,
    notes: &'a [PendingNote],
    base_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/digest.html")]
struct DigestHtml<'a> {
    name: &'a str,
    notes: &'a [PendingNote],
    base_url: &'a str,
}

#[derive(Template)]
#[template(
    source = "<p>Hello {{ name }},</p><p>This is a test message from Taskpulse. Mail is delivered by {{ transport }}.</p>",
    ext = "html"
)]
struct TestHtml<'a> {
    name: &'a str,
    transport: &'a str,
}

/// Renders one message about `notes`, all for one user (text and escaped
/// HTML).
fn render(
    notes: &[PendingNote],
    unique_key: String,
    base_url: &str,
    at: NaiveDateTime,
) -> Result<NewEmail, ServiceError> {
    let Some(first) = notes.first() else { return Err(ServiceError::Internal("an email about nothing".into())) };
    let name = first.to_name.as_str();
    let subject = match notes {
        [one] => format!("Taskpulse: {}", one.title),
        many => format!("Taskpulse: {} new notifications", many.len()),
    };
    let text = DigestText { name, notes, base_url }.render().map_err(|e| ServiceError::Internal(e.to_string()))?;
    let html = DigestHtml { name, notes, base_url }.render().map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(NewEmail {
        user_id: Some(first.user_id),
        to_address: first.to_address.clone(),
        subject,
        text_body: text,
        html_body: html,
        unique_key,
        created_at: at,
    })
}

/// Queues one message per notification for users who want them at once,
/// and — when `digests` — one digest per user who wants a digest. Marks the
/// notifications emailed. Returns how many messages were queued.
pub fn queue_pending(
    conn: &mut DbConn,
    digests: bool,
    base_url: &str,
    at: NaiveDateTime,
) -> Result<usize, ServiceError> {
    store::lock_queue(conn)?;
    let mut queued = 0;
    let mut emailed = Vec::new();
    for note in store::pending_notes(conn, EmailPreference::Immediate.as_str())? {
        let key = format!("note:{}", note.id);
        emailed.push(note.id);
        let email = render(std::slice::from_ref(&note), key, base_url, at)?;
        queued += usize::from(store::queue(conn, &email)?);
    }
    if digests {
        let mut by_user: BTreeMap<i64, Vec<PendingNote>> = BTreeMap::new();
        for note in store::pending_notes(conn, EmailPreference::Digest.as_str())? {
            by_user.entry(note.user_id).or_default().push(note);
        }
        for (user, notes) in by_user {
            // The newest note names the digest: the same notes, the same key.
            let key = format!("digest:{user}:{}", notes.iter().map(|n| n.id).max().unwrap_or(0));
            emailed.extend(notes.iter().map(|n| n.id));
            let email = render(&notes, key, base_url, at)?;
            queued += usize::from(store::queue(conn, &email)?);
        }
    }
    store::mark_emailed(conn, &emailed, at)?;
    Ok(queued)
}

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    /// Messages delivered.
    pub sent: usize,
    /// Messages that failed (kept for the next run), with the first error.
    pub failed: usize,
    /// The first error.
    pub error: Option<String>,
}

/// Attempts per message: one that keeps failing (a refused address) stays
/// in the outbox, with its error, instead of failing every later run.
pub const MAX_SEND_ATTEMPTS: i32 = 10;

/// Sends one queued message (off the async executor).
async fn send_one(settings: &MailSettings, email: &store::Email) -> Result<(), String> {
    let settings = settings.clone();
    let email = email.clone();
    tokio::task::spawn_blocking(move || {
        let mail = Outgoing {
            to: &email.to_address,
            to_name: "",
            subject: &email.subject,
            text: &email.text_body,
            html: &email.html_body,
        };
        mail::send(&settings, &mail)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

/// How long a sender holds the messages it claimed. Longer than any send
/// takes (SMTP timeouts are about a minute), so a live sender never loses
/// its claim; a sender that died has its messages sent again after it.
pub const SEND_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Messages claimed at a time: small, so concurrent runs share the work.
const CLAIM_BATCH: i64 = 20;

/// Delivers every queued message once per run. Each batch is claimed first
/// (in its own transaction), so concurrent runs never send one message
/// twice; each is marked sent once delivered, and a failure is recorded on
/// the message for the next run.
pub async fn deliver(db: &Db, settings: &MailSettings, now: NaiveDateTime) -> Result<Delivery, ServiceError> {
    let mut delivery = Delivery::default();
    let mut after = 0;
    loop {
        let batch = db
            .write(move |conn| {
                Ok::<_, ServiceError>(store::claim_unsent(
                    conn,
                    after,
                    MAX_SEND_ATTEMPTS,
                    CLAIM_BATCH,
                    now,
                    now + SEND_CLAIM,
                )?)
            })
            .await?;
        let Some(last) = batch.last() else { return Ok(delivery) };
        after = last.id;
        for email in batch {
            let id = email.id;
            match send_one(settings, &email).await {
                Ok(()) => {
                    db.write(move |conn| Ok::<_, ServiceError>(store::mark_sent(conn, id, now)?)).await?;
                    delivery.sent += 1;
                }
                Err(error) => {
                    tracing::warn!(email_id = id, error = %error, "could not send an email");
                    delivery.failed += 1;
                    delivery.error.get_or_insert(error.clone());
                    db.write(move |conn| Ok::<_, ServiceError>(store::mark_failed(conn, id, &error)?)).await?;
                }
            }
        }
    }
}

/// Queues the emails that notifications call for, then delivers every
/// queued message (`digests`: also the hourly digests). A failed delivery
/// is an error naming how many could not be sent; they wait in the outbox.
pub async fn send_pending(
    db: &Db,
    settings: &MailSettings,
    digests: bool,
    now: NaiveDateTime,
) -> Result<serde_json::Value, String> {
    let base_url = settings.base_url.clone();
    let queued = db.write(move |conn| queue_pending(conn, digests, &base_url, now)).await.map_err(|e| e.to_string())?;
    let delivery = deliver(db, settings, now).await.map_err(|e| e.to_string())?;
    if let Some(error) = delivery.error {
        return Err(format!(
            "{} of {} emails could not be sent: {error}",
            delivery.failed,
            delivery.failed + delivery.sent
        ));
    }
    Ok(serde_json::json!({ "queued": queued, "sent": delivery.sent }))
}

/// Sends a test message to the admin's own address at once; the answer
/// says where it went or why it failed.
pub async fn send_test(
    db: &Db,
    settings: &MailSettings,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<String, ServiceError> {
    if actor.role != Role::Admin {
        return Err(ServiceError::Forbidden);
    }
    let id = actor.id;
    let (address, name) =
        db.read(move |conn| Ok::<_, ServiceError>(store::recipient(conn, id)?)).await?.ok_or(ServiceError::NotFound)?;
    let text = format!(
        "Hello {name},\n\nThis is a test message from Taskpulse. Mail is delivered by {}.\n",
        settings.describe()
    );
    let html = TestHtml { name: &name, transport: &settings.describe() }
        .render()
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mail_settings = settings.clone();
    let to = address.clone();
    let sent = tokio::task::spawn_blocking(move || {
        mail::send(
            &mail_settings,
            &Outgoing { to: &to, to_name: &name, subject: "Taskpulse test email", text: &text, html: &html },
        )
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let (outcome, details) = match &sent {
        Ok(()) => (Outcome::Success, format!("to {address} by {}", settings.describe())),
        Err(e) => (Outcome::Failure, e.clone()),
    };
    let meta = meta.clone();
    db.write(move |conn| {
        audit::record(
            conn,
            &meta,
            Entry {
                actor_id: Some(id),
                action: "mail.test",
                resource_type: "email",
                resource_id: None,
                outcome,
                details,
            },
        )?;
        Ok::<_, ServiceError>(())
    })
    .await?;
    match sent {
        Ok(()) => Ok(format!("A test email went to {address} ({}).", settings.describe())),
        Err(e) => Err(ServiceError::Conflict(format!("The test email could not be sent: {e}"))),
    }
}

/// Sets the actor's email preference.
pub async fn set_preference(db: &Db, actor: &Actor, preference: &str) -> Result<(), ServiceError> {
    let preference: EmailPreference =
        preference.parse().map_err(|_| ServiceError::field("email_preference", "Choose immediate, digest or off."))?;
    let id = actor.id;
    db.write(move |conn| {
        crate::store::users::set_email_preference(conn, id, preference.as_str(), crate::db::now())?;
        Ok::<_, ServiceError>(())
    })
    .await
}

/// The outbox's (sent, waiting) counts.
pub async fn outbox(db: &Db) -> Result<(i64, i64), ServiceError> {
    db.read(|conn| Ok::<_, ServiceError>(store::counts(conn)?)).await
}
