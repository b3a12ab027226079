//! Where the job engine's time comes from: the system clock (with a
//! process-level test hook), or a test's hand.

use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDateTime;

/// Where the time comes from: the system clock, or a test's hand.
pub trait Clock: Send + Sync {
    /// Now (UTC, microseconds).
    fn now(&self) -> NaiveDateTime;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        match test_clock_file() {
            None => crate::db::now(),
            Some(path) => read_test_clock(path).unwrap_or_else(crate::db::now),
        }
    }
}

/// The process-level test hook: with `TASKPULSE_TEST_CLOCK_FILE` set, the
/// job engine's clock (and only it) reads the time from that file, which a
/// test rewrites to move several real server processes through a simulated
/// day together. Never set it in production; a warning is logged when it is.
fn test_clock_file() -> Option<&'static std::path::Path> {
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os("TASKPULSE_TEST_CLOCK_FILE").filter(|p| !p.is_empty())?;
        tracing::warn!(file = ?path, "TEST HOOK: the job clock is read from a file");
        Some(path.into())
    })
    .as_deref()
}

/// A time in the test clock file (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, UTC).
fn read_test_clock(path: &std::path::Path) -> Option<NaiveDateTime> {
    let text = std::fs::read_to_string(path).ok()?;
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// A clock that moves only when told (tests).
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: NaiveDateTime) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: NaiveDateTime) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A std duration as a chrono one (saturating).
pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
