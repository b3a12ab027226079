//! Pay periods, their records, and hourly rate history.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::domain::payroll::{PayLine, RateHistory};
use crate::schema::{hourly_rates, payroll_periods, payroll_records, users};

/// A stored pay period.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payroll_periods)]
pub struct Period {
    /// Primary key.
    pub id: i64,
    /// Monday.
    pub starts_on: NaiveDate,
    /// Sunday.
    pub ends_on: NaiveDate,
    /// pending | approved | paid.
    pub status: String,
    /// Created at.
    pub created_at: NaiveDateTime,
    /// Last recomputed or changed at.
    pub updated_at: NaiveDateTime,
    /// Approved by.
    pub approved_by: Option<i64>,
    /// Approved at.
    pub approved_at: Option<NaiveDateTime>,
    /// Marked paid by.
    pub paid_by: Option<i64>,
    /// Marked paid at.
    pub paid_at: Option<NaiveDateTime>,
}

/// A payroll line with its employee's name.
#[derive(Debug, Clone, Queryable)]
pub struct RecordRow {
    /// Employee.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub full_name: String,
    /// Rate in cents an hour.
    pub rate_cents: i64,
    /// Minutes worked at that rate.
    pub minutes: i64,
    /// Pay in cents.
    pub pay_cents: i64,
}

/// Every period, newest first.
pub fn periods(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Period>> {
    payroll_periods::table.order(payroll_periods::starts_on.desc()).limit(limit).select(Period::as_select()).load(conn)
}

/// Periods ending on or after `day`, oldest first.
pub fn ending_from(conn: &mut DbConn, day: NaiveDate) -> QueryResult<Vec<Period>> {
    payroll_periods::table
        .filter(payroll_periods::ends_on.ge(day))
        .order(payroll_periods::starts_on.asc())
        .select(Period::as_select())
        .load(conn)
}

/// A period by id.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Period>> {
    payroll_periods::table.find(id).select(Period::as_select()).first(conn).optional()
}

/// The period holding `day`, if one was created, locked until the end of
/// the transaction (PostgreSQL; SQLite has one writer), so an approval and
/// a change to its entries never interleave.
pub fn holding_locked(conn: &mut DbConn, day: NaiveDate) -> QueryResult<Option<Period>> {
    let query =
        payroll_periods::table.filter(payroll_periods::starts_on.le(day)).filter(payroll_periods::ends_on.ge(day));
    match conn {
        DbConn::Pg(c) => query.select(Period::as_select()).for_update().first(c).optional(),
        DbConn::Sqlite(c) => query.select(Period::as_select()).first(c).optional(),
    }
}

/// A period by id, locked like [`holding_locked`].
pub fn find_locked(conn: &mut DbConn, id: i64) -> QueryResult<Option<Period>> {
    let query = payroll_periods::table.find(id);
    match conn {
        DbConn::Pg(c) => query.select(Period::as_select()).for_update().first(c).optional(),
        DbConn::Sqlite(c) => query.select(Period::as_select()).first(c).optional(),
    }
}

/// Creates the period starting on `starts_on` unless it exists; returns it.
pub fn ensure(conn: &mut DbConn, starts_on: NaiveDate, ends_on: NaiveDate, now: NaiveDateTime) -> QueryResult<Period> {
    let row = (
        payroll_periods::starts_on.eq(starts_on),
        payroll_periods::ends_on.eq(ends_on),
        payroll_periods::status.eq("pending"),
        payroll_periods::created_at.eq(now),
        payroll_periods::updated_at.eq(now),
    );
    crate::per_backend!(conn, c => diesel::insert_into(payroll_periods::table)
        .values(row)
        .on_conflict(payroll_periods::starts_on)
        .do_nothing()
        .execute(c))?;
    payroll_periods::table.filter(payroll_periods::starts_on.eq(starts_on)).select(Period::as_select()).first(conn)
}

