//! The task API of seed 004 (issue 3): the contract of the four endpoints,
//! status following progress with exactly one trail row per change,
//! idempotency keys, stale versions, concurrent updates, access to foreign
//! tasks, and bad input (a clear 4xx and nothing written).

use std::collections::BTreeSet;

use rand::Rng;
use serde_json::{Value, json};
use taskpulse::domain::role::Role;

use crate::both_backends;
use crate::support::*;

/// Sends a request; returns (status, headers, JSON body).
async fn send_full(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON answer") };
    (status, headers, body)
}

/// Sends every request at once (each on its own task); answers in order.
async fn all_at_once(requests: Vec<reqwest::RequestBuilder>) -> Vec<(u16, reqwest::header::HeaderMap, Value)> {
    let handles: Vec<_> = requests.into_iter().map(|r| tokio::spawn(send_full(r))).collect();
    let mut answers = Vec::with_capacity(handles.len());
    for handle in handles {
        answers.push(handle.await.expect("request task"));
    }
    answers
}

fn ids_of(body: &Value) -> BTreeSet<i64> {
    body["tasks"].as_array().expect("tasks array").iter().map(|t| t["id"].as_i64().expect("id")).collect()
}

fn find_task(body: &Value, id: i64) -> &Value {
    body["tasks"].as_array().expect("tasks array").iter().find(|t| t["id"] == id).expect("task listed")
}

fn success(task_id: i64, progress: i32, status: &str, version: i32) -> (u16, Value) {
    (
        200,
        json!({"status": "success", "task_id": task_id, "new_progress": progress, "task_status": status, "version": version}),
    )
}

fn implied_status(progress: i32) -> &'static str {
    match progress {
        0 => "PENDING",
        100 => "DONE",
        _ => "IN_PROGRESS",
    }
}

fn progress_path(task_id: i64) -> String {
    format!("/api/task/{task_id}/progress/")
}

fn complete_path(task_id: i64) -> String {
    format!("/api/task/{task_id}/complete/")
}

