//! Organisation settings: one row per key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{org_settings, users};

/// A setting's stored value.
pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    org_settings::table.find(key).select(org_settings::value).first(conn).optional()
}

/// Stores a setting (replacing its value).
pub fn put(conn: &mut DbConn, key: &str, value: &str, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(org_settings::table.find(key))
        .set((org_settings::value.eq(value), org_settings::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(org_settings::table)
            .values((org_settings::key.eq(key), org_settings::value.eq(value), org_settings::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets a person's own time zone (`None`: the organisation's).
pub fn set_user_zone(conn: &mut DbConn, user_id: i64, zone: Option<&str>, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id)).set((users::time_zone.eq(zone), users::updated_at.eq(now))).execute(conn)
}