/// Replaces a period's records with `lines`.
pub fn replace_records(conn: &mut DbConn, period_id: i64, lines: &[PayLine], now: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(payroll_records::table.filter(payroll_records::period_id.eq(period_id))).execute(conn)?;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                payroll_records::period_id.eq(period_id),
                payroll_records::user_id.eq(l.user_id),
                payroll_records::rate_cents.eq(l.rate_cents),
                payroll_records::minutes.eq(l.minutes),
                payroll_records::pay_cents.eq(l.pay_cents),
            )
        })
        .collect();
    crate::per_backend!(conn, c => diesel::insert_into(payroll_records::table).values(&rows).execute(c))?;
    diesel::update(payroll_periods::table.find(period_id)).set(payroll_periods::updated_at.eq(now)).execute(conn)?;
    Ok(())
}

/// A period's records with names, by employee then rate.
pub fn records(conn: &mut DbConn, period_id: i64) -> QueryResult<Vec<RecordRow>> {
    payroll_records::table
        .inner_join(users::table)
        .filter(payroll_records::period_id.eq(period_id))
        .order((users::username.asc(), payroll_records::rate_cents.asc()))
        .select((
            payroll_records::user_id,
            users::username,
            users::full_name,
            payroll_records::rate_cents,
            payroll_records::minutes,
            payroll_records::pay_cents,
        ))
        .load(conn)
}

/// Moves a period from `from` to `to` status, stamping who and when;
/// false when it was not in `from` (someone else moved it first).
pub fn set_status(conn: &mut DbConn, id: i64, from: &str, to: &str, by: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let target = payroll_periods::table.find(id).filter(payroll_periods::status.eq(from));
    let changed = match to {
        "approved" => diesel::update(target)
            .set((
                payroll_periods::status.eq(to),
                payroll_periods::approved_by.eq(by),
                payroll_periods::approved_at.eq(now),
                payroll_periods::updated_at.eq(now),
            ))
            .execute(conn)?,
        _ => diesel::update(target)
            .set((
                payroll_periods::status.eq(to),
                payroll_periods::paid_by.eq(by),
                payroll_periods::paid_at.eq(now),
                payroll_periods::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Rate histories and current rates of the given users.
pub fn rates_of(conn: &mut DbConn, user_ids: &[i64]) -> QueryResult<(BTreeMap<i64, RateHistory>, BTreeMap<i64, i64>)> {
    let history: Vec<(i64, NaiveDate, i64)> = hourly_rates::table
        .filter(hourly_rates::user_id.eq_any(user_ids))
        .select((hourly_rates::user_id, hourly_rates::effective_from, hourly_rates::rate_cents))
        .load(conn)?;
    let mut histories: BTreeMap<i64, RateHistory> = BTreeMap::new();
    for (user, from, cents) in history {
        histories.entry(user).or_default().push((from, cents));
    }
    let current: Vec<(i64, i64)> =
        users::table.filter(users::id.eq_any(user_ids)).select((users::id, users::hourly_rate_cents)).load(conn)?;
    Ok((histories, current.into_iter().collect()))
}

/// A user's rate history, newest first.
pub fn rate_history(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(NaiveDate, i64)>> {
    hourly_rates::table
        .filter(hourly_rates::user_id.eq(user_id))
        .order(hourly_rates::effective_from.desc())
        .select((hourly_rates::effective_from, hourly_rates::rate_cents))
        .load(conn)
}

/// Records a rate in force from `from` (replacing one from the same day).
pub fn set_rate(conn: &mut DbConn, user_id: i64, from: NaiveDate, cents: i64) -> QueryResult<usize> {
    crate::per_backend!(conn, c => diesel::insert_into(hourly_rates::table)
        .values((hourly_rates::user_id.eq(user_id), hourly_rates::effective_from.eq(from), hourly_rates::rate_cents.eq(cents)))
        .on_conflict((hourly_rates::user_id, hourly_rates::effective_from))
        .do_update()
        .set(hourly_rates::rate_cents.eq(cents))
        .execute(c))
}

/// Sets the user's current rate (the one in force today).
pub fn set_current_rate(conn: &mut DbConn, user_id: i64, cents: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set((users::hourly_rate_cents.eq(cents), users::updated_at.eq(now)))
        .execute(conn)
}
