//! The assign / edit form's rules: every field checked at once, with the
//! message each error shows.

use chrono::{NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

use super::FieldErrors;
use super::task::Priority;

/// The assign form as typed (strings are checked here, all at once).
#[derive(Debug, Clone)]
pub struct TaskInput {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Project id, or empty.
    pub project_id: Option<i64>,
    /// Assignee user ids.
    pub assignee_ids: Vec<i64>,
    /// Due time `YYYY-MM-DDTHH:MM` in `zone`, or empty.
    pub due: String,
    /// The zone the due time is typed in (the person's own).
    pub zone: Tz,
    /// LOW | MEDIUM | HIGH | URGENT.
    pub priority: String,
    /// Hours, e.g. "4" or "2.5".
    pub estimated_hours: String,
    /// 1–10.
    pub difficulty: String,
    /// Required skills as (skill id, minimum level 1–5).
    pub skills: Vec<(i64, i64)>,
}

impl Default for TaskInput {
    fn default() -> Self {
        TaskInput {
            title: String::new(),
            description: String::new(),
            project_id: None,
            assignee_ids: Vec::new(),
            due: String::new(),
            zone: chrono_tz::UTC,
            priority: String::new(),
            estimated_hours: String::new(),
            difficulty: String::new(),
            skills: Vec::new(),
        }
    }
}

/// A checked task.
#[derive(Debug, Clone)]
pub struct Checked {
    /// (checked)
    pub title: String,
    /// (checked)
    pub description: String,
    /// (checked)
    pub priority: Priority,
    /// (checked)
    pub due_at: Option<NaiveDateTime>,
    /// (checked)
    pub estimated_hours: f64,
    /// (checked)
    pub difficulty: i32,
}

/// Parses `YYYY-MM-DDTHH:MM` (as sent by `<input type=datetime-local>`),
/// with or without seconds, or a bare date (end of that day), as a local
/// time in `zone`; returns it in UTC. A time the clocks skip (spring
/// forward) is refused; a repeated one (fall back) is its first occurrence.
pub fn parse_due(raw: &str, zone: Tz) -> Result<Option<NaiveDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(23, 59, 0)))
        .ok_or_else(|| "Enter the due date as YYYY-MM-DD HH:MM.".to_string())?;
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| Some(t.naive_utc()))
        .ok_or_else(|| format!("That time does not exist in {} (the clocks change then).", zone.name()))
}

/// A stored (UTC) due time as the form shows it in `zone`.
pub fn due_input(due: NaiveDateTime, zone: Tz) -> String {
    zone.from_utc_datetime(&due).format("%Y-%m-%dT%H:%M").to_string()
}

/// The due time an edit leaves: the form shows minutes, so a value equal to
/// the stored one to the minute is the stored one, unchanged (an overdue
/// task keeps its past due time through an edit of anything else).
pub fn kept_due(form: Option<NaiveDateTime>, stored: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    let minute = |t: NaiveDateTime| t.with_second(0).and_then(|t| t.with_nanosecond(0));
    match (form, stored) {
        (Some(f), Some(s)) if minute(f) == minute(s) => Some(s),
        _ => form,
    }
}

/// Checks every field of `input` at once (`creating`: a due date must be
/// ahead of `at`).
pub fn check(input: &TaskInput, at: NaiveDateTime, creating: bool) -> Result<Checked, FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        errors.insert("title", "Give the task a title of 1 to 200 characters.".into());
    } else if super::text::has_hidden_controls(&title) {
        errors.insert("title", "The title may not contain control or text-direction characters.".into());
    }
    let description = input.description.trim().to_string();
    if description.chars().count() > 10_000 {
        errors.insert("description", "The description may be at most 10,000 characters.".into());
    }
    let priority = input
        .priority
        .trim()
        .parse::<Priority>()
        .map_err(|_| errors.insert("priority", "Choose a priority.".into()))
        .ok();
    let due_at = match parse_due(&input.due, input.zone) {
        Ok(Some(due)) if creating && due < at => {
            errors.insert("due", "The due date is in the past.".into());
            None
        }
        Ok(due) => due,
        Err(e) => {
            errors.insert("due", e);
            None
        }
    };
    let estimated_hours = match input.estimated_hours.trim() {
        "" => Some(0.0),
        raw => raw.parse::<f64>().ok().filter(|h| h.is_finite() && (0.0..=1000.0).contains(h)),
    };
    if estimated_hours.is_none() {
        errors.insert("estimated_hours", "Estimated hours must be a number from 0 to 1000.".into());
    }
    let difficulty = match input.difficulty.trim() {
        "" => Some(5),
        raw => raw.parse::<i32>().ok().filter(|d| (1..=10).contains(d)),
    };
    if difficulty.is_none() {
        errors.insert("difficulty", "Difficulty must be a whole number from 1 to 10.".into());
    }
    if input.assignee_ids.is_empty() {
        errors.insert("assignees", "Choose at least one assignee.".into());
    }
    if input.skills.iter().any(|(_, level)| !(1..=5).contains(level)) {
        errors.insert("skills", "Skill levels go from 1 to 5.".into());
    }
    match (priority, estimated_hours, difficulty, errors.is_empty()) {
        (Some(priority), Some(estimated_hours), Some(difficulty), true) => {
            Ok(Checked { title, description, priority, due_at, estimated_hours, difficulty })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod kept_due_tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn a_due_time_shown_to_the_minute_is_the_stored_one() {
        let stored = at("2026-11-20 09:15:42.123456");
        assert_eq!(kept_due(Some(at("2026-11-20 09:15:00")), Some(stored)), Some(stored));
        let moved = at("2026-11-20 09:16:00");
        assert_eq!(kept_due(Some(moved), Some(stored)), Some(moved));
        assert_eq!(kept_due(None, Some(stored)), None, "cleared");
        assert_eq!(kept_due(Some(moved), None), Some(moved), "set");
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn due_times_are_typed_in_the_persons_zone_and_stored_in_utc() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(parse_due("2026-12-04T09:00", berlin), Ok(Some(at("2026-12-04 08:00"))));
        assert_eq!(parse_due("2026-07-04T09:00", berlin), Ok(Some(at("2026-07-04 07:00"))), "summer time");
        assert_eq!(parse_due("2026-12-04", chrono_tz::UTC), Ok(Some(at("2026-12-04 23:59"))));
        assert_eq!(due_input(at("2026-12-04 08:00"), berlin), "2026-12-04T09:00");
        assert!(parse_due("2026-03-29T02:30", berlin).unwrap_err().contains("does not exist"));
        assert_eq!(parse_due("2026-10-25T02:30", berlin), Ok(Some(at("2026-10-25 00:30"))), "first of the two");
        assert_eq!(parse_due("tomorrow", berlin), Err("Enter the due date as YYYY-MM-DD HH:MM.".into()));
    }
}
