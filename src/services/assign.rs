//! Creating and editing tasks: every field checked at once, assignees within
//! the actor's reach, and one trail row for the creation or reassignment.

use chrono::{NaiveDateTime, Utc};

use crate::db::{Db, DbConn, now};
use crate::domain::access::{Viewer, may_assign};
use crate::domain::role::Role;
use crate::domain::task::TaskStatus;
pub use crate::domain::task_form::TaskInput;
use crate::domain::task_form::{Checked, check, kept_due};
use crate::live::LiveBus;
use crate::services::{Actor, FieldErrors, ServiceError, notifications};
use crate::store::tasks::{self, NewAssignment, NewProgress, NewTask};
use crate::store::{org, users};

fn viewer(actor: &Actor) -> Viewer {
    Viewer { id: actor.id, role: actor.role, team_id: actor.team_id }
}

/// Checks that every assignee exists, is active, and is within the actor's
/// reach (a lead assigns within their team); returns their display names.
/// Ids in `kept` (already assigned, outside the actor's reach) are not
/// checked: the actor keeps them without being able to change them.
fn check_assignees(
    conn: &mut DbConn,
    actor: &Actor,
    ids: &[i64],
    kept: &[i64],
    errors: &mut FieldErrors,
) -> Result<Vec<String>, ServiceError> {
    let mut names = Vec::new();
    for id in ids.iter().filter(|id| !kept.contains(id)) {
        match users::find(conn, *id)? {
            Some(user) if user.is_active => {
                if may_assign(viewer(actor), (user.id, user.team_id)) {
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

/// Checks the fields, then the references (assignees within reach, project,
/// skills) — every error at once. `previous_due` is the task's due time when
/// editing: an unchanged past due date is kept, a new one must be ahead.
/// `kept` are assignees outside the actor's reach that stay as they are.
fn check_all(
    conn: &mut DbConn,
    actor: &Actor,
    input: &TaskInput,
    at: NaiveDateTime,
    previous_due: Option<Option<NaiveDateTime>>,
    kept: &[i64],
) -> Result<(Checked, Vec<String>), ServiceError> {
    let creating = previous_due.is_none();
    let mut checked = check(input, at, creating);
    let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
    if let (Ok(c), Some(previous)) = (&mut checked, previous_due) {
        c.due_at = kept_due(c.due_at, previous);
        if c.due_at.is_some_and(|due| due < at && Some(due) != previous) {
            errors.insert("due", "The due date is in the past.".into());
        }
    }
    let names = check_assignees(conn, actor, &input.assignee_ids, kept, &mut errors)?;
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
    match checked {
        Ok(checked) if errors.is_empty() => Ok((checked, names)),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

fn assignment(task_id: i64, user_id: i64, hours: f64, by: i64, at: NaiveDateTime) -> NewAssignment {
    NewAssignment {
        task_id,
        user_id,
        status: "assigned".into(),
        source: "manual".into(),
        estimated_hours: hours,
        actual_hours: 0.0,
        skill_match: None,
        assigned_by: Some(by),
        assigned_at: at,
        completed_at: None,
    }
}

/// Creates a task assigned to the chosen people; returns its id.
pub async fn create(db: &Db, bus: &LiveBus, actor: &Actor, input: TaskInput) -> Result<i64, ServiceError> {
    let actor = actor.clone();
    let id = db
        .write(move |conn| {
            let at = now();
            let (checked, names) = check_all(conn, &actor, &input, at, None, &[])?;
            let task_id = tasks::insert(
                conn,
                &NewTask {
                    title: checked.title.clone(),
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
            for user_id in &assignees {
                tasks::insert_assignment(conn, &assignment(task_id, *user_id, checked.estimated_hours, actor.id, at))?;
            }
            let notified = notifications::assigned(conn, task_id, &checked.title, &actor, &assignees, at)?;
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
            Ok::<_, ServiceError>((task_id, notified))
        })
        .await?;
    let (id, notified) = id;
    bus.task_changed(id);
    notifications::announce(bus, &notified);
    Ok(id)
}

/// Edits a task and its assignees (reassignment), recording what changed in
/// one trail row. A stale `expected_version` is refused with the current state.
/// The edit changes only what the editor may see: assignees outside their
/// reach (another team's people, for a lead) are kept, never removed by
/// being absent from the form.
pub async fn update(
    db: &Db,
    bus: &LiveBus,
    actor: &Actor,
    task_id: i64,
    expected_version: Option<i32>,
    input: TaskInput,
) -> Result<(), ServiceError> {
    let actor = actor.clone();
    let mut input = input;
    let notified = db
        .write(move |conn| {
            let task = crate::services::progress::load_visible(conn, viewer(&actor), task_id)?;
            if expected_version.is_some_and(|v| v != task.version) {
                return Err(crate::services::progress::stale(&task));
            }
            let at = now();
            let before: Vec<tasks::Assignee> = tasks::assignees(conn, task_id)?;
            let kept = out_of_reach(&actor, &before);
            input.assignee_ids.extend(&kept);
            let (checked, _) = check_all(conn, &actor, &input, at, Some(task.due_at), &kept)?;
            let mut edited = Vec::new();
            if checked.title != task.title {
                edited.push("title");
            }
            if checked.description != task.description {
                edited.push("description");
            }
            if input.project_id != task.project_id {
                edited.push("project");
            }
            if checked.priority.as_str() != task.priority {
                edited.push("priority");
            }
            if checked.due_at != task.due_at {
                edited.push("due date");
            }
            if (checked.estimated_hours - task.estimated_hours).abs() > f64::EPSILON {
                edited.push("estimate");
            }
            if checked.difficulty != task.difficulty {
                edited.push("difficulty");
            }
            let old_skills: Vec<(i64, i64)> =
                tasks::skills_of(conn, task_id)?.into_iter().map(|(id, _, level)| (id, i64::from(level))).collect();
            let mut new_skills = input.skills.clone();
            new_skills.sort_unstable();
            new_skills.dedup_by_key(|(id, _)| *id);
            if old_skills != new_skills {
                edited.push("skills");
            }
            let fields = tasks::TaskFields {
                title: checked.title,
                description: checked.description,
                project_id: input.project_id,
                priority: checked.priority.as_str().into(),
                difficulty: checked.difficulty,
                estimated_hours: checked.estimated_hours,
                due_at: checked.due_at,
                updated_at: at,
            };
            if !tasks::update_fields(conn, task_id, task.version, &fields)? {
                let current = tasks::find(conn, task_id)?.ok_or(ServiceError::NotFound)?;
                return Err(crate::services::progress::stale(&current));
            }
            tasks::clear_skills(conn, task_id)?;
            for (skill, level) in &new_skills {
                tasks::add_skill(conn, task_id, *skill, *level as i32)?;
            }
            let mut wanted = input.assignee_ids.clone();
            wanted.sort_unstable();
            wanted.dedup();
            let mut changes = Vec::new();
            for old in before.iter().filter(|a| !wanted.contains(&a.user_id)) {
                tasks::remove_assignment(conn, task_id, old.user_id)?;
                changes.push(format!("−{}", old.full_name));
            }
            let status = task.status.parse::<TaskStatus>().map_err(ServiceError::Internal)?;
            let added: Vec<i64> =
                wanted.iter().copied().filter(|id| !before.iter().any(|a| a.user_id == *id)).collect();
            for user_id in &added {
                let mut new = assignment(task_id, *user_id, fields.estimated_hours, actor.id, at);
                new.status = crate::domain::progress::assignment_status(status).into();
                tasks::insert_assignment(conn, &new)?;
                let name = users::find(conn, *user_id)?.map(|u| u.full_name).unwrap_or_default();
                changes.push(format!("+{name}"));
            }
            let mut notes = Vec::new();
            if !edited.is_empty() {
                notes.push(format!("Edited {}", edited.join(", ")));
            }
            if !changes.is_empty() {
                notes.push(format!("Reassigned: {}", changes.join(", ")));
            }
            if notes.is_empty() {
                notes.push("Saved without changes".into());
            }
            tasks::append_progress(
                conn,
                &NewProgress {
                    task_id,
                    user_id: Some(actor.id),
                    previous_progress: task.progress,
                    new_progress: task.progress,
                    previous_status: task.status.clone(),
                    new_status: task.status.clone(),
                    notes: notes.join("; "),
                    occupancy_status: None,
                    created_at: at,
                },
            )?;
            notifications::assigned(conn, task_id, &fields.title, &actor, &added, at)
        })
        .await?;
    bus.task_changed(task_id);
    notifications::announce(bus, &notified);
    Ok(())
}

/// The assignees the actor may not change (outside their reach).
fn out_of_reach(actor: &Actor, assignees: &[tasks::Assignee]) -> Vec<i64> {
    assignees.iter().filter(|a| !may_assign(viewer(actor), (a.user_id, a.team_id))).map(|a| a.user_id).collect()
}

/// The names of a task's assignees the actor may not change: an edit keeps
/// them, and the form shows them read-only.
pub async fn kept_assignees(db: &Db, actor: &Actor, task_id: i64) -> Result<Vec<String>, ServiceError> {
    let actor = actor.clone();
    db.read(move |conn| {
        let before = tasks::assignees(conn, task_id)?;
        let kept = out_of_reach(&actor, &before);
        Ok(before.into_iter().filter(|a| kept.contains(&a.user_id)).map(|a| a.full_name).collect())
    })
    .await
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
    /// Teams (for filters).
    pub teams: Vec<(i64, String)>,
}

/// Loads the choices for the actor.
pub async fn choices(db: &Db, actor: &Actor) -> Result<FormChoices, ServiceError> {
    let actor = actor.clone();
    db.read(move |conn| {
        let everyone = users::list(conn)?;
        // Sorted by name; the label names the username too, so two people
        // with one name can be told apart.
        let mut people: Vec<(i64, String)> = everyone
            .into_iter()
            .filter(|row| row.user.is_active)
            .filter(|row| may_assign(viewer(&actor), (row.user.id, row.user.team_id)))
            .map(|row| {
                let team = row.team_name.map(|t| format!(" · {t}")).unwrap_or_default();
                (row.user.id, format!("{} ({}{team})", row.user.full_name, row.user.username))
            })
            .collect();
        people.sort_by_cached_key(|(_, label)| label.to_lowercase());
        let teams = org::list_teams(conn)?
            .into_iter()
            .filter(|t| matches!(actor.role, Role::Admin | Role::Manager) || Some(t.id) == actor.team_id)
            .map(|t| (t.id, t.name))
            .collect();
        Ok(FormChoices { people, projects: org::list_projects(conn)?, skills: org::list_skills(conn)?, teams })
    })
    .await
}

/// Today's date in UTC, for form defaults.
pub fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}
