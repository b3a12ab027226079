//! Times as people read them: in their own zone, relative to now where
//! that is clearer ("Due tomorrow 13:42", "3 days overdue", "5 min ago"),
//! and exactly on demand ("2026-12-03 13:42 CET"). Times are stored in UTC;
//! only these functions turn them into local words.

use chrono::{Datelike, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// A stored (UTC) time in a zone.
fn local(at: NaiveDateTime, zone: Tz) -> chrono::DateTime<Tz> {
    zone.from_utc_datetime(&at)
}

/// The time exactly, with the zone's abbreviation: "2026-12-03 13:42 CET".
pub fn exact(at: NaiveDateTime, zone: Tz) -> String {
    local(at, zone).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The time as an ISO-8601 UTC instant (for `<time datetime>`).
pub fn iso(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The local date alone: "2026-12-03".
pub fn date(at: NaiveDateTime, zone: Tz) -> String {
    local(at, zone).format("%Y-%m-%d").to_string()
}

/// The day of `at` relative to `now`'s local day, with the clock time:
/// "today 13:42", "tomorrow 09:00", "yesterday 17:40", "Fri 13:42" (within
/// a week), "12 Dec" (this year), "12 Dec 2027".
fn day_phrase(at: NaiveDateTime, now: NaiveDateTime, zone: Tz) -> String {
    let (at, now) = (local(at, zone), local(now, zone));
    let days = (at.date_naive() - now.date_naive()).num_days();
    let clock = at.format("%H:%M");
    match days {
        0 => format!("today {clock}"),
        1 => format!("tomorrow {clock}"),
        -1 => format!("yesterday {clock}"),
        2..=6 => format!("{} {clock}", at.format("%a")),
        _ if at.year() == now.year() => at.format("%-d %b").to_string(),
        _ => at.format("%-d %b %Y").to_string(),
    }
}

/// A count with its unit, singular or plural: "1 day", "3 days".
fn count(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// A due time for a task: how overdue an open task is, else when it is due.
pub fn due(due: NaiveDateTime, now: NaiveDateTime, zone: Tz, open: bool) -> String {
    if open && due < now {
        let late = now - due;
        return if late.num_hours() < 1 {
            format!("{} min overdue", late.num_minutes().max(1))
        } else if late.num_hours() < 24 {
            format!("{} overdue", count(late.num_hours(), "hour"))
        } else {
            format!("{} overdue", count(late.num_days(), "day"))
        };
    }
    format!("Due {}", day_phrase(due, now, zone))
}

/// A past moment: "just now", "5 min ago", "3 hours ago" (today), then
/// "yesterday 17:40", "Mon 09:12", "3 Dec", "3 Dec 2025".
pub fn ago(at: NaiveDateTime, now: NaiveDateTime, zone: Tz) -> String {
    let since = now - at;
    let same_day = local(at, zone).date_naive() == local(now, zone).date_naive();
    if since.num_seconds() < 0 {
        day_phrase(at, now, zone)
    } else if since.num_seconds() < 60 {
        "just now".to_string()
    } else if since.num_minutes() < 60 {
        format!("{} min ago", since.num_minutes())
    } else if same_day {
        format!("{} ago", count(since.num_hours(), "hour"))
    } else {
        day_phrase(at, now, zone)
    }
}

/// Where an open task falls on its assignee's list, by its due time in
/// their zone; closed tasks come last, apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueGroup {
    /// Open and past due.
    Overdue,
    /// Due before the viewer's week ends (Sunday midnight, local).
    ThisWeek,
    /// Due later, or with no due time.
    Later,
    /// Done or cancelled.
    Closed,
}

impl DueGroup {
    /// Every group, in list order.
    pub const ALL: [DueGroup; 4] = [DueGroup::Overdue, DueGroup::ThisWeek, DueGroup::Later, DueGroup::Closed];

    /// The group of a task (`open`: neither done nor cancelled).
    pub fn of(open: bool, due: Option<NaiveDateTime>, now: NaiveDateTime, zone: Tz) -> DueGroup {
        match due {
            _ if !open => DueGroup::Closed,
            Some(due) if due < now => DueGroup::Overdue,
            Some(due) if due < next_week(now, zone) => DueGroup::ThisWeek,
            _ => DueGroup::Later,
        }
    }

    /// Its key in element ids (`my-overdue`).
    pub fn key(self) -> &'static str {
        match self {
            DueGroup::Overdue => "overdue",
            DueGroup::ThisWeek => "week",
            DueGroup::Later => "later",
            DueGroup::Closed => "closed",
        }
    }

    /// Its heading.
    pub fn label(self) -> &'static str {
        match self {
            DueGroup::Overdue => "Overdue",
            DueGroup::ThisWeek => "Due this week",
            DueGroup::Later => "Later",
            DueGroup::Closed => "Done and cancelled",
        }
    }
}

/// The start of the week after `now`'s (Monday 00:00 in `zone`), in UTC.
pub fn next_week(now: NaiveDateTime, zone: Tz) -> NaiveDateTime {
    let today = local(now, zone).date_naive();
    let monday = today + chrono::Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
    let midnight = monday.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight).earliest().map_or(midnight, |t| t.naive_utc())
}

