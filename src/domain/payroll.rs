//! Time entries and pay: hours parsed into whole minutes, Monday–Sunday pay
//! periods, the rate in force on a day, pay in integer cents, and CSV cells
//! that a spreadsheet cannot run as formulas.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

text_enum! {
    /// Where a pay period stands.
    PeriodStatus {
        /// Computed from time entries; still follows them.
        Pending => "pending",
        /// Reviewed by an admin: frozen, its entries locked.
        Approved => "approved",
        /// Paid out.
        Paid => "paid",
    }
}

impl PeriodStatus {
    /// Whether the period's entries may still change.
    pub fn is_open(self) -> bool {
        self == PeriodStatus::Pending
    }
}

text_enum! {
    /// How a user wants notifications by email.
    EmailPreference {
        /// Each notification as it happens.
        Immediate => "immediate",
        /// Unread notifications gathered hourly.
        Digest => "digest",
        /// No email.
        Off => "off",
    }
}

/// Minutes in a day: the most one entry, or one day's entries, may hold.
pub const DAY_MINUTES: i32 = 24 * 60;

/// Longest note on a time entry.
pub const NOTE_MAX: usize = 500;

/// Parses hours as typed: decimal (`1.5`, `1,5`, `.25`) or `h:mm` (`1:30`).
/// Rounds to the whole minute; refuses zero, negative and more than 24 h.
pub fn parse_hours(raw: &str) -> Result<i32, String> {
    let text = raw.trim();
    let invalid = || "Enter hours as a number such as 1.5 or as h:mm such as 1:30.".to_string();
    if text.is_empty() {
        return Err("Enter the hours worked.".into());
    }
    if text.starts_with('-') {
        return Err("Hours must be more than zero.".into());
    }
    let minutes = if let Some((h, m)) = text.split_once(':') {
        let hours: i64 = h.parse().map_err(|_| invalid())?;
        if m.len() != 2 {
            return Err(invalid());
        }
        let mins: i64 = m.parse().map_err(|_| invalid())?;
        if mins >= 60 {
            return Err(invalid());
        }
        hours.checked_mul(60).and_then(|h| h.checked_add(mins)).ok_or_else(invalid)?
    } else {
        let decimal = text.replace(',', ".");
        let all_digits = decimal.chars().all(|c| c.is_ascii_digit() || c == '.') && decimal.matches('.').count() <= 1;
        let hours: f64 = if all_digits { decimal.parse().map_err(|_| invalid())? } else { return Err(invalid()) };
        if !hours.is_finite() || hours > 1_000.0 {
            return Err("An entry may hold at most 24 hours.".into());
        }
        (hours * 60.0).round() as i64
    };
    if minutes <= 0 {
        return Err("Hours must be more than zero.".into());
    }
    if minutes > i64::from(DAY_MINUTES) {
        return Err("An entry may hold at most 24 hours.".into());
    }
    Ok(minutes as i32)
}

