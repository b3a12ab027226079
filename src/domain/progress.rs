//! The progress state machine: what a progress update, a completion or an
//! explicit status change does to a task, and who may do it.

use super::role::Role;
use super::task::{Progress, TaskStatus};

/// Where a task stands before a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskState {
    /// Progress 0–100.
    pub progress: Progress,
    /// Status.
    pub status: TaskStatus,
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: TaskState,
    /// After.
    pub to: TaskState,
    /// The task reaches DONE now (set the completion time).
    pub completes: bool,
    /// A DONE task goes back to work (clear the completion time).
    pub reopens: bool,
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// A cancelled task does not move.
    #[error("This task is cancelled; an admin or manager must restore it first.")]
    Cancelled,
    /// Only admins and managers reopen finished tasks.
    #[error("This task is done; an admin or manager can reopen it.")]
    DoneNeedsReopen,
    /// Only admins and managers set ON_HOLD / CANCELLED or restore tasks.
    #[error("Only admins and managers can set this status.")]
    NotAllowed,
    /// A status that follows from progress cannot be set by hand.
    #[error("PENDING, IN_PROGRESS and DONE follow from progress; set the progress instead.")]
    DerivedStatus,
}

fn may_override(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Manager)
}

/// A progress update. Status follows progress (0 → PENDING, 1–99 →
/// IN_PROGRESS, 100 → DONE) except on hold, where the hold stays until an
/// admin or manager lifts it. Cancelled tasks refuse updates; DONE tasks go
/// back only through an admin or manager (a reopen).
pub fn update_progress(from: TaskState, to: Progress, role: Role) -> Result<Transition, ChangeError> {
    match from.status {
        TaskStatus::Cancelled => return Err(ChangeError::Cancelled),
        TaskStatus::Done if to.value() < 100 && !may_override(role) => return Err(ChangeError::DoneNeedsReopen),
        _ => {}
    }
    let status =
        if from.status == TaskStatus::OnHold && to.value() < 100 { TaskStatus::OnHold } else { to.implied_status() };
    Ok(Transition {
        from,
        to: TaskState { progress: to, status },
        completes: status == TaskStatus::Done && from.status != TaskStatus::Done,
        reopens: from.status == TaskStatus::Done && status != TaskStatus::Done,
    })
}

/// Whether someone in `role` may change the progress of a task in `status`
/// at all (what its controls offer): a cancelled task takes no progress, a
/// done one only from those who may reopen it.
pub fn accepts_progress(status: TaskStatus, role: Role) -> bool {
    match status {
        TaskStatus::Cancelled => false,
        TaskStatus::Done => may_override(role),
        TaskStatus::Pending | TaskStatus::InProgress | TaskStatus::OnHold => true,
    }
}

/// An explicit status change by an admin or manager: ON_HOLD or CANCELLED,
/// or lifting them (back to the status the progress implies).
pub fn set_status(from: TaskState, to: TaskStatus, role: Role) -> Result<Transition, ChangeError> {
    if !may_override(role) {
        return Err(ChangeError::NotAllowed);
    }
    let status = match to {
        TaskStatus::OnHold | TaskStatus::Cancelled => to,
        // "Resume": whichever of PENDING / IN_PROGRESS / DONE the progress implies.
        TaskStatus::Pending | TaskStatus::InProgress | TaskStatus::Done
            if matches!(from.status, TaskStatus::OnHold | TaskStatus::Cancelled) =>
        {
            from.progress.implied_status()
        }
        _ => return Err(ChangeError::DerivedStatus),
    };
    Ok(Transition {
        from,
        to: TaskState { progress: from.progress, status },
        completes: status == TaskStatus::Done && from.status != TaskStatus::Done,
        reopens: from.status == TaskStatus::Done && status != TaskStatus::Done,
    })
}

/// The per-assignee status that matches a task status.
pub fn assignment_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending | TaskStatus::Cancelled => "assigned",
        TaskStatus::InProgress => "in_progress",
        TaskStatus::OnHold => "on_hold",
        TaskStatus::Done => "completed",
    }
}

/// Longest note accepted with a progress update, in characters.
pub const MAX_NOTES: usize = 2_000;

