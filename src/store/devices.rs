//! Device cookies: browsers that signed in to an account before. Only the
//! digest of each cookie's token is stored, so any instance can check a
//! cookie without a shared secret.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::login_devices;

/// A known device of one account.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = login_devices)]
pub struct LoginDevice {
    /// SHA-256 of the cookie's token, hex.
    pub token_digest: String,
    /// Normalised account name the cookie was issued for.
    pub account: String,
    /// When the cookie was issued.
    pub created_at: NaiveDateTime,
    /// The last successful login through it.
    pub last_used_at: NaiveDateTime,
}

/// The device with this token digest, if any.
pub fn find(conn: &mut DbConn, token_digest: &str) -> QueryResult<Option<LoginDevice>> {
    login_devices::table.find(token_digest).first(conn).optional()
}

/// Records a newly issued device cookie.
pub fn insert(conn: &mut DbConn, device: &LoginDevice) -> QueryResult<usize> {
    diesel::insert_into(login_devices::table).values(device).execute(conn)
}

/// Records a successful login through a device.
pub fn touch(conn: &mut DbConn, token_digest: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(login_devices::table.find(token_digest)).set(login_devices::last_used_at.eq(at)).execute(conn)
}
