//! Pay periods: created weekly from time entries, reviewed and approved by
//! an admin, then marked paid; hourly rates with their history; CSV export.

use chrono::{NaiveDate, NaiveDateTime};

use super::audit::{self, Entry};
use super::{Actor, RequestMeta, ServiceError};
use crate::db::{Db, DbConn, now};
use crate::domain::export::Csv;
use crate::domain::payroll::{self as rules, PayLine, PeriodStatus};
use crate::domain::role::Role;
use crate::store::payroll::{self as store, Period, RecordRow};
use crate::store::time_entries;

/// A period with its lines, for the Payroll page and the CSV.
#[derive(Debug, Clone)]
pub struct PeriodReport {
    /// The period.
    pub period: Period,
    /// One line per employee and rate.
    pub records: Vec<RecordRow>,
    /// Sum of minutes.
    pub total_minutes: i64,
    /// Sum of pay.
    pub total_cents: i64,
}

fn admin_only(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role == Role::Admin { Ok(()) } else { Err(ServiceError::Forbidden) }
}

/// Recomputes a pending period's records from its time entries (approved and
/// paid periods stay frozen). Runs inside the caller's transaction.
pub fn recompute(conn: &mut DbConn, period: &Period, at: NaiveDateTime) -> Result<Vec<PayLine>, ServiceError> {
    let status: PeriodStatus = period.status.parse().map_err(ServiceError::Internal)?;
    if !status.is_open() {
        return Ok(Vec::new());
    }
    let entries = time_entries::minutes_between(conn, period.starts_on, period.ends_on)?;
    let mut users: Vec<i64> = entries.iter().map(|e| e.0).collect();
    users.sort_unstable();
    users.dedup();
    let (histories, current) = store::rates_of(conn, &users)?;
    let lines = rules::pay_lines(&entries, &histories, &current);
    store::replace_records(conn, period.id, &lines, at)?;
    Ok(lines)
}

/// The pending period holding `day`, if one was created; refuses when that
/// period is approved or paid (its time entries are locked).
pub fn open_period(conn: &mut DbConn, day: NaiveDate) -> Result<Option<Period>, ServiceError> {
    match store::holding_locked(conn, day)? {
        Some(period) if period.status != PeriodStatus::Pending.as_str() => Err(ServiceError::field(
            "work_date",
            format!(
                "The pay period {} – {} is {}; its time entries can no longer change.",
                period.starts_on, period.ends_on, period.status
            ),
        )),
        open => Ok(open),
    }
}

/// Creates (or, while pending, recomputes) the period Monday `starts_on` to
/// Sunday. Idempotent: run twice, it leaves the same records. Returns the
/// period and a summary.
pub fn generate(
    conn: &mut DbConn,
    starts_on: NaiveDate,
    at: NaiveDateTime,
) -> Result<(Period, serde_json::Value), ServiceError> {
    let starts_on = rules::week_start(starts_on);
    let ends_on = starts_on + chrono::Duration::days(6);
    let period = store::ensure(conn, starts_on, ends_on, at)?;
    let lines = recompute(conn, &period, at)?;
    let mut employees: Vec<i64> = lines.iter().map(|l| l.user_id).collect();
    employees.dedup();
    let summary = serde_json::json!({
        "period_id": period.id,
        "starts_on": starts_on.to_string(),
        "ends_on": ends_on.to_string(),
        "status": period.status,
        "employees": employees.len(),
        "total_minutes": lines.iter().map(|l| l.minutes).sum::<i64>(),
        "total_cents": lines.iter().map(|l| l.pay_cents).sum::<i64>(),
    });
    Ok((period, summary))
}

/// The scheduled run at `slot`: the period of the previous Monday–Sunday in
/// the schedule's time zone, or of the week holding `week` (YYYY-MM-DD)
/// when given; a week not yet over is refused.
pub async fn generate_scheduled(
    db: &Db,
    slot: NaiveDateTime,
    week: Option<&str>,
) -> Result<serde_json::Value, ServiceError> {
    let chosen = match week {
        None => None,
        Some(raw) => Some(
            raw.parse::<NaiveDate>().map_err(|_| ServiceError::field("week", "week must be a day as YYYY-MM-DD"))?,
        ),
    };
    db.write(move |conn| {
        let start = match chosen {
            Some(day) => rules::payable_week(day, slot.date()).map_err(|e| ServiceError::field("week", e))?,
            None => {
                let zone = crate::store::schedules::schedule(conn, "weekly-payroll")?
                    .and_then(|s| s.timezone.parse::<chrono_tz::Tz>().ok())
                    .unwrap_or(chrono_tz::UTC);
                let local = chrono::TimeZone::from_utc_datetime(&zone, &slot).date_naive();
                rules::previous_week(local).0
            }
        };
        Ok(generate(conn, start, slot)?.1)
    })
    .await
}

/// The latest periods (admin).
pub async fn periods(db: &Db, actor: &Actor) -> Result<Vec<Period>, ServiceError> {
    admin_only(actor)?;
    db.read(|conn| Ok(store::periods(conn, 104)?)).await
}

/// One period with its lines (admin).
pub async fn report(db: &Db, actor: &Actor, id: i64) -> Result<PeriodReport, ServiceError> {
    admin_only(actor)?;
    db.read(move |conn| {
        let period = store::find(conn, id)?.ok_or(ServiceError::NotFound)?;
        let records = store::records(conn, id)?;
        let total_minutes = records.iter().map(|r| r.minutes).sum();
        let total_cents = records.iter().map(|r| r.pay_cents).sum();
        Ok(PeriodReport { period, records, total_minutes, total_cents })
    })
    .await
}

