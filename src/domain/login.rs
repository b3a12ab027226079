//! Rules of logging in and staying logged in.

use chrono::{Duration, NaiveDateTime};

/// Failures allowed on one account before each further attempt is delayed.
pub const FREE_FAILURES: i32 = 5;
/// The longest delay imposed on an account.
pub const MAX_LOCKOUT: Duration = Duration::minutes(15);

/// How long an account is locked after its `failures`-th consecutive failure:
/// nothing for the first few, then 30 s doubling up to 15 minutes.
pub fn lockout_after(failures: i32) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = (failures - FREE_FAILURES).min(10) as u32;
    Some((Duration::seconds(30) * 2_i32.pow(doublings)).min(MAX_LOCKOUT))
}

/// Session lifetime settings.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after login whatever its use.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: Duration::minutes(30), absolute: Duration::hours(12) }
    }
}

/// Whether a session is still usable at `now`.
pub fn session_is_live(
    last_seen_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
    policy: SessionPolicy,
) -> bool {
    now < expires_at && now < last_seen_at + policy.idle
}

/// Activity is recorded at most this often per session, so reads do not each
/// cost a write.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_grows_and_is_capped() {
        assert_eq!(lockout_after(4), None);
        assert_eq!(lockout_after(5), Some(Duration::seconds(30)));
        assert_eq!(lockout_after(6), Some(Duration::seconds(60)));
        assert_eq!(lockout_after(9), Some(Duration::seconds(480)));
        assert_eq!(lockout_after(20), Some(MAX_LOCKOUT));
        assert_eq!(lockout_after(1000), Some(MAX_LOCKOUT));
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        let policy = SessionPolicy::default();
        let expires = t0 + policy.absolute;
        assert!(session_is_live(t0, expires, t0 + Duration::minutes(29), policy));
        assert!(!session_is_live(t0, expires, t0 + Duration::minutes(30), policy));
        let recent = t0 + Duration::hours(12) - Duration::minutes(1);
        assert!(!session_is_live(recent, expires, t0 + Duration::hours(12), policy));
    }
}
