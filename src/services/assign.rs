//! Creating and editing tasks: every field checked at once, assignees within
//! the actor's reach, and one trail row for the creation or reassignment.

use chrono::{NaiveDateTime, Utc};

use crate::db::{Db, DbConn, now};
use crate::domain::role::Role;
use crate::domain::task::{Priority, TaskStatus};
use crate::live::LiveBus;
use crate::services::{Actor, FieldErrors, ServiceError};
use crate::store::tasks::{self, NewAssignment, NewProgress, NewTask};
use crate::store::{org, users};

/// The assign form as typed (strings are checked here, all at once).
#[derive(Debug, Clone, Default)]
pub struct TaskInput {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Project id, or empty.
    pub project_id: Option<i64>,
    /// Assignee user ids.
    pub assignee_ids: Vec<i64>,
    /// Due time `YYYY-MM-DDTHH:MM` (UTC) or empty.
    pub due: String,
    /// LOW | MEDIUM | HIGH | URGENT.
    pub priority: String,
    /// Hours, e.g. "4" or "2.5".
    pub estimated_hours: String,
    /// 1–10.
    pub difficulty: String,
    /// Required skills as (skill id, minimum level 1–5).
    pub skills: Vec<(i64, i64)>,
}

/// A checked task.
#[derive(Debug, Clone)]
struct Checked {
    title: String,
    description: String,
    priority: Priority,
    due_at: Option<NaiveDateTime>,
    estimated_hours: f64,
    difficulty: i32,
}

/// Parses `YYYY-MM-DDTHH:MM` (as sent by `<input type=datetime-local>`),
/// with or without seconds, or a bare date (end of that day).
pub fn parse_due(raw: &str) -> Result<Option<NaiveDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(Some(t));
        }
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 0))
        .map(Some)
        .ok_or_else(|| "Enter the due date as YYYY-MM-DD HH:MM.".to_string())
}

fn check(input: &TaskInput, at: NaiveDateTime, creating: bool) -> Result<Checked, FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        errors.insert("title", "Give the task a title of 1 to 200 characters.".into());
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
    let due_at = match parse_due(&input.due) {
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

/// Checks that every assignee exists, is active, and is within the actor's
/// reach (a lead assigns within their team); returns their display names.
fn check_assignees(
    conn: &mut DbConn,
    actor: &Actor,
    ids: &[i64],
    errors: &mut FieldErrors,
) -> Result<Vec<String>, ServiceError> {
    let mut names = Vec::new();
    for id in ids {
        match users::find(conn, *id)? {
            Some(user) if user.is_active => {
                let reachable = match actor.role {
                    Role::Admin | Role::Manager => true,
                    Role::Lead => user.id == actor.id || (user.team_id.is_some() && user.team_id == actor.team_id),
                    Role::Employee => false,
                };
                if reachable {
                    names.push(user.full_name);
                } else {
                    errors.insert("assignees", "You can assign work only within your team.".into());
                }
            }
            _ => {
                errors.insert("assignees", "Choose assignees from the list.".into());
            }
        }
    }
    Ok(names)
}

/// Creates a task assigned to the chosen people; returns its id.
pub async fn create(db: &Db, bus: &LiveBus, actor: &Actor, input: TaskInput) -> Result<i64, ServiceError> {
    let actor = actor.clone();
    let id = db
        .write(move |conn| {
            let at = now();
            let mut errors = check(&input, at, true).err().unwrap_or_default();
            let names = check_assignees(conn, &actor, &input.assignee_ids, &mut errors)?;
            if let Some(project) = input.project_id
                && !org::project_exists(conn, project)?
            {
                errors.insert("project", "Choose a project from the list.".into());
            }
            for (skill, _) in &input.skills {
                if !org::skill_exists(conn, *skill)? {
                    errors.insert("skills", "Choose skills from the list.".into());
                }
            }
            let checked = match check(&input, at, true) {
                Ok(checked) if errors.is_empty() => checked,
                _ => return Err(ServiceError::Invalid(errors)),
            };
            let task_id = tasks::insert(
                conn,
                &NewTask {
                    title: checked.title,
                    description: checked.description,
                    project_id: input.project_id,
                    priority: checked.priority.as_str().into(),
                    status: TaskStatus::Pending.as_str().into(),
                    progress: 0,
                    difficulty: checked.difficulty,
                    estimated_hours: checked.estimated_hours,
                    due_at: checked.due_at,
                    completed_at: None,
                    created_by: Some(actor.id),
                    last_progress_update_at: None,
                    last_progress_updated_by: None,
                    created_at: at,
                    updated_at: at,
                },
            )?;
            for (skill, level) in &input.skills {
                tasks::add_skill(conn, task_id, *skill, *level as i32)?;
            }
            let mut assignees = input.assignee_ids.clone();
            assignees.sort_unstable();
            assignees.dedup();
            for user_id in assignees {
                tasks::insert_assignment(
                    conn,
                    &NewAssignment {
                        task_id,
                        user_id,
                        status: "assigned".into(),
                        source: "manual".into(),
                        estimated_hours: checked.estimated_hours,
                        actual_hours: 0.0,
                        skill_match: None,
                        assigned_by: Some(actor.id),
                        assigned_at: at,
                        completed_at: None,
                    },
                )?;
            }
            tasks::append_progress(
                conn,
                &NewProgress {
                    task_id,
                    user_id: Some(actor.id),
                    previous_progress: 0,
                    new_progress: 0,
                    previous_status: TaskStatus::Pending.as_str().into(),
                    new_status: TaskStatus::Pending.as_str().into(),
                    notes: format!("Created and assigned to {}", names.join(", ")),
                    occupancy_status: None,
                    created_at: at,
                },
            )?;
            Ok(task_id)
        })
        .await?;
    bus.task_changed(id);
    Ok(id)
}

/// Choices for the assign form: (id, label) lists.
#[derive(Debug, Clone, Default)]
pub struct FormChoices {
    /// People the actor may assign.
    pub people: Vec<(i64, String)>,
    /// Projects.
    pub projects: Vec<(i64, String)>,
    /// Skills.
    pub skills: Vec<(i64, String)>,
}

/// Loads the choices for the actor.
pub async fn choices(db: &Db, actor: &Actor) -> Result<FormChoices, ServiceError> {
    let actor = actor.clone();
    db.read(move |conn| {
        let everyone = users::list(conn)?;
        let people = everyone
            .into_iter()
            .filter(|row| row.user.is_active)
            .filter(|row| match actor.role {
                Role::Admin | Role::Manager => true,
                Role::Lead => {
                    row.user.id == actor.id || (row.user.team_id.is_some() && row.user.team_id == actor.team_id)
                }
                Role::Employee => false,
            })
            .map(|row| {
                let team = row.team_name.map(|t| format!(" ({t})")).unwrap_or_default();
                (row.user.id, format!("{}{team}", row.user.full_name))
            })
            .collect();
        Ok(FormChoices { people, projects: org::list_projects(conn)?, skills: org::list_skills(conn)? })
    })
    .await
}

/// Today's date in UTC, for form defaults.
pub fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}