/// Creates or recomputes the period of the week holding `day` (admin).
pub async fn generate_week(db: &Db, actor: &Actor, meta: &RequestMeta, day: &str) -> Result<i64, ServiceError> {
    admin_only(actor)?;
    let day: NaiveDate =
        day.trim().parse().map_err(|_| ServiceError::field("week", "Pick a day of the week to pay (YYYY-MM-DD)."))?;
    let day = rules::payable_week(day, now().date()).map_err(|e| ServiceError::field("week", e))?;
    let (actor_id, meta) = (actor.id, meta.clone());
    db.write(move |conn| {
        let (period, summary) = generate(conn, day, now())?;
        audit::record(
            conn,
            &meta,
            Entry::success(actor_id, "payroll.generate", "payroll_period", Some(period.id.to_string()))
                .with_details(summary.to_string()),
        )?;
        Ok(period.id)
    })
    .await
}

/// Moves a period on: pending → approved (frozen) or approved → paid.
/// Anything else is refused with the period's current status.
pub async fn advance(
    db: &Db,
    actor: &Actor,
    meta: &RequestMeta,
    id: i64,
    to: PeriodStatus,
) -> Result<(), ServiceError> {
    admin_only(actor)?;
    let from = match to {
        PeriodStatus::Approved => PeriodStatus::Pending,
        PeriodStatus::Paid => PeriodStatus::Approved,
        PeriodStatus::Pending => return Err(ServiceError::Conflict("A period cannot go back to pending.".into())),
    };
    let (actor_id, meta) = (actor.id, meta.clone());
    db.write(move |conn| {
        let period = store::find_locked(conn, id)?.ok_or(ServiceError::NotFound)?;
        let at = now();
        if period.status == from.as_str() && from == PeriodStatus::Pending {
            // Approve exactly what the entries say now.
            recompute(conn, &period, at)?;
        }
        if !store::set_status(conn, id, from.as_str(), to.as_str(), actor_id, at)? {
            return Err(ServiceError::Conflict(format!(
                "This period is already {}; only a {} period can be marked {}.",
                period.status,
                from.as_str(),
                to.as_str()
            )));
        }
        audit::record(
            conn,
            &meta,
            Entry::success(
                actor_id,
                if to == PeriodStatus::Approved { "payroll.approve" } else { "payroll.paid" },
                "payroll_period",
                Some(id.to_string()),
            )
            .with_details(format!("{} – {}", period.starts_on, period.ends_on)),
        )?;
        Ok(())
    })
    .await
}

/// A period as CSV: one row per employee and rate, cells neutralised
/// against formula injection (admin).
pub async fn csv(db: &Db, actor: &Actor, id: i64) -> Result<(String, String), ServiceError> {
    let report = report(db, actor, id).await?;
    let mut out =
        Csv::with_header(&["period_start", "period_end", "status", "username", "full_name", "hours", "rate", "pay"]);
    for r in &report.records {
        out.row(&[
            report.period.starts_on.to_string(),
            report.period.ends_on.to_string(),
            report.period.status.clone(),
            r.username.clone(),
            r.full_name.clone(),
            rules::format_hours(r.minutes),
            rules::format_cents(r.rate_cents),
            rules::format_cents(r.pay_cents),
        ]);
    }
    let name = format!("payroll-{}.csv", report.period.starts_on);
    Ok((name, out.finish()))
}

/// Sets a user's hourly rate from a day on (admin). Pending periods from
/// that day on follow; a day inside an approved or paid period is refused.
pub async fn set_rate(
    db: &Db,
    actor: &Actor,
    meta: &RequestMeta,
    user_id: i64,
    rate: &str,
    from: &str,
) -> Result<(), ServiceError> {
    admin_only(actor)?;
    let mut errors = super::FieldErrors::new();
    let cents = rules::parse_cents(rate).map_err(|e| errors.insert("rate", e)).ok();
    let from: Option<NaiveDate> = from
        .trim()
        .parse()
        .map_err(|_| errors.insert("effective_from", "Enter the first day of the new rate (YYYY-MM-DD).".into()))
        .ok();
    let (Some(cents), Some(from)) = (cents, from) else { return Err(ServiceError::Invalid(errors)) };
    let (actor_id, meta) = (actor.id, meta.clone());
    db.write(move |conn| {
        // The user first, then the periods: the order entries take them in.
        time_entries::lock_user(conn, user_id)?;
        let previous = crate::store::users::find(conn, user_id)?.ok_or(ServiceError::NotFound)?.hourly_rate_cents;
        let mut affected = Vec::new();
        for period in store::ending_from(conn, from)? {
            affected.extend(store::find_locked(conn, period.id)?);
        }
        if let Some(locked) = affected.iter().find(|p| p.status != PeriodStatus::Pending.as_str()) {
            return Err(ServiceError::field(
                "effective_from",
                format!(
                    "The pay period {} – {} is {}; pick a later day.",
                    locked.starts_on, locked.ends_on, locked.status
                ),
            ));
        }
        let at = now();
        if store::rate_history(conn, user_id)?.is_empty() {
            // The rate so far holds for every earlier day.
            store::set_rate(conn, user_id, NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(from), previous)?;
        }
        store::set_rate(conn, user_id, from, cents)?;
        let history = store::rate_history(conn, user_id)?;
        store::set_current_rate(conn, user_id, rules::rate_on(&history, at.date(), cents), at)?;
        for period in &affected {
            recompute(conn, period, at)?;
        }
        audit::record(
            conn,
            &meta,
            Entry::success(actor_id, "user.rate", "user", Some(user_id.to_string()))
                .with_details(format!("{} from {from}", rules::format_cents(cents))),
        )?;
        Ok(())
    })
    .await
}