/// A zone name as typed or stored, if it is a known IANA zone.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// Every zone a person may choose, by name.
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    const NOW: &str = "2026-12-03 12:00";

    #[test]
    fn due_times_read_relative_to_the_viewers_day() {
        let utc = chrono_tz::UTC;
        assert_eq!(due(t("2026-12-04 13:42"), t(NOW), utc, true), "Due tomorrow 13:42");
        assert_eq!(due(t("2026-12-03 17:00"), t(NOW), utc, true), "Due today 17:00");
        assert_eq!(due(t("2026-12-07 09:00"), t(NOW), utc, true), "Due Mon 09:00");
        assert_eq!(due(t("2026-12-24 09:00"), t(NOW), utc, true), "Due 24 Dec");
        assert_eq!(due(t("2027-01-10 09:00"), t(NOW), utc, true), "Due 10 Jan 2027");
    }

    #[test]
    fn overdue_open_tasks_say_by_how_much_and_closed_ones_do_not() {
        let utc = chrono_tz::UTC;
        assert_eq!(due(t("2026-11-30 12:00"), t(NOW), utc, true), "3 days overdue");
        assert_eq!(due(t("2026-12-02 11:00"), t(NOW), utc, true), "1 day overdue");
        assert_eq!(due(t("2026-12-03 09:30"), t(NOW), utc, true), "2 hours overdue");
        assert_eq!(due(t("2026-12-03 11:59"), t(NOW), utc, true), "1 min overdue");
        assert_eq!(due(t("2026-11-30 12:00"), t(NOW), utc, false), "Due 30 Nov");
    }

    #[test]
    fn the_viewers_zone_decides_the_day_and_the_clock() {
        // 23:30 UTC on the 3rd is already the 4th in Berlin, and 18:30 in New York.
        let at = t("2026-12-03 23:30");
        assert_eq!(due(at, t(NOW), chrono_tz::Europe::Berlin, true), "Due tomorrow 00:30");
        assert_eq!(due(at, t(NOW), chrono_tz::America::New_York, true), "Due today 18:30");
        assert_eq!(exact(at, chrono_tz::Europe::Berlin), "2026-12-04 00:30 CET");
        assert_eq!(exact(at, chrono_tz::UTC), "2026-12-03 23:30 UTC");
        assert_eq!(iso(at), "2026-12-03T23:30:00Z");
    }

    #[test]
    fn past_moments_read_as_ago_then_as_days() {
        let utc = chrono_tz::UTC;
        assert_eq!(ago(t("2026-12-03 12:00"), t(NOW), utc), "just now");
        assert_eq!(ago(t("2026-12-03 11:55"), t(NOW), utc), "5 min ago");
        assert_eq!(ago(t("2026-12-03 11:59"), t(NOW), utc), "1 min ago");
        assert_eq!(ago(t("2026-12-03 08:10"), t(NOW), utc), "3 hours ago");
        assert_eq!(ago(t("2026-12-02 17:40"), t(NOW), utc), "yesterday 17:40");
        assert_eq!(ago(t("2026-10-02 17:40"), t(NOW), utc), "2 Oct");
        assert_eq!(ago(t("2025-10-02 17:40"), t(NOW), utc), "2 Oct 2025");
    }

    #[test]
    fn open_tasks_group_by_due_in_the_viewers_week_and_closed_ones_apart() {
        // Thursday 3 December 2026, noon UTC: the week ends at Monday 00:00.
        let utc = chrono_tz::UTC;
        assert_eq!(next_week(t(NOW), utc), t("2026-12-07 00:00"));
        assert_eq!(next_week(t(NOW), chrono_tz::Asia::Tokyo), t("2026-12-06 15:00"));
        let group = |due: Option<&str>, open| DueGroup::of(open, due.map(t), t(NOW), utc);
        assert_eq!(group(Some("2026-12-03 11:00"), true), DueGroup::Overdue);
        assert_eq!(group(Some("2026-12-06 23:59"), true), DueGroup::ThisWeek);
        assert_eq!(group(Some("2026-12-07 00:00"), true), DueGroup::Later);
        assert_eq!(group(None, true), DueGroup::Later);
        assert_eq!(group(Some("2026-12-01 11:00"), false), DueGroup::Closed);
        // Sunday 22:00 UTC is already next week in Tokyo.
        let sunday = Some(t("2026-12-06 22:00"));
        assert_eq!(DueGroup::of(true, sunday, t(NOW), chrono_tz::Asia::Tokyo), DueGroup::Later);
        assert_eq!(DueGroup::of(true, sunday, t(NOW), utc), DueGroup::ThisWeek);
    }

    #[test]
    fn zones_are_known_iana_names_only() {
        assert_eq!(parse_zone(" Europe/Berlin "), Some(chrono_tz::Europe::Berlin));
        assert_eq!(parse_zone("Mars/Olympus"), None);
        assert!(zone_names().any(|z| z == "America/Sao_Paulo"));
    }
}
