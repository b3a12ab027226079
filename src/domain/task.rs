//! Task values: priority, status, progress, and the rule that status follows
//! progress.

text_enum!(
    /// How urgent a task is.
    Priority {
        /// Can wait.
        Low => "LOW",
        /// The default.
        Medium => "MEDIUM",
        /// Soon.
        High => "HIGH",
        /// Now.
        Urgent => "URGENT",
    }
);

text_enum!(
    /// Where a task stands.
    TaskStatus {
        /// Not started (progress 0).
        Pending => "PENDING",
        /// Progress 1–99.
        InProgress => "IN_PROGRESS",
        /// Parked by an admin or manager.
        OnHold => "ON_HOLD",
        /// Progress 100.
        Done => "DONE",
        /// Dropped by an admin or manager.
        Cancelled => "CANCELLED",
    }
);

impl Priority {
    /// The priority as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Urgent => "Urgent",
        }
    }
}

impl TaskStatus {
    /// The status as people read it.
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Pending => "Pending",
            TaskStatus::InProgress => "In progress",
            TaskStatus::OnHold => "On hold",
            TaskStatus::Done => "Done",
            TaskStatus::Cancelled => "Cancelled",
        }
    }

    /// The status changes offered from this status (target, button text):
    /// a parked or cancelled task resumes, a done one can be cancelled, any
    /// other can be put on hold or cancelled.
    pub fn actions(self) -> &'static [(TaskStatus, &'static str)] {
        match self {
            TaskStatus::OnHold | TaskStatus::Cancelled => &[(TaskStatus::InProgress, "Resume")],
            TaskStatus::Done => &[(TaskStatus::Cancelled, "Cancel")],
            TaskStatus::Pending | TaskStatus::InProgress => {
                &[(TaskStatus::OnHold, "Put on hold"), (TaskStatus::Cancelled, "Cancel")]
            }
        }
    }
}

text_enum!(
    /// A person's presence: connected and active, connected but idle, or gone.
    Occupancy {
        /// Connected and active within the last few minutes.
        Active => "ACTIVE",
        /// Connected, inactive.
        Idle => "IDLE",
        /// No open connection.
        Offline => "OFFLINE",
    }
);

impl Occupancy {
    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            Occupancy::Active => "Active",
            Occupancy::Idle => "Idle",
            Occupancy::Offline => "Offline",
        }
    }

    /// CSS modifier.
    pub fn css(self) -> &'static str {
        match self {
            Occupancy::Active => "active",
            Occupancy::Idle => "idle",
            Occupancy::Offline => "offline",
        }
    }
}

/// Task progress, a whole percentage 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Progress(u8);

impl Progress {
    /// Checks the range.
    pub fn parse(value: i64) -> Result<Progress, String> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(Progress)
            .ok_or_else(|| "Progress must be a whole number from 0 to 100.".to_string())
    }

    /// The percentage.
    pub fn value(self) -> i32 {
        i32::from(self.0)
    }

    /// The status that this progress implies: 0 → PENDING, 1–99 →
    /// IN_PROGRESS, 100 → DONE.
    pub fn implied_status(self) -> TaskStatus {
        match self.0 {
            0 => TaskStatus::Pending,
            100 => TaskStatus::Done,
            _ => TaskStatus::InProgress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_progress() {
        let cases = [
            (0, TaskStatus::Pending),
            (1, TaskStatus::InProgress),
            (50, TaskStatus::InProgress),
            (99, TaskStatus::InProgress),
            (100, TaskStatus::Done),
        ];
        for (p, status) in cases {
            assert_eq!(Progress::parse(p).unwrap().implied_status(), status, "{p}");
        }
    }

    #[test]
    fn progress_range() {
        assert!(Progress::parse(-1).is_err());
        assert!(Progress::parse(101).is_err());
        assert_eq!(Progress::parse(100).map(Progress::value), Ok(100));
    }

    #[test]
    fn enums_round_trip() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(*p));
        }
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
        }
        assert!("low".parse::<Priority>().is_err());
    }
}