/// Checks a note: at most [`MAX_NOTES`] characters, no control characters
/// other than line breaks and tabs.
pub fn parse_notes(raw: &str) -> Result<String, String> {
    let notes = raw.trim();
    if notes.chars().count() > MAX_NOTES {
        return Err(format!("Notes may be at most {MAX_NOTES} characters long."));
    }
    if notes.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("Notes may not contain control characters.".into());
    }
    Ok(notes.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::Occupancy;

    fn state(progress: i64, status: TaskStatus) -> TaskState {
        TaskState { progress: Progress::parse(progress).unwrap(), status }
    }

    fn p(v: i64) -> Progress {
        Progress::parse(v).unwrap()
    }

    #[test]
    fn status_follows_progress_for_employees() {
        let cases = [
            (state(0, TaskStatus::Pending), 40, TaskStatus::InProgress, false, false),
            (state(40, TaskStatus::InProgress), 0, TaskStatus::Pending, false, false),
            (state(40, TaskStatus::InProgress), 100, TaskStatus::Done, true, false),
            (state(0, TaskStatus::Pending), 100, TaskStatus::Done, true, false),
            (state(30, TaskStatus::OnHold), 50, TaskStatus::OnHold, false, false),
            (state(30, TaskStatus::OnHold), 100, TaskStatus::Done, true, false),
            (state(100, TaskStatus::Done), 100, TaskStatus::Done, false, false),
        ];
        for (from, to, status, completes, reopens) in cases {
            let t = update_progress(from, p(to), Role::Employee).unwrap();
            assert_eq!((t.to.status, t.completes, t.reopens), (status, completes, reopens), "{from:?} → {to}");
            assert_eq!(t.to.progress, p(to));
        }
    }

    #[test]
    fn the_controls_follow_what_an_update_would_accept() {
        for &status in TaskStatus::ALL {
            for role in Role::ALL {
                let accepted = update_progress(state(50, status), p(60), role).is_ok();
                assert_eq!(accepts_progress(status, role), accepted, "{status:?} for {role:?}");
            }
        }
    }

    #[test]
    fn done_and_cancelled_tasks_are_guarded() {
        assert_eq!(
            update_progress(state(100, TaskStatus::Done), p(50), Role::Employee),
            Err(ChangeError::DoneNeedsReopen)
        );
        assert_eq!(update_progress(state(100, TaskStatus::Done), p(50), Role::Lead), Err(ChangeError::DoneNeedsReopen));
        let reopened = update_progress(state(100, TaskStatus::Done), p(50), Role::Manager).unwrap();
        assert!(reopened.reopens);
        assert_eq!(reopened.to.status, TaskStatus::InProgress);
        for role in Role::ALL {
            assert_eq!(update_progress(state(20, TaskStatus::Cancelled), p(30), role), Err(ChangeError::Cancelled));
        }
    }

    #[test]
    fn explicit_statuses_are_for_admins_and_managers() {
        let from = state(40, TaskStatus::InProgress);
        assert_eq!(set_status(from, TaskStatus::OnHold, Role::Employee), Err(ChangeError::NotAllowed));
        assert_eq!(set_status(from, TaskStatus::OnHold, Role::Lead), Err(ChangeError::NotAllowed));
        assert_eq!(set_status(from, TaskStatus::OnHold, Role::Admin).unwrap().to.status, TaskStatus::OnHold);
        assert_eq!(set_status(from, TaskStatus::Cancelled, Role::Manager).unwrap().to.status, TaskStatus::Cancelled);
        assert_eq!(set_status(from, TaskStatus::Done, Role::Admin), Err(ChangeError::DerivedStatus));
        let resumed = set_status(state(40, TaskStatus::OnHold), TaskStatus::InProgress, Role::Admin).unwrap();
        assert_eq!(resumed.to.status, TaskStatus::InProgress);
        let restored = set_status(state(0, TaskStatus::Cancelled), TaskStatus::Pending, Role::Manager).unwrap();
        assert_eq!(restored.to.status, TaskStatus::Pending);
    }

    #[test]
    fn notes_are_bounded() {
        assert_eq!(parse_notes("  done \n next "), Ok("done \n next".into()));
        assert!(parse_notes(&"x".repeat(MAX_NOTES + 1)).is_err());
        assert!(parse_notes("bell\u{7}").is_err());
    }

    #[test]
    fn occupancy_parses_the_seed_values() {
        assert_eq!("ACTIVE".parse::<Occupancy>(), Ok(Occupancy::Active));
        assert_eq!("IDLE".parse::<Occupancy>(), Ok(Occupancy::Idle));
        assert_eq!("OFFLINE".parse::<Occupancy>(), Ok(Occupancy::Offline));
        assert!("BUSY".parse::<Occupancy>().is_err());
    }
}
