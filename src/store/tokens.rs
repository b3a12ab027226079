//! API bearer tokens, stored as digests.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::users::User;
use crate::db::DbConn;
use crate::schema::{api_tokens, users};

/// A stored token (never the secret itself).
#[derive(Debug, Clone, Queryable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// A label chosen by the owner.
    pub name: String,
    /// SHA-256 of the secret.
    pub token_hash: String,
    /// The first characters of the secret, to recognise it in lists.
    pub prefix: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last successful use.
    pub last_used_at: Option<NaiveDateTime>,
    /// Revocation time; revoked tokens stop working.
    pub revoked_at: Option<NaiveDateTime>,
}

/// Fields of a new token.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    /// Owner.
    pub user_id: i64,
    /// Label.
    pub name: &'a str,
    /// SHA-256 of the secret.
    pub token_hash: &'a str,
    /// Recognisable prefix.
    pub prefix: &'a str,
    /// Now.
    pub created_at: NaiveDateTime,
}

/// Stores a token and returns its id.
pub fn insert(conn: &mut DbConn, new: &NewApiToken<'_>) -> QueryResult<i64> {
    diesel::insert_into(api_tokens::table).values(new).returning(api_tokens::id).get_result(conn)
}

/// A user's tokens, newest first.
pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table.filter(api_tokens::user_id.eq(user_id)).order(api_tokens::id.desc()).load(conn)
}

/// Revokes a token of `user_id`; returns 0 when it does not exist, belongs to
/// someone else or was already revoked.
pub fn revoke(conn: &mut DbConn, id: i64, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every token of a user.
pub fn revoke_all(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_tokens::table.filter(api_tokens::user_id.eq(user_id)).filter(api_tokens::revoked_at.is_null()))
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)
}

/// A live token (not revoked, owner active) with its owner.
pub fn find_live(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<(ApiToken, User)>> {
    let query = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::is_active.eq(true))
        .select((api_tokens::all_columns, users::all_columns));
    crate::per_backend!(conn, c => query.first(c).optional())
}

/// Records a use of a token.
pub fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_tokens::table.find(id)).set(api_tokens::last_used_at.eq(now)).execute(conn)
}