/// Minutes as hours for people: `7.5`, `1.25`, `0.02`.
pub fn format_hours(minutes: i64) -> String {
    let hundredths = (minutes * 100 + 30) / 60;
    let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Cents as money for people: `1234.50`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// Parses money as typed (`25`, `25.5`, `25.50`) into cents; refuses
/// negative amounts and more than two decimals.
pub fn parse_cents(raw: &str) -> Result<i64, String> {
    let text = raw.trim().replace(',', ".");
    let invalid = || "Enter an amount such as 25 or 25.50.".to_string();
    if text.starts_with('-') {
        return Err("The amount may not be negative.".into());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return Err(invalid());
    }
    if whole.len() > 9 {
        return Err("The amount is too large.".into());
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    Ok(whole * 100 + fraction)
}

/// The Monday that starts the week holding `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The years a pay period may fall in: a typo such as 9999 or 0202 is
/// refused rather than stored.
pub const PAYABLE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The Monday of the week holding `day`, when that week may be paid on
/// `today`: within [`PAYABLE_YEARS`] and over (its Sunday before `today`).
pub fn payable_week(day: NaiveDate, today: NaiveDate) -> Result<NaiveDate, String> {
    if !PAYABLE_YEARS.contains(&day.year()) {
        return Err(format!("Pick a day between {} and {}.", PAYABLE_YEARS.start(), PAYABLE_YEARS.end()));
    }
    let start = week_start(day);
    if start + chrono::Duration::days(6) >= today {
        return Err("That week has not ended yet; pay a week once it is over.".into());
    }
    Ok(start)
}

/// The pay period (Monday, Sunday) before the week holding `day`.
pub fn previous_week(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let start = week_start(day) - chrono::Duration::days(7);
    (start, start + chrono::Duration::days(6))
}

/// Pay for `minutes` at `rate_cents` an hour, rounded half up to the cent.
pub fn pay_cents(minutes: i64, rate_cents: i64) -> i64 {
    (minutes * rate_cents + 30) / 60
}

/// A user's rate history: (effective from, cents), any order.
pub type RateHistory = Vec<(NaiveDate, i64)>;

/// The rate in force on `day`: the latest change on or before it, else the
/// earliest known rate, else `fallback` (the user's current rate).
pub fn rate_on(history: &RateHistory, day: NaiveDate, fallback: i64) -> i64 {
    let mut sorted: Vec<&(NaiveDate, i64)> = history.iter().collect();
    sorted.sort_by_key(|(from, _)| *from);
    sorted.iter().rev().find(|(from, _)| *from <= day).or_else(|| sorted.first()).map_or(fallback, |(_, c)| *c)
}

/// One payroll line: an employee's minutes at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayLine {
    /// Employee.
    pub user_id: i64,
    /// Rate in cents an hour.
    pub rate_cents: i64,
    /// Minutes worked at that rate.
    pub minutes: i64,
    /// Pay in cents.
    pub pay_cents: i64,
}

/// Payroll lines from (user, day, minutes) entries: minutes are summed per
/// employee and rate before rounding, so splitting work into many entries
/// never changes the pay.
pub fn pay_lines(
    entries: &[(i64, NaiveDate, i64)],
    rates: &BTreeMap<i64, RateHistory>,
    current_rate: &BTreeMap<i64, i64>,
) -> Vec<PayLine> {
    let mut minutes: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let empty = Vec::new();
    for (user, day, mins) in entries {
        let history = rates.get(user).unwrap_or(&empty);
        let rate = rate_on(history, *day, current_rate.get(user).copied().unwrap_or(0));
        *minutes.entry((*user, rate)).or_default() += mins;
    }
    minutes
        .into_iter()
        .map(|((user_id, rate_cents), minutes)| PayLine {
            user_id,
            rate_cents,
            minutes,
            pay_cents: pay_cents(minutes, rate_cents),
        })
        .collect()
}

/// An amount in a currency as people read it: the symbol before it for the
/// common ones ("$1,234.50", "€80.00"), the code after it otherwise
/// ("1,234.50 CHF"); thousands grouped, negatives with a minus.
pub fn format_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let plain = format_cents(cents.abs());
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let symbol = match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        _ => None,
    };
    match symbol {
        Some(symbol) => format!("{sign}{symbol}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}.{fraction} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_with_its_currency() {
        assert_eq!(format_money(55_250, "USD"), "$552.50");
        assert_eq!(format_money(123_456_789, "EUR"), "€1,234,567.89");
        assert_eq!(format_money(100_000, "CHF"), "1,000.00 CHF");
        assert_eq!(format_money(-505, "GBP"), "-£5.05");
        assert_eq!(format_money(0, "USD"), "$0.00");
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn hours_parse_in_both_spellings() {
        assert_eq!(parse_hours("1.5"), Ok(90));
        assert_eq!(parse_hours("1,25"), Ok(75));
        assert_eq!(parse_hours(".5"), Ok(30));
        assert_eq!(parse_hours("1:30"), Ok(90));
        assert_eq!(parse_hours("24"), Ok(1440));
        assert_eq!(parse_hours("0:01"), Ok(1));
        for bad in ["", "0", "-1", "24.01", "25", "1:60", "1:5", "abc", "1e2", "NaN", "inf", "1.2.3"] {
            assert!(parse_hours(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn hours_and_money_format_for_people() {
        assert_eq!(format_hours(450), "7.5");
        assert_eq!(format_hours(75), "1.25");
        assert_eq!(format_hours(60), "1");
        assert_eq!(format_cents(123_450), "1234.50");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(parse_cents("25"), Ok(2500));
        assert_eq!(parse_cents("25.5"), Ok(2550));
        assert_eq!(parse_cents("0.07"), Ok(7));
        for bad in ["", "-1", "1.234", "abc", "1.2.3", "9999999999"] {
            assert!(parse_cents(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn periods_run_monday_to_sunday() {
        // 2026-11-30 is a Monday.
        assert_eq!(week_start(day("2026-11-30")), day("2026-11-30"));
        assert_eq!(week_start(day("2026-12-06")), day("2026-11-30"));
        assert_eq!(previous_week(day("2026-11-30")), (day("2026-11-23"), day("2026-11-29")));
        assert_eq!(previous_week(day("2026-01-01")), (day("2025-12-22"), day("2025-12-28")));
    }

    #[test]
    fn pay_rounds_half_up_to_the_cent() {
        assert_eq!(pay_cents(90, 2_000), 3_000);
        // 1 minute at 25.00/h = 41.67 cents → 42.
        assert_eq!(pay_cents(1, 2_500), 42);
        // 1 minute at 0.30/h = 0.5 cent → 1.
        assert_eq!(pay_cents(1, 30), 1);
        assert_eq!(pay_cents(0, 2_500), 0);
    }

    #[test]
    fn a_rate_change_mid_period_splits_the_pay() {
        // 20.00/h until Wednesday, 26.00/h from Thursday 2026-11-26.
        let rates = BTreeMap::from([(7, vec![(day("2026-11-26"), 2_600), (day("2020-01-01"), 2_000)])]);
        let current = BTreeMap::from([(7, 2_600), (8, 3_000)]);
        let entries = [
            (7, day("2026-11-23"), 480),
            (7, day("2026-11-25"), 450),
            (7, day("2026-11-26"), 400),
            (7, day("2026-11-29"), 20),
            (8, day("2026-11-24"), 61),
        ];
        let lines = pay_lines(&entries, &rates, &current);
        assert_eq!(
            lines,
            vec![
                // 930 min × 20.00 = 310.00
                PayLine { user_id: 7, rate_cents: 2_000, minutes: 930, pay_cents: 31_000 },
                // 420 min × 26.00 = 182.00
                PayLine { user_id: 7, rate_cents: 2_600, minutes: 420, pay_cents: 18_200 },
                // 61 min × 30.00 = 30.50, no history: the current rate
                PayLine { user_id: 8, rate_cents: 3_000, minutes: 61, pay_cents: 3_050 },
            ]
        );
    }

    #[test]
    fn many_small_entries_pay_the_same_as_one() {
        let rates = BTreeMap::new();
        let current = BTreeMap::from([(1, 2_500)]);
        let split: Vec<_> = (0..60).map(|_| (1, day("2026-11-23"), 1)).collect();
        let whole = [(1, day("2026-11-23"), 60)];
        assert_eq!(pay_lines(&split, &rates, &current), pay_lines(&whole, &rates, &current));
        assert_eq!(pay_lines(&whole, &rates, &current)[0].pay_cents, 2_500);
    }

    #[test]
    fn the_rate_before_the_first_change_is_the_earliest_known() {
        let history = vec![(day("2026-06-01"), 1_500)];
        assert_eq!(rate_on(&history, day("2026-01-01"), 9_999), 1_500);
        assert_eq!(rate_on(&Vec::new(), day("2026-01-01"), 9_999), 9_999);
    }

    #[test]
    fn only_past_weeks_in_range_are_payable() {
        let today = day("2026-12-02"); // a Wednesday
        assert_eq!(payable_week(day("2026-11-25"), today), Ok(day("2026-11-23")));
        assert_eq!(payable_week(day("2026-11-29"), today), Ok(day("2026-11-23")), "its Sunday is past");
        assert!(payable_week(day("2026-11-30"), today).is_err(), "this week is still running");
        assert!(payable_week(day("2027-06-01"), today).is_err(), "a future week");
        assert!(payable_week(day("9999-12-31"), today).is_err());
        assert!(payable_week(day("1999-12-31"), today).is_err());
        assert!(payable_week(day("2000-01-03"), today).is_ok());
        // On a Monday, last week is over.
        assert_eq!(payable_week(day("2026-11-29"), day("2026-11-30")), Ok(day("2026-11-23")));
    }
}
