//! Rules of logging in and staying logged in.

use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};

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

/// The form of an account name that throttling and device cookies key on
/// (what login looks up: trimmed, lowercase).
pub fn normalise_account(username: &str) -> String {
    username.trim().to_lowercase()
}

/// How long a device cookie lasts without a successful login through it.
pub const DEVICE_LIFETIME: Duration = Duration::days(180);

/// The name of the device cookie of an account: one per account, so a
/// browser can be known for several accounts, and the name reveals nothing
/// of the account (12 hex digits of the SHA-256 of the normalised name).
pub fn device_cookie_name(account: &str) -> String {
    let hash = Sha256::digest(normalise_account(account).as_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("tp_device_{hex}")
}

/// The failure counter that attempts through a known device count against:
/// its own, so failures elsewhere never lock it and its failures never lock
/// the account. Usernames cannot contain `:`, so it never names an account.
pub fn device_throttle_key(token_digest: &str) -> String {
    format!("device:{token_digest}")
}

/// Whether a stored device cookie vouches for a login to `account` at `now`:
/// only for the account it was issued to, and only while it is in use.
pub fn device_is_honoured(issued_to: &str, account: &str, last_used_at: NaiveDateTime, now: NaiveDateTime) -> bool {
    issued_to == account && now < last_used_at + DEVICE_LIFETIME
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
    fn device_cookies_are_per_account_and_expire_unused() {
        let name = device_cookie_name(" Alice ");
        assert_eq!(name, device_cookie_name("alice"), "the normalised name decides");
        assert_ne!(name, device_cookie_name("bob"));
        assert_eq!(name.len(), "tp_device_".len() + 12);
        assert!(name["tp_device_".len()..].chars().all(|c| c.is_ascii_hexdigit()), "{name}");
        assert!(device_throttle_key("ab").starts_with("device:"));

        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        let cases = [
            ("alice", "alice", t0, true),
            ("alice", "bob", t0, false),
            ("alice", "alice", t0 + DEVICE_LIFETIME - Duration::seconds(1), true),
            ("alice", "alice", t0 + DEVICE_LIFETIME, false),
        ];
        for (issued_to, account, now, expected) in cases {
            assert_eq!(device_is_honoured(issued_to, account, t0, now), expected, "{issued_to} {account} {now}");
        }
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
