//! Test data for the task API, made directly through the services on
//! `app.db` (no HTTP): users in chosen teams, tasks with chosen assignees,
//! priority and due date, and readers of the stored task, its assignments
//! and its trail, to check what a request wrote (or did not write).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use taskpulse::db::DbError;
use taskpulse::domain::role::Role;
use taskpulse::schema::{assignments, idempotency_keys, jobs, notifications, task_progress, tasks};
use taskpulse::services::{Actor, ServiceError, assign, progress};
use taskpulse::store::{tasks as task_store, users};

use super::app::{TestApp, TestUser};

/// The service actor for a test user (as the access middleware builds it
/// from the stored user).
pub async fn actor_for(app: &TestApp, user: &TestUser) -> Actor {
    let id = user.id;
    let stored =
        app.db.read(move |c| Ok::<_, DbError>(users::find(c, id)?)).await.expect("read user").expect("user exists");
    Actor::from_user(&stored).expect("known role")
}

/// Creates a user of `role` in `team` (None: no team).
pub async fn user_in_team(app: &TestApp, username: &str, role: Role, team: Option<&str>) -> TestUser {
    app.create_user_in(username, role, team).await
}

/// What a task is created with.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub title: String,
    pub description: String,
    pub assignees: Vec<i64>,
    pub priority: &'static str,
    /// `YYYY-MM-DDTHH:MM` (UTC) or empty.
    pub due: String,
}

impl TaskSpec {
    /// A MEDIUM task without due date assigned to `assignees`.
    pub fn new(title: &str, assignees: &[&TestUser]) -> TaskSpec {
        TaskSpec {
            title: title.into(),
            description: format!("About {title}"),
            assignees: assignees.iter().map(|u| u.id).collect(),
            priority: "MEDIUM",
            due: String::new(),
        }
    }

    pub fn priority(mut self, priority: &'static str) -> TaskSpec {
        self.priority = priority;
        self
    }

    pub fn due(mut self, due: &str) -> TaskSpec {
        self.due = due.into();
        self
    }
}

/// Creates a task through the assignment service as `creator` (an admin or
/// manager, or a lead within their team); returns its id.
pub async fn create_task(app: &TestApp, creator: &TestUser, spec: TaskSpec) -> i64 {
    try_create_task(app, creator, spec).await.expect("task created")
}

/// Same, returning the service's answer.
pub async fn try_create_task(app: &TestApp, creator: &TestUser, spec: TaskSpec) -> Result<i64, ServiceError> {
    let actor = actor_for(app, creator).await;
    let input = assign::TaskInput {
        title: spec.title,
        description: spec.description,
        project_id: None,
        assignee_ids: spec.assignees,
        due: spec.due,
        zone: chrono_tz::UTC,
        priority: spec.priority.into(),
        estimated_hours: "4".into(),
        difficulty: "5".into(),
        skills: Vec::new(),
    };
    // Through the app's own bus, so open pages see the new task.
    assign::create(&app.db, &app.bus, &actor, input).await
}

/// Moves a task's due time (e.g. into the past, which creation refuses).
pub async fn set_due(app: &TestApp, task_id: i64, due: NaiveDateTime) {
    app.db
        .write(move |c| {
            Ok::<_, DbError>(diesel::update(tasks::table.find(task_id)).set(tasks::due_at.eq(Some(due))).execute(c)?)
        })
        .await
        .expect("due date set");
}

/// The stored task.
pub async fn task(app: &TestApp, task_id: i64) -> task_store::Task {
    app.db
        .read(move |c| Ok::<_, DbError>(task_store::find(c, task_id)?))
        .await
        .expect("read task")
        .expect("task exists")
}

/// Whether a task with this id exists.
pub async fn task_exists(app: &TestApp, task_id: i64) -> bool {
    app.db.read(move |c| Ok::<_, DbError>(task_store::find(c, task_id)?)).await.expect("read task").is_some()
}

/// One stored trail row.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct TrailEntry {
    pub id: i64,
    pub task_id: i64,
    pub user_id: Option<i64>,
    pub previous_progress: i32,
    pub new_progress: i32,
    pub previous_status: String,
    pub new_status: String,
    pub notes: String,
    pub occupancy_status: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A task's trail, oldest first (by id).
pub async fn trail(app: &TestApp, task_id: i64) -> Vec<TrailEntry> {
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                task_progress::table
                    .filter(task_progress::task_id.eq(task_id))
                    .select((
                        task_progress::id,
                        task_progress::task_id,
                        task_progress::user_id,
                        task_progress::previous_progress,
                        task_progress::new_progress,
                        task_progress::previous_status,
                        task_progress::new_status,
                        task_progress::notes,
                        task_progress::occupancy_status,
                        task_progress::created_at,
                    ))
                    .order(task_progress::id.asc())
                    .load(c)?,
            )
        })
        .await
        .expect("read trail")
}

