//! Job rules: states, the seed's status names, and the retry backoff.

use std::time::Duration;

text_enum!(
    /// Where a job is in its life.
    JobState {
        /// Waiting for its run time.
        Pending => "pending",
        /// Claimed by a worker (under a lease).
        Running => "running",
        /// Failed; runs again at its run time.
        Retrying => "retrying",
        /// Finished with a result.
        Succeeded => "succeeded",
        /// Out of attempts; kept for inspection.
        Dead => "dead",
    }
);

impl JobState {
    /// The status name of the seed's job-status API.
    pub fn seed_status(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "STARTED",
            JobState::Retrying => "RETRY",
            JobState::Succeeded => "SUCCESS",
            JobState::Dead => "FAILURE",
        }
    }
}

/// The seed's default: three retries after the first attempt.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 4;
/// The seed's default retry base delay.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(60);

/// Delay before the next attempt after `attempts` failed ones: the base
/// doubled per attempt, spread by ±25 % with `jitter` in [0, 1) so that
/// jobs failing together do not retry together. Capped at a day.
pub fn backoff(attempts: i32, base: Duration, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(20);
    let raw = base.as_secs_f64() * f64::from(2u32.pow(exponent));
    let spread = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    Duration::from_secs_f64((raw * spread).min(86_400.0))
}

/// What happens after a failed attempt: retry after a delay, or dead.
pub fn after_failure(attempts: i32, max_attempts: i32, base: Duration, jitter: f64) -> Option<Duration> {
    (attempts < max_attempts).then(|| backoff(attempts, base, jitter))
}

/// The working day (Monday to Friday) before `day`.
pub fn previous_working_day(day: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::{Datelike, Weekday};
    let mut previous = day.pred_opt().unwrap_or(day);
    while matches!(previous.weekday(), Weekday::Sat | Weekday::Sun) {
        previous = previous.pred_opt().unwrap_or(previous);
    }
    previous
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_the_jitter_band() {
        let base = Duration::from_secs(60);
        assert_eq!(backoff(1, base, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(2, base, 0.5), Duration::from_secs(120));
        assert_eq!(backoff(3, base, 0.5), Duration::from_secs(240));
        assert_eq!(backoff(1, base, 0.0), Duration::from_secs(45));
        assert_eq!(backoff(1, base, 0.999_999).as_secs(), 74);
        assert_eq!(backoff(40, base, 0.5), Duration::from_secs(86_400), "capped at a day");
    }

    #[test]
    fn failures_retry_until_the_last_attempt_then_die() {
        let base = Duration::from_secs(60);
        assert!(after_failure(1, 4, base, 0.5).is_some());
        assert!(after_failure(3, 4, base, 0.5).is_some());
        assert_eq!(after_failure(4, 4, base, 0.5), None);
    }

    #[test]
    fn the_previous_working_day_skips_weekends() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(previous_working_day(d("2026-12-01")), d("2026-11-30"), "Tuesday → Monday");
        assert_eq!(previous_working_day(d("2026-11-30")), d("2026-11-27"), "Monday → Friday");
        assert_eq!(previous_working_day(d("2026-11-29")), d("2026-11-27"), "Sunday → Friday");
    }

    #[test]
    fn seed_status_names() {
        let names: Vec<&str> =
            [JobState::Pending, JobState::Running, JobState::Retrying, JobState::Succeeded, JobState::Dead]
                .into_iter()
                .map(JobState::seed_status)
                .collect();
        assert_eq!(names, ["PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE"]);
    }
}
