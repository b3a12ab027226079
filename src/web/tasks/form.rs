//! The assign and edit form: every error at once, input kept.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level};
use crate::http::layout::Layout;
use crate::services::assign::{self, FormChoices, TaskInput};
use crate::services::task_views::{self};
use crate::services::{FieldErrors, ServiceError};

use super::shared::{parse_version, priorities};

/// The assign form as typed, for redisplay.
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    title: String,
    description: String,
    project_id: Option<i64>,
    assignee_ids: Vec<i64>,
    due: String,
    priority: String,
    estimated_hours: String,
    difficulty: String,
    skills: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "tasks/form.html")]
struct FormPage {
    layout: Layout,
    task_id: Option<i64>,
    version: Option<i32>,
    form: FormValues,
    errors: FieldErrors,
    choices: FormChoices,
    /// Assignees outside the editor's reach: shown, kept, not changeable.
    kept: Vec<String>,
    priorities: Vec<&'static str>,
}

impl FormPage {
    fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    fn skill_level(&self, skill: &i64) -> &str {
        self.form.skills.iter().find(|(id, _)| id == skill).map_or("", |(_, level)| level.as_str())
    }
}

/// Reads the urlencoded form (repeated `assignees`, `skill_<id>` fields).
/// Malformed numbers become field errors.
fn read_form(
    pairs: Vec<(String, String)>,
    zone: chrono_tz::Tz,
) -> (FormValues, TaskInput, FieldErrors, Option<String>) {
    let mut values = FormValues::default();
    let mut errors = FieldErrors::new();
    let mut version = None;
    for (key, value) in pairs {
        match key.as_str() {
            "title" => values.title = value,
            "description" => values.description = value,
            "project" if value.trim().is_empty() => {}
            "project" => match value.trim().parse() {
                Ok(id) => values.project_id = Some(id),
                Err(_) => drop(errors.insert("project", "Choose a project from the list.".into())),
            },
            "assignees" => match value.trim().parse() {
                Ok(id) => values.assignee_ids.push(id),
                Err(_) => drop(errors.insert("assignees", "Choose assignees from the list.".into())),
            },
            "due" => values.due = value,
            "priority" => values.priority = value,
            "estimated_hours" => values.estimated_hours = value,
            "difficulty" => values.difficulty = value,
            "version" => version = Some(value),
            other => {
                if let Some(id) = other.strip_prefix("skill_").and_then(|id| id.parse::<i64>().ok())
                    && !value.trim().is_empty()
                {
                    values.skills.push((id, value));
                }
            }
        }
    }
    let mut skills = Vec::new();
    for (id, level) in &values.skills {
        match level.trim().parse::<i64>() {
            Ok(level) => skills.push((*id, level)),
            Err(_) => drop(errors.insert("skills", "Skill levels go from 1 to 5.".into())),
        }
    }
    let input = TaskInput {
        title: values.title.clone(),
        description: values.description.clone(),
        project_id: values.project_id,
        assignee_ids: values.assignee_ids.clone(),
        due: values.due.clone(),
        zone,
        priority: values.priority.clone(),
        estimated_hours: values.estimated_hours.clone(),
        difficulty: values.difficulty.clone(),
        skills,
    };
    (values, input, errors, version)
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    task_id: Option<i64>,
    version: Option<i32>,
    form: FormValues,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let choices = assign::choices(&state.db, &user.actor).await?;
    let kept = match task_id {
        Some(id) => assign::kept_assignees(&state.db, &user.actor, id).await?,
        None => Vec::new(),
    };
    let title = if task_id.is_some() { "Edit task" } else { "Assign a task" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = FormPage {
        layout: Layout::for_user(user, title, "assign", None),
        task_id,
        version,
        form,
        errors,
        choices,
        kept,
        priorities: priorities(),
    };
    crate::http::render::html_status(status, &page)
}

/// GET /tasks/new: the assign form.
pub async fn new_form(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let form = FormValues {
        priority: "MEDIUM".into(),
        difficulty: "5".into(),
        estimated_hours: "4".into(),
        ..FormValues::default()
    };
    form_page(&state, &user, None, None, form, FieldErrors::new()).await
}

/// POST /tasks/new: creates the task, or shows every field error with what
/// was typed.
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (values, input, mut errors, _) = read_form(form.into_inner(), user.zone);
    let result = if errors.is_empty() {
        assign::create(&state.db, &state.bus, &user.actor, input).await
    } else {
        Err(ServiceError::Invalid(FieldErrors::new()))
    };
    match result {
        Ok(id) => Ok(flash::redirect(&format!("/tasks/{id}"), Level::Success, "Task created and assigned.")),
        Err(ServiceError::Invalid(more)) => {
            errors.extend(more);
            form_page(&state, &user, None, None, values, errors).await
        }
        Err(err) => Err(err.into()),
    }
}

/// GET /tasks/{id}/edit: the form filled with the task.
pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let card = task_views::card(&state.db, &state.hub, &user.actor, task_id, Some(0)).await?;
    let skills = task_views::skills(&state.db, task_id).await?;
    let task = &card.task;
    let form = FormValues {
        title: task.title.clone(),
        description: task.description.clone(),
        project_id: task.project_id,
        assignee_ids: card.assignees.iter().map(|a| a.user_id).collect(),
        due: task.due_at.map(|d| crate::domain::task_form::due_input(d, user.zone)).unwrap_or_default(),
        priority: task.priority.clone(),
        estimated_hours: task.estimated_hours.to_string(),
        difficulty: task.difficulty.to_string(),
        skills: skills.into_iter().map(|(id, _, level)| (id, level.to_string())).collect(),
    };
    form_page(&state, &user, Some(task_id), Some(task.version), form, FieldErrors::new()).await
}

/// POST /tasks/{id}/edit: saves the edit and the reassignment.
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let task_id = path.into_inner();
    let (values, input, mut errors, version) = read_form(form.into_inner(), user.zone);
    let version = parse_version(version.as_deref())?;
    let result = if errors.is_empty() {
        assign::update(&state.db, &state.bus, &user.actor, task_id, version, input).await
    } else {
        Err(ServiceError::Invalid(FieldErrors::new()))
    };
    match result {
        Ok(()) => Ok(flash::redirect(&format!("/tasks/{task_id}"), Level::Success, "Task saved.")),
        Err(ServiceError::Invalid(more)) => {
            errors.extend(more);
            form_page(&state, &user, Some(task_id), version, values, errors).await
        }
        Err(ServiceError::Stale { current, .. }) => {
            errors.insert("title", "This task changed meanwhile; reload the form to see the current version.".into());
            let version = current["version"].as_i64().and_then(|v| i32::try_from(v).ok());
            form_page(&state, &user, Some(task_id), version.or(Some(0)), values, errors).await.map(|mut r| {
                *r.status_mut() = StatusCode::CONFLICT;
                r
            })
        }
        Err(err) => Err(err.into()),
    }
}
