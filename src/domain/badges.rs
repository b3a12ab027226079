//! Milestones and badges: a fixed catalogue with criteria and values,
//! evaluated from a person's running totals. A milestone, once reached, is
//! kept; a badge is earned once and stays active while its criterion holds.

use super::performance::{Totals, experience_level};

/// A milestone of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Milestone {
    /// Stored type, e.g. `100_tasks`.
    pub kind: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What it marks.
    pub description: &'static str,
    /// The value reached.
    pub value: f64,
    /// What the value counts.
    measure: Reach,
}

/// What a milestone's value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Tasks completed.
    Tasks,
    /// Experience level.
    Level,
}

const fn tasks(kind: &'static str, name: &'static str, description: &'static str, value: f64) -> Milestone {
    Milestone { kind, name, description, value, measure: Reach::Tasks }
}

const fn level(kind: &'static str, name: &'static str, description: &'static str, value: f64) -> Milestone {
    Milestone { kind, name, description, value, measure: Reach::Level }
}

/// Every milestone, smallest first.
pub const MILESTONES: &[Milestone] = &[
    tasks("first_task", "First finish", "Completed a first task.", 1.0),
    tasks("10_tasks", "Ten done", "Completed 10 tasks.", 10.0),
    tasks("50_tasks", "Fifty done", "Completed 50 tasks.", 50.0),
    tasks("100_tasks", "Century", "Completed 100 tasks.", 100.0),
    tasks("250_tasks", "Quarter thousand", "Completed 250 tasks.", 250.0),
    tasks("1000_tasks", "Thousand", "Completed 1,000 tasks.", 1000.0),
    level("level_5", "Seasoned", "Reached experience level 5.", 5.0),
    level("level_10", "Master", "Reached experience level 10.", 10.0),
];

impl Milestone {
    /// Whether the totals reach it.
    pub fn reached(&self, totals: &Totals) -> bool {
        let reached = match self.measure {
            Reach::Tasks => totals.completed as f64,
            Reach::Level => f64::from(experience_level(totals.difficulty_sum)),
        };
        reached >= self.value
    }
}

text_enum! {
    /// What a badge measures (stored as its `criteria`).
    Criterion {
        /// On-time ratio, over 20 or more tasks.
        OnTimeRatio => "on_time_ratio",
        /// On-time completions in a row.
        OnTimeStreak => "on_time_streak",
        /// Completions of difficulty 8 or more.
        HardTasks => "hard_tasks",
        /// Mean skill match, over 10 or more tasks.
        SkillAccuracy => "skill_accuracy",
    }
}

/// A badge of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Badge {
    /// Stored name (key).
    pub name: &'static str,
    /// Its title.
    pub title: &'static str,
    /// What earns it.
    pub description: &'static str,
    /// A short symbol shown with it.
    pub icon: &'static str,
    /// What it measures.
    pub criteria: Criterion,
    /// The criterion's value.
    pub criteria_value: f64,
}

/// Every badge.
pub const BADGES: &[Badge] = &[
    Badge {
        name: "on_time_pro",
        title: "On-time pro",
        description: "Nine in ten tasks finished on time, over 20 or more.",
        icon: "⏱",
        criteria: Criterion::OnTimeRatio,
        criteria_value: 0.9,
    },
    Badge {
        name: "on_a_roll",
        title: "On a roll",
        description: "Ten on-time completions in a row.",
        icon: "🔥",
        criteria: Criterion::OnTimeStreak,
        criteria_value: 10.0,
    },
    Badge {
        name: "heavy_lifter",
        title: "Heavy lifter",
        description: "Ten tasks of difficulty 8 or more completed.",
        icon: "🏋",
        criteria: Criterion::HardTasks,
        criteria_value: 10.0,
    },
    Badge {
        name: "right_fit",
        title: "Right fit",
        description: "Skill match averaging 90 % or more, over 10 or more tasks.",
        icon: "🎯",
        criteria: Criterion::SkillAccuracy,
        criteria_value: 0.9,
    },
];

impl Badge {
    /// Whether the totals meet its criterion now.
    pub fn holds(&self, t: &Totals) -> bool {
        let delivery = t.delivery();
        match self.criteria {
            Criterion::OnTimeRatio => t.completed >= 20 && delivery.on_time_ratio >= self.criteria_value,
            Criterion::OnTimeStreak => t.on_time_streak as f64 >= self.criteria_value,
            Criterion::HardTasks => t.hard_completed as f64 >= self.criteria_value,
            Criterion::SkillAccuracy => t.completed >= 10 && delivery.skill_accuracy >= self.criteria_value,
        }
    }

    /// The catalogue entry of a stored name.
    pub fn named(name: &str) -> Option<&'static Badge> {
        BADGES.iter().find(|b| b.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_follow_tasks_and_levels() {
        let t = Totals { completed: 10, difficulty_sum: 250.0, ..Totals::default() };
        let reached: Vec<_> = MILESTONES.iter().filter(|m| m.reached(&t)).map(|m| m.kind).collect();
        assert_eq!(reached, ["first_task", "10_tasks", "level_5"]);
        assert!(MILESTONES.iter().all(|m| !m.reached(&Totals::default())));
    }

    #[test]
    fn badges_hold_only_while_their_criterion_does() {
        let good = Totals { completed: 20, on_time: 18, on_time_streak: 12, skill_sum: 19.0, ..Totals::default() };
        let held: Vec<_> = BADGES.iter().filter(|b| b.holds(&good)).map(|b| b.name).collect();
        assert_eq!(held, ["on_time_pro", "on_a_roll", "right_fit"]);
        let slipped = Totals { on_time: 17, on_time_streak: 0, ..good };
        assert!(!Badge::named("on_time_pro").unwrap().holds(&slipped));
        assert!(!Badge::named("on_a_roll").unwrap().holds(&slipped));
        let few = Totals { completed: 5, on_time: 5, skill_sum: 5.0, ..Totals::default() };
        assert!(BADGES.iter().all(|b| !b.holds(&few)), "too few tasks earn nothing");
    }
}