/// Per-assignee statuses of a task as (user id, status, completed at), by user id.
pub async fn assignment_states(app: &TestApp, task_id: i64) -> Vec<(i64, String, Option<NaiveDateTime>)> {
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                assignments::table
                    .filter(assignments::task_id.eq(task_id))
                    .select((assignments::user_id, assignments::status, assignments::completed_at))
                    .order(assignments::user_id.asc())
                    .load(c)?,
            )
        })
        .await
        .expect("read assignments")
}

/// A task's mutable state: (id, progress, status, version, completed at,
/// last progress update).
pub type TaskState = (i64, i32, String, i32, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// Everything a task request may write, to compare before and after a
/// refused request.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub trail_rows: i64,
    pub idempotency_keys: i64,
    /// Every task, by id.
    pub tasks: Vec<TaskState>,
    pub assignments: Vec<(i64, String, Option<NaiveDateTime>)>,
}

/// Snapshot of [`Written`].
pub async fn written(app: &TestApp) -> Written {
    app.db
        .read(|c| {
            Ok::<_, DbError>(Written {
                trail_rows: task_progress::table.count().get_result(c)?,
                idempotency_keys: idempotency_keys::table.count().get_result(c)?,
                tasks: tasks::table
                    .select((
                        tasks::id,
                        tasks::progress,
                        tasks::status,
                        tasks::version,
                        tasks::completed_at,
                        tasks::last_progress_update_at,
                    ))
                    .order(tasks::id.asc())
                    .load(c)?,
                assignments: assignments::table
                    .select((assignments::id, assignments::status, assignments::completed_at))
                    .order(assignments::id.asc())
                    .load(c)?,
            })
        })
        .await
        .expect("snapshot")
}

/// A bearer-token client for one user.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// A client signed in with a fresh token of `user`.
    pub async fn for_user(app: &TestApp, user: &TestUser) -> Api {
        Api { client: reqwest::Client::new(), base: app.address.clone(), token: app.token_for(user).await }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&self.token)
    }

    /// GET and decode the JSON answer; returns (status, body).
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        send(self.get(path)).await
    }

    /// POST /api/task/{id}/progress/ with a JSON body.
    pub async fn progress(&self, task_id: i64, body: serde_json::Value) -> (u16, serde_json::Value) {
        send(self.post(&format!("/api/task/{task_id}/progress/")).json(&body)).await
    }

    /// POST /api/task/{id}/complete/ without a body.
    pub async fn complete(&self, task_id: i64) -> (u16, serde_json::Value) {
        send(self.post(&format!("/api/task/{task_id}/complete/"))).await
    }
}

/// Sends a request and decodes its JSON answer (Null for an empty body).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {text}"))
    };
    (status, json)
}

/// Asserts the API error shape `{"error": "...", "details": {...}}` and the status.
#[track_caller]
pub fn assert_api_error(answer: &(u16, serde_json::Value), status: u16, what: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{what}: status (body {body})");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: error message in {body}");
    assert!(body["details"].is_object(), "{what}: details object in {body}");
    let keys: Vec<&String> = body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys.len(), 2, "{what}: only error and details in {body}");
}

/// Sets ON_HOLD or CANCELLED (or lifts them) through the status service
/// as `by` (an admin or manager).
pub async fn set_status(app: &TestApp, by: &TestUser, task_id: i64, status: &str) {
    let actor = actor_for(app, by).await;
    progress::set_status(&app.db, &app.bus, &actor, task_id, status, "set by a test", None).await.expect("status set");
}

/// Runs a built-in job kind inline, as a worker would at this moment (its
/// live events go nowhere).
pub async fn run_kind_with(
    app: &TestApp,
    kind: &str,
    payload: serde_json::Value,
    settings: taskpulse::jobs::JobSettings,
) -> taskpulse::jobs::HandlerResult {
    let ctx = taskpulse::jobs::JobContext {
        db: app.db.clone(),
        bus: taskpulse::live::LiveBus::default(),
        now: taskpulse::db::now(),
        job_id: 0,
        attempt: 1,
        settings,
    };
    taskpulse::jobs::kinds::handlers()[kind](ctx, payload).await
}

/// Drops every notification and queued email delivery so far: the
/// "assigned" notes that creating tasks sends, for tests about other notes.
pub async fn forget_notifications(app: &TestApp) {
    app.db
        .write(|c| {
            diesel::delete(notifications::table).execute(c)?;
            diesel::delete(jobs::table.filter(jobs::kind.eq("deliver-email"))).execute(c)?;
            Ok::<_, DbError>(())
        })
        .await
        .expect("forget notifications");
}
