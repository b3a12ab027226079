//! The email outbox: messages written in the transaction that decides to
//! send them, delivered afterwards by a job.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{notifications, outbound_emails, users};

/// A message to send.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbound_emails)]
pub struct NewEmail {
    /// Recipient user.
    pub user_id: Option<i64>,
    /// Their address.
    pub to_address: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body (escaped when rendered).
    pub html_body: String,
    /// Keeps a message from being queued twice (e.g. `digest:7:2026-11-30T09:00`).
    pub unique_key: String,
    /// Now.
    pub created_at: NaiveDateTime,
}

/// A queued message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbound_emails)]
pub struct Email {
    /// Primary key.
    pub id: i64,
    /// Recipient user.
    pub user_id: Option<i64>,
    /// Their address.
    pub to_address: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body.
    pub html_body: String,
    /// Idempotency key.
    pub unique_key: String,
    /// Queued at.
    pub created_at: NaiveDateTime,
    /// Delivered at.
    pub sent_at: Option<NaiveDateTime>,
    /// Delivery attempts.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Queues a message unless one with its key exists; returns whether it was new.
pub fn queue(conn: &mut DbConn, email: &NewEmail) -> QueryResult<bool> {
    let added = crate::per_backend!(conn, c => diesel::insert_into(outbound_emails::table)
        .values(email)
        .on_conflict(outbound_emails::unique_key)
        .do_nothing()
        .execute(c))?;
    Ok(added == 1)
}

/// Serialises queueing across instances until the end of the transaction
/// (PostgreSQL advisory lock; SQLite has one writer), so two runs never
/// put the same notification in two messages.
pub fn lock_queue(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        // The key is arbitrary but fixed: "tp-mail".
        diesel::sql_query("SELECT pg_advisory_xact_lock(7470109097105108)").execute(c)?;
    }
    Ok(())
}

/// Claims up to `limit` unsent messages after id `after` with fewer than
/// `max_attempts` tries that no other sender holds (no claim, or one that
/// ran out before `now`), for this sender until `until`; oldest first.
/// PostgreSQL skips rows another transaction is claiming; SQLite has one
/// writer. A claimed message is handed to exactly one sender at a time.
pub fn claim_unsent(
    conn: &mut DbConn,
    after: i64,
    max_attempts: i32,
    limit: i64,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<Email>> {
    macro_rules! claimable {
        () => {
            outbound_emails::table
                .filter(outbound_emails::sent_at.is_null())
                .filter(outbound_emails::id.gt(after))
                .filter(outbound_emails::attempts.lt(max_attempts))
                .filter(outbound_emails::claimed_until.is_null().or(outbound_emails::claimed_until.lt(now)))
                .order(outbound_emails::id.asc())
                .limit(limit)
                .select(outbound_emails::id)
        };
    }
    let ids: Vec<i64> = match conn {
        DbConn::Pg(c) => claimable!().for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => claimable!().load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(outbound_emails::table.filter(outbound_emails::id.eq_any(&ids)))
        .set(outbound_emails::claimed_until.eq(until))
        .execute(conn)?;
    outbound_emails::table
        .filter(outbound_emails::id.eq_any(&ids))
        .order(outbound_emails::id.asc())
        .select(Email::as_select())
        .load(conn)
}

/// Marks a message delivered and lets go of its claim; false when it
/// already was (another worker).
pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(outbound_emails::table.find(id).filter(outbound_emails::sent_at.is_null()))
        .set((
            outbound_emails::sent_at.eq(now),
            outbound_emails::attempts.eq(outbound_emails::attempts + 1),
            outbound_emails::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records a failed delivery attempt and lets go of the claim, so the next
/// run tries again.
pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str) -> QueryResult<usize> {
    diesel::update(outbound_emails::table.find(id))
        .set((
            outbound_emails::attempts.eq(outbound_emails::attempts + 1),
            outbound_emails::last_error.eq(error),
            outbound_emails::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Counts of (sent, unsent) messages.
pub fn counts(conn: &mut DbConn) -> QueryResult<(i64, i64)> {
    let sent = outbound_emails::table.filter(outbound_emails::sent_at.is_not_null()).count().get_result(conn)?;
    let unsent = outbound_emails::table.filter(outbound_emails::sent_at.is_null()).count().get_result(conn)?;
    Ok((sent, unsent))
}

/// A notification waiting for a digest.
#[derive(Debug, Clone, Queryable)]
pub struct PendingNote {
    /// Notification id.
    pub id: i64,
    /// Recipient.
    pub user_id: i64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// The task it is about.
    pub task_id: Option<i64>,
    /// When.
    pub created_at: NaiveDateTime,
    /// The recipient's address.
    pub to_address: String,
    /// The recipient's display name.
    pub to_name: String,
}

/// Unread, unarchived notifications not yet emailed, of active users whose
/// preference is `preference`, by user then age.
pub fn pending_notes(conn: &mut DbConn, preference: &str) -> QueryResult<Vec<PendingNote>> {
    notifications::table
        .inner_join(users::table)
        .filter(users::email_preference.eq(preference))
        .filter(users::is_active.eq(true))
        .filter(notifications::read_at.is_null())
        .filter(notifications::archived_at.is_null())
        .filter(notifications::emailed_at.is_null())
        .order((notifications::user_id.asc(), notifications::id.asc()))
        .select((
            notifications::id,
            notifications::user_id,
            notifications::title,
            notifications::body,
            notifications::task_id,
            notifications::created_at,
            users::email,
            users::full_name,
        ))
        .load(conn)
}

/// Marks notifications as emailed.
pub fn mark_emailed(conn: &mut DbConn, ids: &[i64], now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(notifications::table.filter(notifications::id.eq_any(ids)))
        .set(notifications::emailed_at.eq(now))
        .execute(conn)
}

/// A user's address and display name.
pub fn recipient(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<(String, String)>> {
    users::table.find(user_id).select((users::email, users::full_name)).first(conn).optional()
}
