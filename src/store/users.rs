//! Users: accounts, roles, team membership.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{teams, users};

/// A stored user.
#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Unique login name (lowercase).
    pub username: String,
    /// Address for notifications.
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// admin | manager | lead | employee.
    pub role: String,
    /// The user's team, if any.
    pub team_id: Option<i64>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Hours the user can work per week.
    pub capacity_hours_per_week: f64,
    /// Pay per hour in cents.
    pub hourly_rate_cents: i64,
    /// Disabled users cannot log in or use tokens.
    pub is_active: bool,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Last change (UTC).
    pub updated_at: NaiveDateTime,
    /// Notifications by email: immediate | digest | off.
    pub email_preference: String,
    /// Their own time zone (IANA name; `None`: the organisation's).
    pub time_zone: Option<String>,
    /// Opted in to public leaderboards and badge notifications.
    pub gamification: bool,
}

/// Fields of a new user.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Unique login name.
    pub username: &'a str,
    /// Address.
    pub email: &'a str,
    /// Display name.
    pub full_name: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Team.
    pub team_id: Option<i64>,
    /// argon2id hash.
    pub password_hash: &'a str,
    /// Weekly capacity in hours.
    pub capacity_hours_per_week: f64,
    /// Pay per hour in cents.
    pub hourly_rate_cents: i64,
    /// Active flag.
    pub is_active: bool,
    /// Now.
    pub created_at: NaiveDateTime,
    /// Now.
    pub updated_at: NaiveDateTime,
}

/// A user with their team's name, for listings.
#[derive(Debug, Clone)]
pub struct UserListing {
    /// The user.
    pub user: User,
    /// Their team's name.
    pub team_name: Option<String>,
}

/// Inserts a user and returns its id.
pub fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<i64> {
    diesel::insert_into(users::table).values(new).returning(users::id).get_result(conn)
}

/// Finds a user by id.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table.find(id).first(conn).optional()
}

/// Finds a user by (normalised) username.
pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::username.eq(username)).first(conn).optional()
}

/// Every user with their team name, ordered by username.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<UserListing>> {
    let rows: Vec<(User, Option<String>)> = users::table
        .left_join(teams::table)
        .select((users::all_columns, teams::name.nullable()))
        .order(users::username.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(user, team_name)| UserListing { user, team_name }).collect())
}

/// Replaces a user's password hash.
pub fn set_password(conn: &mut DbConn, id: i64, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id)).set((users::password_hash.eq(hash), users::updated_at.eq(now))).execute(conn)
}

/// Enables or disables a user.
pub fn set_active(conn: &mut DbConn, id: i64, active: bool, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id)).set((users::is_active.eq(active), users::updated_at.eq(now))).execute(conn)
}

/// Number of users.
pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Sets how a user wants notifications by email.
pub fn set_email_preference(conn: &mut DbConn, id: i64, preference: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::email_preference.eq(preference), users::updated_at.eq(now)))
        .execute(conn)
}