both_backends! {
    async fn employee_tasks_lists_only_the_callers_tasks_with_the_seed_fields(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let dashboard = create_task(&app, &admin, TaskSpec::new("Create Dashboard", &[&ann]).priority("HIGH").due("2030-01-20T10:30")).await;
        let bobs = create_task(&app, &admin, TaskSpec::new("Bob's own", &[&bob])).await;
        let shared = create_task(&app, &admin, TaskSpec::new("Shared", &[&ann, &bob]).priority("URGENT")).await;

        let ann_api = Api::for_user(&app, &ann).await;
        let (status, body) = ann_api.get_json("/api/employee-tasks/").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["tasks"]);
        assert_eq!(ids_of(&body), BTreeSet::from([dashboard, shared]), "only ann's tasks");
        let task = find_task(&body, dashboard);
        assert_eq!(task["title"], "Create Dashboard");
        assert_eq!(task["progress_percentage"], 0);
        assert_eq!(task["status"], "PENDING");
        assert_eq!(task["priority"], "HIGH");
        assert_eq!(task["due_date"], "2030-01-20");
        assert_eq!(task["due_at"], "2030-01-20T10:30:00Z");
        assert_eq!(task["is_overdue"], false);
        assert_eq!(task["version"], 1);
        assert!(task.get("assignees").is_none(), "the employee list carries no assignee details");
        let task = find_task(&body, shared);
        assert_eq!((&task["priority"], &task["due_date"]), (&json!("URGENT"), &Value::Null));

        // Progress shows in every assignee's list; the status filter works.
        assert_eq!(ann_api.progress(shared, json!({"progress_percentage": 30})).await.0, 200);
        let bob_api = Api::for_user(&app, &bob).await;
        let (_, body) = bob_api.get_json("/api/employee-tasks/").await;
        assert_eq!(ids_of(&body), BTreeSet::from([bobs, shared]));
        let task = find_task(&body, shared);
        assert_eq!((&task["progress_percentage"], &task["status"]), (&json!(30), &json!("IN_PROGRESS")));
        let (_, body) = ann_api.get_json("/api/employee-tasks/?status=IN_PROGRESS").await;
        assert_eq!(ids_of(&body), BTreeSet::from([shared]));
        let (_, body) = ann_api.get_json("/api/employee-tasks/?status=PENDING").await;
        assert_eq!(ids_of(&body), BTreeSet::from([dashboard]));

        // Overdue open tasks are flagged.
        set_due(&app, dashboard, chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(9, 0, 0).unwrap()).await;
        let (_, body) = ann_api.get_json("/api/employee-tasks/").await;
        assert_eq!(find_task(&body, dashboard)["is_overdue"], true);

        // Someone without tasks (even an admin) gets an empty list.
        let (status, body) = Api::for_user(&app, &admin).await.get_json("/api/employee-tasks/").await;
        assert_eq!((status, body), (200, json!({"tasks": []})));

        // Bad queries and no token.
        let answer = ann_api.get_json("/api/employee-tasks/?status=BOGUS").await;
        assert_api_error(&answer, 422, "unknown status");
        assert!(answer.1["details"]["status"].is_string());
        assert_api_error(&ann_api.get_json("/api/employee-tasks/?colour=red").await, 400, "unknown parameter");
        let answer = send(reqwest::Client::new().get(app.url("/api/employee-tasks/"))).await;
        assert_api_error(&answer, 401, "no token");
    }

    async fn progress_answers_the_seed_shape_and_status_follows_progress(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Design", &[&ann, &bob])).await;
        let api = Api::for_user(&app, &ann).await;
        assert_eq!(trail(&app, t).await.len(), 1, "the creation row");

        let steps = [(1, "IN_PROGRESS"), (99, "IN_PROGRESS"), (0, "PENDING"), (75, "IN_PROGRESS"), (100, "DONE")];
        let (mut previous, mut previous_status) = (0, "PENDING");
        for (i, (value, status)) in steps.into_iter().enumerate() {
            let version = i as i32 + 2;
            let notes = format!("step {i}");
            let (code, headers, body) = send_full(
                api.post(&progress_path(t))
                    .json(&json!({"progress_percentage": value, "notes": notes, "occupancy_status": "ACTIVE"})),
            )
            .await;
            assert_eq!((code, body), success(t, value, status, version), "step {i}");
            assert_eq!(headers.get("etag").unwrap(), &format!("\"{version}\""));
            assert!(headers.get("idempotent-replayed").is_none());

            let rows = trail(&app, t).await;
            assert_eq!(rows.len(), i + 2, "exactly one trail row per change");
            let row = rows.last().unwrap();
            assert_eq!(
                (row.previous_progress, row.new_progress, row.previous_status.as_str(), row.new_status.as_str()),
                (previous, value, previous_status, status),
                "step {i}"
            );
            assert_eq!((row.user_id, row.notes.as_str(), row.occupancy_status.as_deref()), (Some(ann.id), notes.as_str(), Some("ACTIVE")));
            let stored = task(&app, t).await;
            assert_eq!((stored.progress, stored.status.as_str(), stored.version), (value, status, version));
            assert_eq!(stored.last_progress_updated_by, Some(ann.id));
            assert_eq!(stored.last_progress_update_at, Some(row.created_at));
            let per_assignee = match status {
                "PENDING" => "assigned",
                "IN_PROGRESS" => "in_progress",
                _ => "completed",
            };
            if status == "DONE" {
                assert_eq!(stored.completed_at, Some(row.created_at), "completion time set");
            } else {
                assert_eq!(stored.completed_at, None);
            }
            for (user, state, completed) in assignment_states(&app, t).await {
                assert_eq!(state, per_assignee, "assignment of {user}");
                assert_eq!(completed, stored.completed_at);
            }
            (previous, previous_status) = (value, status);
        }

        // A DONE task goes back only through an admin or manager.
        let before = written(&app).await;
        let answer = api.progress(t, json!({"progress_percentage": 40})).await;
        assert_api_error(&answer, 409, "employee reopening");
        assert_eq!(written(&app).await, before, "nothing written");
        let admin_api = Api::for_user(&app, &admin).await;
        assert_eq!(admin_api.progress(t, json!({"progress_percentage": 40})).await, success(t, 40, "IN_PROGRESS", 7));
        let row = trail(&app, t).await.pop().unwrap();
        assert_eq!((row.previous_progress, row.new_progress, row.previous_status.as_str(), row.new_status.as_str()), (100, 40, "DONE", "IN_PROGRESS"));
        assert_eq!((row.user_id, row.notes.as_str(), row.occupancy_status), (Some(admin.id), "", None));
        assert_eq!(task(&app, t).await.completed_at, None, "reopening clears the completion time");

        // ON_HOLD stays until lifted, except that 100 % completes the task;
        // a CANCELLED task does not move.
        set_status(&app, &admin, t, "ON_HOLD").await;
        assert_eq!(api.progress(t, json!({"progress_percentage": 60})).await, success(t, 60, "ON_HOLD", 9));
        assert_eq!(api.progress(t, json!({"progress_percentage": 100})).await, success(t, 100, "DONE", 10));
        let other = create_task(&app, &admin, TaskSpec::new("Dropped", &[&ann])).await;
        set_status(&app, &admin, other, "CANCELLED").await;
        let before = written(&app).await;
        assert_api_error(&api.progress(other, json!({"progress_percentage": 10})).await, 409, "cancelled");
        assert_api_error(&api.complete(other).await, 409, "cancelled");
        assert_eq!(written(&app).await, before, "nothing written");
    }

    async fn complete_sets_100_done_and_the_completion_time(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Report", &[&ann, &bob])).await;
        let api = Api::for_user(&app, &ann).await;
        assert_eq!(api.progress(t, json!({"progress_percentage": 40})).await.0, 200);

        // No body at all.
        assert_eq!(api.complete(t).await, success(t, 100, "DONE", 3));
        let stored = task(&app, t).await;
        let row = trail(&app, t).await.pop().unwrap();
        assert_eq!(trail(&app, t).await.len(), 3);
        assert_eq!((row.previous_progress, row.new_progress, row.previous_status.as_str(), row.new_status.as_str()), (40, 100, "IN_PROGRESS", "DONE"));
        assert_eq!((stored.progress, stored.status.as_str()), (100, "DONE"));
        assert_eq!(stored.completed_at, Some(row.created_at), "completion time set");
        assert_eq!(stored.last_progress_updated_by, Some(ann.id));
        assert_eq!(assignment_states(&app, t).await, vec![
            (ann.id, "completed".to_string(), stored.completed_at),
            (bob.id, "completed".to_string(), stored.completed_at),
        ]);

        // Completing again keeps the first completion time.
        assert_eq!(Api::for_user(&app, &bob).await.complete(t).await, success(t, 100, "DONE", 4));
        assert_eq!(task(&app, t).await.completed_at, stored.completed_at);

        // With notes and occupancy, straight from PENDING.
        let second = create_task(&app, &admin, TaskSpec::new("Quick fix", &[&ann])).await;
        let answer = send(api.post(&complete_path(second)).json(&json!({"notes": "shipped", "occupancy_status": "IDLE"}))).await;
        assert_eq!(answer, success(second, 100, "DONE", 2));
        let row = trail(&app, second).await.pop().unwrap();
        assert_eq!((row.previous_progress, row.previous_status.as_str(), row.notes.as_str(), row.occupancy_status.as_deref()), (0, "PENDING", "shipped", Some("IDLE")));
        assert!(task(&app, second).await.completed_at.is_some());
        // An empty JSON object is fine too.
        let third = create_task(&app, &admin, TaskSpec::new("Third", &[&ann])).await;
        assert_eq!(send(api.post(&complete_path(third)).json(&json!({}))).await, success(third, 100, "DONE", 2));
    }

    async fn admin_task_status_shows_assignees_last_update_and_counts(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let manager = app.create_user("manager", Role::Manager).await;
        let lead_a = app.create_user("lead-a", Role::Lead).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let lead_b = user_in_team(&app, "lead-b", Role::Lead, Some("Beta")).await;
        let bea = user_in_team(&app, "bea", Role::Employee, Some("Beta")).await;
        let ta = create_task(&app, &admin, TaskSpec::new("Alpha work", &[&ann]).priority("HIGH").due("2031-05-06T07:08")).await;
        let tb = create_task(&app, &admin, TaskSpec::new("Beta work", &[&bea]).priority("LOW")).await;
        let tab = create_task(&app, &admin, TaskSpec::new("Joint work", &[&ann, &bea])).await;
        let ann_api = Api::for_user(&app, &ann).await;
        assert_eq!(ann_api.progress(ta, json!({"progress_percentage": 60, "notes": "half", "occupancy_status": "ACTIVE"})).await.0, 200);
        assert_eq!(Api::for_user(&app, &bea).await.complete(tb).await.0, 200);

        let admin_api = Api::for_user(&app, &admin).await;
        let (status, body) = admin_api.get_json("/api/admin/task-status/").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(ids_of(&body), BTreeSet::from([ta, tb, tab]));
        assert_eq!(body["counts"], json!({"total": 3, "pending": 1, "in_progress": 1, "on_hold": 0, "done": 1, "cancelled": 0, "overdue": 0}));
        assert_eq!((&body["page"], &body["per_page"], &body["pages"], &body["total"]), (&json!(1), &json!(50), &json!(1), &json!(3)));
        let task = find_task(&body, ta);
        assert_eq!(task["title"], "Alpha work");
        assert_eq!(task["progress_percentage"], 60);
        assert_eq!(task["status"], "IN_PROGRESS");
        assert_eq!(task["priority"], "HIGH");
        assert_eq!(task["due_date"], "2031-05-06");
        assert_eq!(task["assignees"], json!([{"user_id": ann.id, "username": "ann", "full_name": "ann Person", "status": "in_progress", "occupancy_status": "OFFLINE"}]));
        let last = &task["last_update"];
        assert_eq!((&last["previous_progress"], &last["new_progress"]), (&json!(0), &json!(60)));
        assert_eq!((&last["previous_status"], &last["new_status"]), (&json!("PENDING"), &json!("IN_PROGRESS")));
        assert_eq!((&last["notes"], &last["occupancy_status"], &last["by"]), (&json!("half"), &json!("ACTIVE"), &json!("ann Person")));
        assert!(last["at"].as_str().is_some_and(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok()), "{last}");
        let joint = find_task(&body, tab);
        let usernames: Vec<&str> = joint["assignees"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
        assert_eq!(usernames, ["ann", "bea"]);
        assert_eq!(joint["last_update"]["notes"], "Created and assigned to ann Person, bea Person");
        assert_eq!(find_task(&body, tb)["assignees"][0]["status"], "completed");

        // A manager sees everything, a lead their team.
        let (_, body) = Api::for_user(&app, &manager).await.get_json("/api/admin/task-status/").await;
        assert_eq!(ids_of(&body), BTreeSet::from([ta, tb, tab]));
        let (_, body) = Api::for_user(&app, &lead_a).await.get_json("/api/admin/task-status/").await;
        assert_eq!(ids_of(&body), BTreeSet::from([ta, tab]));
        assert_eq!(body["counts"]["total"], 2);
        let (_, body) = Api::for_user(&app, &lead_b).await.get_json("/api/admin/task-status/").await;
        assert_eq!(ids_of(&body), BTreeSet::from([tb, tab]));
        assert_eq!(body["counts"]["done"], 1);

        // Filters; the counters ignore the status filter.
        let (_, body) = admin_api.get_json("/api/admin/task-status/?status=IN_PROGRESS").await;
        assert_eq!((ids_of(&body), &body["total"], &body["counts"]["total"]), (BTreeSet::from([ta]), &json!(1), &json!(3)));
        let (_, body) = admin_api.get_json("/api/admin/task-status/?priority=LOW").await;
        assert_eq!(ids_of(&body), BTreeSet::from([tb]));
        let (_, body) = admin_api.get_json(&format!("/api/admin/task-status/?assignee={}", bea.id)).await;
        assert_eq!(ids_of(&body), BTreeSet::from([tb, tab]));
        let beta = actor_for(&app, &bea).await.team_id.expect("bea has a team");
        let (_, body) = admin_api.get_json(&format!("/api/admin/task-status/?team={beta}")).await;
        assert_eq!(ids_of(&body), BTreeSet::from([tb, tab]));

        // Overdue counting.
        set_due(&app, tab, chrono::NaiveDate::from_ymd_opt(2020, 2, 3).unwrap().and_hms_opt(4, 5, 6).unwrap()).await;
        let (_, body) = admin_api.get_json("/api/admin/task-status/").await;
        assert_eq!(body["counts"]["overdue"], 1);
        assert_eq!(find_task(&body, tab)["is_overdue"], true);
        assert_eq!(find_task(&body, ta)["is_overdue"], false);

        // Employees are refused; so are bad queries and missing tokens.
        assert_api_error(&ann_api.get_json("/api/admin/task-status/").await, 403, "employee");
        assert_api_error(&admin_api.get_json("/api/admin/task-status/?priority=SOON").await, 422, "unknown priority");
        assert_api_error(&admin_api.get_json("/api/admin/task-status/?status=LATE").await, 422, "unknown status");
        assert_api_error(&admin_api.get_json("/api/admin/task-status/?sort=id").await, 400, "unknown parameter");
        assert_api_error(&admin_api.get_json("/api/admin/task-status/?page=first").await, 422, "page not a number");
        assert_api_error(&send(reqwest::Client::new().get(app.url("/api/admin/task-status/"))).await, 401, "no token");
    }

    async fn admin_task_status_pages_large_sets(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let lead = app.create_user("lead", Role::Lead).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let mut all = BTreeSet::new();
        for i in 0..120 {
            let priority = ["LOW", "MEDIUM", "HIGH", "URGENT"][i % 4];
            all.insert(create_task(&app, &admin, TaskSpec::new(&format!("Task {i:03}"), &[&ann]).priority(priority)).await);
        }
        for api in [Api::for_user(&app, &admin).await, Api::for_user(&app, &lead).await] {
            let mut seen = Vec::new();
            for page in 1..=3 {
                let (status, body) = api.get_json(&format!("/api/admin/task-status/?page={page}&per_page=50")).await;
                assert_eq!(status, 200, "{body}");
                assert_eq!((&body["page"], &body["per_page"], &body["pages"], &body["total"]), (&json!(page), &json!(50), &json!(3), &json!(120)));
                assert_eq!(body["counts"]["total"], 120);
                assert_eq!(body["tasks"].as_array().unwrap().len(), if page < 3 { 50 } else { 20 });
                seen.extend(ids_of(&body));
            }
            assert_eq!(seen.len(), 120, "no task on two pages");
            assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all, "every task on some page");
            let (_, body) = api.get_json("/api/admin/task-status/?page=4&per_page=50").await;
            assert_eq!((body["tasks"].as_array().unwrap().len(), &body["total"]), (0, &json!(120)), "past the end");
        }
        let api = Api::for_user(&app, &admin).await;
        // The default page size and the bounds of page and per_page.
        let (_, body) = api.get_json("/api/admin/task-status/").await;
        assert_eq!((body["tasks"].as_array().unwrap().len(), &body["pages"]), (50, &json!(3)));
        let (_, body) = api.get_json("/api/admin/task-status/?per_page=200").await;
        assert_eq!((&body["per_page"], body["tasks"].as_array().unwrap().len()), (&json!(200), 120));
        // Out of range is a 422 naming the field, as everywhere in the API.
        assert_api_error(&api.get_json("/api/admin/task-status/?per_page=100000").await, 422, "per_page too large");
        assert_api_error(&api.get_json("/api/admin/task-status/?per_page=0&page=0").await, 422, "page and per_page zero");
        // Paging within a filter.
        let (_, body) = api.get_json("/api/admin/task-status/?priority=URGENT&per_page=20&page=2").await;
        assert_eq!((&body["total"], &body["pages"], body["tasks"].as_array().unwrap().len()), (&json!(30), &json!(2), 10));
        assert!(body["tasks"].as_array().unwrap().iter().all(|t| t["priority"] == "URGENT"));
        assert_api_error(&api.get_json("/api/admin/task-status/?per_page=ten").await, 422, "per_page not a number");
    }

    async fn idempotency_keys_replay_the_first_answer_and_refuse_other_bodies(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Retry me", &[&ann, &bob])).await;
        let other = create_task(&app, &admin, TaskSpec::new("Another", &[&ann])).await;
        let api = Api::for_user(&app, &ann).await;
        let keyed = |key: &str, body: Value| api.post(&progress_path(t)).header("Idempotency-Key", key).json(&body);

        // Five sequential replays.
        let before = written(&app).await;
        let body = json!({"progress_percentage": 30, "notes": "first", "occupancy_status": "ACTIVE"});
        let mut answers = Vec::new();
        for _ in 0..5 {
            answers.push(send_full(keyed("seq-1", body.clone())).await);
        }
        let first = success(t, 30, "IN_PROGRESS", 2);
        for (i, (status, headers, answer)) in answers.iter().enumerate() {
            assert_eq!((*status, answer.clone()), first, "answer {i}");
            assert_eq!(headers.get("etag").unwrap(), "\"2\"");
            assert_eq!(headers.get("idempotent-replayed").is_some(), i > 0, "answer {i}");
        }
        let after = written(&app).await;
        assert_eq!((after.trail_rows, after.idempotency_keys), (before.trail_rows + 1, before.idempotency_keys + 1));
        assert_eq!(task(&app, t).await.version, 2);

        // Five at once, without and with a version.
        let answers = all_at_once((0..5).map(|_| keyed("conc-1", json!({"progress_percentage": 55}))).collect()).await;
        let version = task(&app, t).await.version;
        assert_eq!(version, 3);
        for (status, _, answer) in &answers {
            assert_eq!((*status, answer.clone()), success(t, 55, "IN_PROGRESS", 3));
        }
        assert_eq!(answers.iter().filter(|a| a.1.get("idempotent-replayed").is_none()).count(), 1, "one applied");
        for round in 0..4 {
            let version = task(&app, t).await.version;
            let value = 60 + round;
            let key = format!("conc-versioned-{round}");
            let requests = (0..5)
                .map(|_| keyed(&key, json!({"progress_percentage": value})).header("If-Match", format!("\"{version}\"")))
                .collect();
            for (status, _, answer) in all_at_once(requests).await {
                assert_eq!((status, answer), success(t, value, "IN_PROGRESS", version + 1), "round {round}");
            }
            assert_eq!(task(&app, t).await.version, version + 1);
        }
        let rows = trail(&app, t).await;
        assert_eq!(rows.len(), 1 + 1 + 1 + 4, "one trail row per distinct key");

        // The first answer stays even after the task moved on.
        assert_eq!(send(keyed("seq-1", body.clone())).await, first);

        // The same key with anything different is refused, nothing written.
        let before = written(&app).await;
        let different = [
            keyed("seq-1", json!({"progress_percentage": 31, "notes": "first", "occupancy_status": "ACTIVE"})),
            keyed("seq-1", json!({"progress_percentage": 30, "notes": "second", "occupancy_status": "ACTIVE"})),
            keyed("seq-1", json!({"progress_percentage": 30, "notes": "first"})),
            keyed("seq-1", body.clone()).header("If-Match", "\"2\""),
            api.post(&progress_path(other)).header("Idempotency-Key", "seq-1").json(&body),
            api.post(&complete_path(t)).header("Idempotency-Key", "seq-1"),
        ];
        for (i, request) in different.into_iter().enumerate() {
            let answer = send(request).await;
            assert_api_error(&answer, 422, &format!("different body {i}"));
            assert!(answer.1["details"]["idempotency_key"].is_string(), "{}", answer.1);
        }
        assert_eq!(written(&app).await, before, "nothing written");

        // Keys belong to their user: bob's "seq-1" is a new request.
        let bob_api = Api::for_user(&app, &bob).await;
        let answer = send(bob_api.post(&progress_path(t)).header("Idempotency-Key", "seq-1").json(&body)).await;
        assert_eq!(answer, success(t, 30, "IN_PROGRESS", 8));

        // A key beyond visible ASCII is still a key: never dropped silently.
        let before = written(&app).await;
        let utf8_key = reqwest::header::HeaderValue::from_bytes("clé-1".as_bytes()).unwrap();
        for i in 0..3 {
            let (status, headers, answer) = send_full(api.post(&progress_path(t)).header("Idempotency-Key", utf8_key.clone()).json(&json!({"progress_percentage": 35}))).await;
            assert_eq!((status, answer), success(t, 35, "IN_PROGRESS", 9), "UTF-8 key, call {i}");
            assert_eq!(headers.get("idempotent-replayed").is_some(), i > 0, "UTF-8 key, call {i}");
        }
        assert_eq!(written(&app).await.trail_rows, before.trail_rows + 1);
        let before = written(&app).await;
        let not_utf8 = reqwest::header::HeaderValue::from_bytes(b"cl\xe9-2").unwrap();
        let answer = send(api.post(&progress_path(t)).header("Idempotency-Key", not_utf8).json(&json!({"progress_percentage": 36}))).await;
        assert_api_error(&answer, 422, "key not UTF-8");
        assert!(answer.1["details"]["idempotency_key"].is_string(), "{}", answer.1);
        assert_eq!(written(&app).await, before, "nothing written");

        // Completion replays the same way.
        let before = written(&app).await;
        let requests = (0..5).map(|_| api.post(&complete_path(t)).header("Idempotency-Key", "done-1")).collect();
        for (status, _, answer) in all_at_once(requests).await {
            assert_eq!((status, answer), success(t, 100, "DONE", 10));
        }
        for _ in 0..5 {
            assert_eq!(send(api.post(&complete_path(t)).header("Idempotency-Key", "done-1")).await, success(t, 100, "DONE", 10));
        }
        assert_eq!(written(&app).await.trail_rows, before.trail_rows + 1);
    }

    async fn a_stale_version_gets_409_with_the_current_state(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Versioned", &[&ann])).await;
        let api = Api::for_user(&app, &ann).await;
        let (_, list) = api.get_json("/api/employee-tasks/").await;
        assert_eq!(find_task(&list, t)["version"], 1);

        let (status, headers, body) = send_full(api.post(&progress_path(t)).header("If-Match", "\"1\"").json(&json!({"progress_percentage": 10}))).await;
        assert_eq!((status, body), success(t, 10, "IN_PROGRESS", 2));
        assert_eq!(headers.get("etag").unwrap(), "\"2\"");

        let before = written(&app).await;
        let current = json!({"task_id": t, "progress_percentage": 10, "status": "IN_PROGRESS", "version": 2});
        let stale = [
            ("If-Match", api.post(&progress_path(t)).header("If-Match", "\"1\"").json(&json!({"progress_percentage": 20}))),
            ("bare If-Match", api.post(&progress_path(t)).header("If-Match", "1").json(&json!({"progress_percentage": 20}))),
            ("body version", api.post(&progress_path(t)).json(&json!({"progress_percentage": 20, "version": 1}))),
            ("future version", api.post(&progress_path(t)).json(&json!({"progress_percentage": 20, "version": 3}))),
            ("complete", api.post(&complete_path(t)).header("If-Match", "\"1\"")),
            ("complete body version", api.post(&complete_path(t)).json(&json!({"version": 1}))),
            ("keyed", api.post(&progress_path(t)).header("If-Match", "\"1\"").header("Idempotency-Key", "k1").json(&json!({"progress_percentage": 20}))),
        ];
        for (what, request) in stale {
            let answer = send(request).await;
            assert_api_error(&answer, 409, what);
            assert_eq!(answer.1["details"], json!({"current": current}), "{what}");
        }
        assert_eq!(written(&app).await, before, "nothing written");

        // The current version applies, in the body or as a (weak) ETag.
        assert_eq!(api.progress(t, json!({"progress_percentage": 20, "version": 2})).await, success(t, 20, "IN_PROGRESS", 3));
        let answer = send(api.post(&progress_path(t)).header("If-Match", "W/\"3\"").json(&json!({"progress_percentage": 25}))).await;
        assert_eq!(answer, success(t, 25, "IN_PROGRESS", 4));
        // Without a version the change applies to whatever is current.
        let other_api = Api::for_user(&app, &admin).await;
        assert_eq!(other_api.progress(t, json!({"progress_percentage": 70})).await.0, 200);
        assert_eq!(api.progress(t, json!({"progress_percentage": 30})).await, success(t, 30, "IN_PROGRESS", 6));
        let row = trail(&app, t).await.pop().unwrap();
        assert_eq!((row.previous_progress, row.new_progress), (70, 30), "applied to the current state");
        // `If-Match: *` matches whatever version is current.
        let answer = send(api.post(&progress_path(t)).header("If-Match", "*").json(&json!({"progress_percentage": 35}))).await;
        assert_eq!(answer, success(t, 35, "IN_PROGRESS", 7));

        // A version that is not a number is a bad request.
        let before = written(&app).await;
        let answer = send(api.post(&progress_path(t)).header("If-Match", "\"abc\"").json(&json!({"progress_percentage": 40}))).await;
        assert_api_error(&answer, 400, "If-Match not a version");
        assert_api_error(&api.progress(t, json!({"progress_percentage": 40, "version": "7"})).await, 400, "version a string");
        assert_eq!(written(&app).await, before, "nothing written");
    }

    async fn two_hundred_concurrent_updates_leave_a_gap_free_trail(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let lead = app.create_user("lead", Role::Lead).await;
        let mut assignees = Vec::new();
        for i in 0..4 {
            assignees.push(app.create_user(&format!("worker-{i}"), Role::Employee).await);
        }
        let t = create_task(&app, &admin, TaskSpec::new("Hot task", &assignees.iter().collect::<Vec<_>>())).await;
        let mut apis = Vec::new();
        for user in assignees.iter().chain([&lead]) {
            apis.push((user.id, Api::for_user(&app, user).await));
        }
        // Below 100: an employee cannot move a DONE task back.
        let values: Vec<i32> = {
            let mut rng = rand::thread_rng();
            (0..200).map(|_| rng.gen_range(0..100)).collect()
        };
        let requests = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let (_, api) = &apis[i % apis.len()];
                api.post(&progress_path(t)).json(&json!({"progress_percentage": value, "notes": format!("update {i}")}))
            })
            .collect();
        let answers = all_at_once(requests).await;
        let mut applied: Vec<(i64, i64)> = Vec::new();
        for (i, (status, _, body)) in answers.iter().enumerate() {
            assert_eq!(*status, 200, "update {i}: {body}");
            assert_eq!(body["new_progress"], values[i], "update {i}");
            applied.push((body["version"].as_i64().unwrap(), i as i64));
        }
        applied.sort_unstable();
        assert_eq!(applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(), (2..=201).collect::<Vec<_>>(), "each update got its own version");

        let rows = trail(&app, t).await;
        assert_eq!(rows.len(), 201, "the creation row and one per update");
        for pair in rows.windows(2) {
            let (prior, row) = (&pair[0], &pair[1]);
            assert_eq!(row.previous_progress, prior.new_progress, "row {} replaced row {}'s value", row.id, prior.id);
            assert_eq!(row.previous_status, prior.new_status, "row {}", row.id);
            assert_eq!(row.new_status, implied_status(row.new_progress), "row {}", row.id);
        }
        // The trail is in the order the versions were handed out.
        for ((_, i), row) in applied.iter().zip(&rows[1..]) {
            assert_eq!(row.notes, format!("update {i}"));
            assert_eq!(row.new_progress, values[*i as usize]);
            assert_eq!(row.user_id, Some(apis[*i as usize % apis.len()].0));
        }
        let stored = task(&app, t).await;
        let last = rows.last().unwrap();
        assert_eq!(stored.progress, last.new_progress, "final value = last trail row");
        assert_eq!(stored.status, last.new_status);
        assert_eq!(stored.version, 201);
    }

    async fn foreign_and_unknown_tasks_are_not_found_and_nothing_is_written(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let manager = app.create_user("manager", Role::Manager).await;
        let lead_a = app.create_user("lead-a", Role::Lead).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let carl = app.create_user("carl", Role::Employee).await;
        let lead_b = user_in_team(&app, "lead-b", Role::Lead, Some("Beta")).await;
        let bea = user_in_team(&app, "bea", Role::Employee, Some("Beta")).await;
        let loner = user_in_team(&app, "loner", Role::Lead, None).await;
        let t = create_task(&app, &admin, TaskSpec::new("Ann's", &[&ann])).await;
        assert_eq!(Api::for_user(&app, &ann).await.progress(t, json!({"progress_percentage": 10})).await.0, 200);
        let missing = t + 1000;
        assert!(!task_exists(&app, missing).await);

        let before = written(&app).await;
        for outsider in [&carl, &bea, &lead_b, &loner] {
            let api = Api::for_user(&app, outsider).await;
            let who = &outsider.username;
            assert_api_error(&api.progress(t, json!({"progress_percentage": 50})).await, 404, &format!("{who} progress"));
            assert_api_error(&api.complete(t).await, 404, &format!("{who} complete"));
            let keyed = api.post(&progress_path(t)).header("Idempotency-Key", "try").header("If-Match", "\"2\"").json(&json!({"progress_percentage": 50}));
            assert_api_error(&send(keyed).await, 404, &format!("{who} keyed"));
            let (_, mine) = api.get_json("/api/employee-tasks/").await;
            assert!(!ids_of(&mine).contains(&t), "{who} does not list it");
        }
        for user in [&lead_b, &loner] {
            let (_, body) = Api::for_user(&app, user).await.get_json("/api/admin/task-status/").await;
            assert!(!ids_of(&body).contains(&t), "{} does not monitor it", user.username);
        }
        // Unknown ids, for everyone including admins.
        let admin_api = Api::for_user(&app, &admin).await;
        for api in [&admin_api, &Api::for_user(&app, &ann).await] {
            assert_api_error(&api.progress(missing, json!({"progress_percentage": 50})).await, 404, "unknown progress");
            assert_api_error(&api.complete(missing).await, 404, "unknown complete");
            for path in ["/api/task/abc/progress/", "/api/task/-1/progress/", "/api/task/99999999999999999999/complete/"] {
                assert_api_error(&send(api.post(path).json(&json!({"progress_percentage": 50}))).await, 404, path);
            }
        }
        assert_eq!(written(&app).await, before, "nothing written");

        // The lead of the assignee's team, managers and admins may update.
        let answer = Api::for_user(&app, &lead_a).await.progress(t, json!({"progress_percentage": 20})).await;
        assert_eq!(answer, success(t, 20, "IN_PROGRESS", 3));
        assert_eq!(trail(&app, t).await.pop().unwrap().user_id, Some(lead_a.id));
        assert_eq!(Api::for_user(&app, &manager).await.progress(t, json!({"progress_percentage": 30})).await, success(t, 30, "IN_PROGRESS", 4));
        assert_eq!(admin_api.complete(t).await, success(t, 100, "DONE", 5));
    }

    async fn bad_values_are_refused_with_field_errors_and_nothing_written(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Validate me", &[&ann])).await;
        let api = Api::for_user(&app, &ann).await;
        assert_eq!(api.progress(t, json!({"progress_percentage": 40})).await.0, 200);
        let before = written(&app).await;

        let long_notes = "x".repeat(2_001);
        let cases: Vec<(&str, Value, &[&str])> = vec![
            ("-1", json!({"progress_percentage": -1}), &["progress_percentage"]),
            ("101", json!({"progress_percentage": 101}), &["progress_percentage"]),
            ("50.5", json!({"progress_percentage": 50.5}), &["progress_percentage"]),
            ("\"50\"", json!({"progress_percentage": "50"}), &["progress_percentage"]),
            ("true", json!({"progress_percentage": true}), &["progress_percentage"]),
            ("huge", json!({"progress_percentage": 4_294_967_346_i64}), &["progress_percentage"]),
            ("missing", json!({"notes": "no value"}), &["progress_percentage"]),
            ("null", json!({"progress_percentage": null}), &["progress_percentage"]),
            ("empty object", json!({}), &["progress_percentage"]),
            ("unknown occupancy", json!({"progress_percentage": 50, "occupancy_status": "BUSY"}), &["occupancy_status"]),
            ("lower-case occupancy", json!({"progress_percentage": 50, "occupancy_status": "active"}), &["occupancy_status"]),
            ("long notes", json!({"progress_percentage": 50, "notes": long_notes}), &["notes"]),
            ("control character", json!({"progress_percentage": 50, "notes": "bell\u{7}"}), &["notes"]),
            ("all at once", json!({"progress_percentage": 101, "notes": long_notes, "occupancy_status": "BUSY"}), &["notes", "occupancy_status", "progress_percentage"]),
        ];
        for (what, body, fields) in cases {
            let answer = api.progress(t, body).await;
            assert_api_error(&answer, 422, what);
            let details: Vec<&String> = answer.1["details"].as_object().unwrap().keys().collect();
            assert_eq!(details, fields, "{what}");
        }
        // Without a body at all the value is missing too.
        let answer = send(api.post(&progress_path(t))).await;
        assert_api_error(&answer, 422, "no body");
        assert!(answer.1["details"]["progress_percentage"].is_string());
        // Completion checks its optional fields the same way.
        assert_api_error(&send(api.post(&complete_path(t)).json(&json!({"occupancy_status": "BUSY"}))).await, 422, "complete occupancy");
        assert_api_error(&send(api.post(&complete_path(t)).json(&json!({"notes": long_notes}))).await, 422, "complete notes");
        // An idempotency key must be short and printable.
        let answer = send(api.post(&progress_path(t)).header("Idempotency-Key", "k".repeat(201)).json(&json!({"progress_percentage": 50}))).await;
        assert_api_error(&answer, 422, "long key");
        assert!(answer.1["details"]["idempotency_key"].is_string());
        assert_eq!(written(&app).await, before, "nothing written");

        // The limits themselves are accepted: notes of exactly 2,000
        // characters (not bytes), 0 and 100.
        let notes = "é".repeat(2_000);
        assert_eq!(api.progress(t, json!({"progress_percentage": 0, "notes": notes, "occupancy_status": "OFFLINE"})).await, success(t, 0, "PENDING", 3));
        assert_eq!(trail(&app, t).await.pop().unwrap().notes, notes);
        assert_eq!(api.progress(t, json!({"progress_percentage": 100})).await, success(t, 100, "DONE", 4));
    }

    async fn malformed_requests_and_missing_tokens_are_refused_and_nothing_written(app: TestApp) {
        let admin = app.create_user("admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let t = create_task(&app, &admin, TaskSpec::new("Guard me", &[&ann])).await;
        let api = Api::for_user(&app, &ann).await;
        assert_eq!(api.progress(t, json!({"progress_percentage": 40})).await.0, 200);
        let before = written(&app).await;
        let json_body = |body: &str| api.post(&progress_path(t)).header("Content-Type", "application/json").body(body.to_string());
        let big = format!("{{\"progress_percentage\": 50, \"notes\": \"{}\"}}", "x".repeat(70 * 1024));
        let huge = format!("{{\"progress_percentage\": 50, \"notes\": \"{}\"}}", "x".repeat(1024 * 1024));
        let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
            ("malformed JSON", json_body("{\"progress_percentage\": 50"), 400),
            ("not an object", json_body("[50]"), 400),
            ("trailing garbage", json_body("{\"progress_percentage\": 50} x"), 400),
            ("unknown field", json_body("{\"progress_percentage\": 50, \"colour\": \"red\"}"), 400),
            ("notes not text", json_body("{\"progress_percentage\": 50, \"notes\": 5}"), 400),
            ("text/plain", api.post(&progress_path(t)).header("Content-Type", "text/plain").body("{\"progress_percentage\": 50}"), 415),
            ("form", api.post(&progress_path(t)).form(&[("progress_percentage", "50")]), 415),
            ("no content type", api.post(&progress_path(t)).body("{\"progress_percentage\": 50}"), 415),
            ("complete, malformed", api.post(&complete_path(t)).header("Content-Type", "application/json").body("{"), 400),
            ("complete, unknown field", api.post(&complete_path(t)).json(&json!({"progress_percentage": 100, "done": true})), 400),
            ("complete, text/plain", api.post(&complete_path(t)).header("Content-Type", "text/plain").body("done"), 415),
            ("over the JSON limit", json_body(&big), 413),
            ("far over the limit", json_body(&huge), 413),
            ("complete, too large", api.post(&complete_path(t)).header("Content-Type", "application/json").body(big.clone()), 413),
        ];
        for (what, request, status) in cases {
            assert_api_error(&send(request).await, status, what);
        }

        // Authentication: a bearer token and nothing else.
        let client = reqwest::Client::new();
        let body = json!({"progress_percentage": 50});
        let unauthenticated = [
            ("no token", client.post(app.url(&progress_path(t))).json(&body)),
            ("wrong token", client.post(app.url(&progress_path(t))).bearer_auth("not-a-token").json(&body)),
            ("empty bearer", client.post(app.url(&progress_path(t))).header("Authorization", "Bearer ").json(&body)),
            ("other scheme", client.post(app.url(&progress_path(t))).header("Authorization", format!("Token {}", api.token)).json(&body)),
            ("complete without token", client.post(app.url(&complete_path(t)))),
        ];
        for (what, request) in unauthenticated {
            let (status, headers, answer) = send_full(request).await;
            assert_api_error(&(status, answer), 401, what);
            assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer", "{what}");
        }
        // A signed-in browser's session cookie (with its CSRF token) is not a token.
        let browser = app.browser_for(&ann).await;
        let with_cookie = |path: String| {
            browser.client.post(browser.url(&path)).header("Origin", &browser.base).header("X-CSRF-Token", &browser.csrf)
        };
        assert_api_error(&send(with_cookie(progress_path(t)).json(&body)).await, 401, "cookie progress");
        assert_api_error(&send(with_cookie(complete_path(t))).await, 401, "cookie complete");
        assert_api_error(&send(browser.client.get(browser.url("/api/employee-tasks/"))).await, 401, "cookie list");
        assert_eq!(written(&app).await, before, "nothing written");

        // The same client still works with proper requests.
        assert_eq!(api.progress(t, json!({"progress_percentage": 50})).await, success(t, 50, "IN_PROGRESS", 3));
    }
}
