//! The task pages and the live socket: My tasks and its progress form, the
//! assign and edit forms (every error at once, input kept, reassignment in
//! the trail), status changes, the detail page's access rules, the monitor's
//! scope, and what each viewer's WebSocket does and does not receive.

use std::time::Duration;

use futures_util::StreamExt;
use taskpulse::db::DbError;
use taskpulse::domain::role::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::both_backends;
use crate::support::*;

async fn api_progress(app: &TestApp, user: &TestUser, task_id: i64, value: i64) {
    let token = app.token_for(user).await;
    let response = reqwest::Client::new()
        .post(app.url(&format!("/api/task/{task_id}/progress/")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "progress_percentage": value }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200, "progress update accepted");
}

both_backends! {
    async fn my_tasks_lists_own_tasks_and_the_form_updates_progress(app: TestApp) {
        let admin = app.create_user("pm-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let mine = create_task(&app, &admin, TaskSpec::new("Write the report", &[&ann])).await;
        let other = create_task(&app, &admin, TaskSpec::new("Bob's secret", &[&bob])).await;

        let mut browser = app.browser_for(&ann).await;
        let (status, page) = browser.page("/tasks").await;
        assert_eq!(status, 200);
        assert_eq!(count_of(&page, &format!("#mine-{mine}")), 1, "own task listed");
        assert_eq!(count_of(&page, &format!("#mine-{other}")), 0, "another's task not listed");
        assert_eq!(count_of(&page, &format!("#mine-{mine} form.progress-form button[value='75']")), 1, "quick buttons");
        assert!(text_of(&page, ".occ-label").is_some(), "own occupancy shown");

        // A plain form post: quick button 50 %, redirected back with a message.
        let response = browser
            .post_form(&format!("/tasks/{mine}/progress"), &[("progress", "10"), ("progress_quick", "50"), ("notes", "halfway"), ("version", "1")])
            .await;
        assert_eq!(response.status(), 303);
        let stored = task(&app, mine).await;
        assert_eq!((stored.progress, stored.status.as_str()), (50, "IN_PROGRESS"));
        let rows = trail(&app, mine).await;
        assert_eq!(rows.len(), 2, "creation + one update");
        assert_eq!((rows[1].previous_progress, rows[1].new_progress, rows[1].notes.as_str()), (0, 50, "halfway"));

        // The same stale version again: "changed meanwhile", nothing written.
        let response = browser.post_form(&format!("/tasks/{mine}/progress"), &[("progress", "60"), ("version", "1")]).await;
        assert_eq!(response.status(), 303);
        let (_, page) = browser.page("/tasks").await;
        assert!(text_of(&page, ".flash-error").unwrap_or_default().contains("changed meanwhile"), "stale version reported");
        assert_eq!(trail(&app, mine).await.len(), 2, "nothing written for a stale version");

        // The page script's JSON variant, with an idempotency key replayed.
        let send = |key: &'static str| {
            browser
                .client
                .post(app.url(&format!("/tasks/{mine}/progress")))
                .header("Origin", &app.address)
                .header("Accept", "application/json")
                .header("X-CSRF-Token", &browser.csrf)
                .form(&[("progress", "80"), ("idempotency_key", key)])
                .send()
        };
        let first: serde_json::Value = send("key-1").await.expect("POST").json().await.expect("JSON");
        let again: serde_json::Value = send("key-1").await.expect("POST").json().await.expect("JSON");
        assert_eq!(first["new_progress"], 80);
        assert!(first["state_html"].as_str().unwrap_or_default().contains(&format!("id=\"state-{mine}\"")));
        assert_eq!(again["replayed"], true, "the replay is answered from the first result");
        assert_eq!(trail(&app, mine).await.len(), 3, "one row for the keyed update");

        // Bad input and a foreign task: a clear error, nothing written.
        let bad = browser.client.post(app.url(&format!("/tasks/{mine}/progress"))).header("Origin", &app.address)
            .header("Accept", "application/json").header("X-CSRF-Token", &browser.csrf)
            .form(&[("progress", "abc")]).send().await.expect("POST");
        assert_eq!(bad.status(), 422);
        let foreign = browser.client.post(app.url(&format!("/tasks/{other}/progress"))).header("Origin", &app.address)
            .header("Accept", "application/json").header("X-CSRF-Token", &browser.csrf)
            .form(&[("progress", "30")]).send().await.expect("POST");
        assert_eq!(foreign.status(), 404, "a foreign task does not exist for ann");
        assert_eq!(trail(&app, other).await.len(), 1);
        assert_eq!(trail(&app, mine).await.len(), 3);
    }

    async fn the_assign_form_shows_every_error_keeps_input_and_creates(app: TestApp) {
        let admin = app.create_user("assigner", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let mut browser = app.browser_for(&admin).await;
        let (status, _) = browser.page("/tasks/new").await;
        assert_eq!(status, 200);

        let response = browser
            .post_form("/tasks/new", &[("title", ""), ("description", "Keep me"), ("priority", "SOMEDAY"), ("difficulty", "11"), ("estimated_hours", "-1"), ("due", "2001-01-01T10:00")])
            .await;
        assert_eq!(response.status(), 422);
        let page = scraper::Html::parse_document(&response.text().await.expect("body"));
        for field in ["title", "priority", "difficulty", "estimated_hours", "due", "assignees"] {
            assert_eq!(count_of(&page, &format!("#{field}-error")), 1, "error shown for {field}");
        }
        assert_eq!(text_of(&page, "#description").as_deref(), Some("Keep me"), "typed input kept");
        assert_eq!(crate::support::written(&app).await.tasks.len(), 0, "nothing created");

        let ann_id = ann.id.to_string();
        let response = browser
            .post_form("/tasks/new", &[("title", "Ship it"), ("priority", "HIGH"), ("difficulty", "3"), ("estimated_hours", "2.5"), ("due", "2099-01-01T10:00"), ("assignees", &ann_id)])
            .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().expect("location").to_string();
        let id: i64 = location.trim_start_matches("/tasks/").parse().expect("task id");
        let stored = task(&app, id).await;
        assert_eq!((stored.title.as_str(), stored.priority.as_str(), stored.difficulty), ("Ship it", "HIGH", 3));
        let rows = trail(&app, id).await;
        assert_eq!(rows.len(), 1);
        assert!(rows[0].notes.contains("ann Person"), "creation recorded with the assignee: {:?}", rows[0].notes);
    }

    async fn editing_reassigns_with_a_trail_row_and_moves_access(app: TestApp) {
        let manager = app.create_user("mgr", Role::Manager).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let id = create_task(&app, &manager, TaskSpec::new("Move me", &[&ann])).await;
        let mut browser = app.browser_for(&manager).await;
        let (status, _) = browser.page(&format!("/tasks/{id}/edit")).await;
        assert_eq!(status, 200);
        let bob_id = bob.id.to_string();
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Moved"), ("priority", "URGENT"), ("difficulty", "5"), ("estimated_hours", "4"), ("assignees", &bob_id), ("version", "1")])
            .await;
        assert_eq!(response.status(), 303);
        let rows = trail(&app, id).await;
        assert_eq!(rows.len(), 2);
        assert!(rows[1].notes.contains("Reassigned") && rows[1].notes.contains("+bob Person") && rows[1].notes.contains("−ann Person"), "{:?}", rows[1].notes);
        assert!(rows[1].notes.contains("title") && rows[1].notes.contains("priority"), "{:?}", rows[1].notes);

        let mut ann_browser = app.browser_for(&ann).await;
        assert_eq!(ann_browser.page(&format!("/tasks/{id}")).await.0, 404, "the old assignee no longer sees it");
        let mut bob_browser = app.browser_for(&bob).await;
        assert_eq!(bob_browser.page(&format!("/tasks/{id}")).await.0, 200, "the new assignee sees it");

        // A stale version of the edit form is refused, nothing written.
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Again"), ("priority", "LOW"), ("assignees", &bob_id), ("version", "1")])
            .await;
        assert_eq!(response.status(), 409);
        assert_eq!(task(&app, id).await.title, "Moved");
        assert_eq!(trail(&app, id).await.len(), 2);
    }

    async fn an_overdue_task_can_be_edited_and_keeps_its_due_time(app: TestApp) {
        let manager = app.create_user("od-mgr", Role::Manager).await;
        let ann = app.create_user("od-ann", Role::Employee).await;
        let bob = app.create_user("od-bob", Role::Employee).await;
        let id = create_task(&app, &manager, TaskSpec::new("Late work", &[&ann]).due("2099-01-01T10:00")).await;
        // Due yesterday, with seconds and microseconds as stored times have.
        let due = taskpulse::db::now() - chrono::Duration::days(1);
        set_due(&app, id, due).await;
        let mut browser = app.browser_for(&manager).await;
        let (status, page) = browser.page(&format!("/tasks/{id}/edit")).await;
        assert_eq!(status, 200);
        let shown = value_of(&page, "#due").expect("the form shows the due time");
        // Saved as shown, with a new assignee: accepted, the due time untouched.
        let (ann_id, bob_id) = (ann.id.to_string(), bob.id.to_string());
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Late work"), ("priority", "MEDIUM"), ("difficulty", "5"), ("estimated_hours", "4"), ("due", &shown), ("assignees", &ann_id), ("assignees", &bob_id), ("version", "1")])
            .await;
        assert_eq!(response.status(), 303, "an unchanged past due date is kept");
        assert_eq!(task(&app, id).await.due_at, Some(due), "stored exactly as before");
        let rows = trail(&app, id).await;
        assert!(!rows[1].notes.contains("due date"), "the due date did not change: {:?}", rows[1].notes);
        // Moving it to another past time is still refused, nothing written.
        let earlier = (due - chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M").to_string();
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Late work"), ("priority", "MEDIUM"), ("difficulty", "5"), ("estimated_hours", "4"), ("due", &earlier), ("assignees", &ann_id), ("version", "2")])
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(task(&app, id).await.due_at, Some(due));
    }

    async fn a_leads_edit_keeps_assignees_outside_their_team(app: TestApp) {
        let admin = app.create_user("keep-admin", Role::Admin).await;
        let lead = user_in_team(&app, "keep-lead", Role::Lead, Some("Platform")).await;
        let own = user_in_team(&app, "keep-own", Role::Employee, Some("Platform")).await;
        let other = user_in_team(&app, "keep-web", Role::Employee, Some("Web")).await;
        let id = create_task(&app, &admin, TaskSpec::new("Shared work", &[&own, &other])).await;

        let mut browser = app.browser_for(&lead).await;
        let (status, page) = browser.page(&format!("/tasks/{id}/edit")).await;
        assert_eq!(status, 200);
        assert_eq!(count_of(&page, &format!("#assignees option[value='{}']", other.id)), 0, "not choosable by the lead");
        assert!(text_of(&page, "#kept-assignees").unwrap_or_default().contains("keep-web Person"), "shown read-only");

        // Only the title changes: the other team's assignee stays.
        let own_id = own.id.to_string();
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Shared work, renamed"), ("description", "About Shared work"), ("priority", "MEDIUM"), ("difficulty", "5"), ("estimated_hours", "4"), ("assignees", &own_id), ("version", "1")])
            .await;
        assert_eq!(response.status(), 303);
        let mut assignees: Vec<i64> = crate::support::assignment_states(&app, id).await.into_iter().map(|(user, _, _)| user).collect();
        assignees.sort_unstable();
        assert_eq!(assignees, vec![own.id, other.id]);
        let rows = trail(&app, id).await;
        assert!(!rows[1].notes.contains("Reassigned"), "{:?}", rows[1].notes);
        assert_eq!(rows[1].notes, "Edited title");

        // Posting the other team's id (a hand-made form) neither adds nor
        // removes anything the lead may not change.
        let other_id = other.id.to_string();
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Shared work, renamed"), ("priority", "MEDIUM"), ("difficulty", "5"), ("estimated_hours", "4"), ("assignees", &own_id), ("assignees", &other_id), ("version", "2")])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(crate::support::assignment_states(&app, id).await.len(), 2);
        // Someone from another team who is not yet assigned is refused.
        let stranger = user_in_team(&app, "keep-stranger", Role::Employee, Some("Web")).await;
        let stranger_id = stranger.id.to_string();
        let response = browser
            .post_form(&format!("/tasks/{id}/edit"), &[("title", "Shared work, renamed"), ("priority", "MEDIUM"), ("assignees", &own_id), ("assignees", &stranger_id), ("version", "3")])
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(crate::support::assignment_states(&app, id).await.len(), 2);
    }

    async fn status_changes_are_for_admins_and_managers_and_recorded(app: TestApp) {
        let admin = app.create_user("boss", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let id = create_task(&app, &admin, TaskSpec::new("Park me", &[&ann])).await;
        let ann_browser = app.browser_for(&ann).await;
        let denied = ann_browser.post_form(&format!("/tasks/{id}/status"), &[("status", "ON_HOLD")]).await;
        assert_eq!(denied.status(), 403);

        let browser = app.browser_for(&admin).await;
        let bogus = browser.post_form(&format!("/tasks/{id}/status"), &[("status", "DONE")]).await;
        assert_eq!(bogus.status(), 303, "a derived status cannot be set by hand (message shown)");
        assert_eq!(task(&app, id).await.status, "PENDING");
        let unknown = browser.post_form(&format!("/tasks/{id}/status"), &[("status", "SOMEDAY")]).await;
        assert_eq!(unknown.status(), 303, "an unknown status is refused with a message");
        assert_eq!(trail(&app, id).await.len(), 1, "refusals write nothing");
        let response = browser.post_form(&format!("/tasks/{id}/status"), &[("status", "ON_HOLD"), ("notes", "waiting")]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(task(&app, id).await.status, "ON_HOLD");
        let resumed = browser.post_form(&format!("/tasks/{id}/status"), &[("status", "IN_PROGRESS")]).await;
        assert_eq!(resumed.status(), 303);
        assert_eq!(task(&app, id).await.status, "PENDING", "resuming follows progress (0 %)");

        // Done, then reopened by the admin through a progress update.
        api_progress(&app, &ann, id, 100).await;
        assert_eq!(task(&app, id).await.status, "DONE");
        api_progress(&app, &admin, id, 60).await;
        let stored = task(&app, id).await;
        assert_eq!((stored.status.as_str(), stored.completed_at), ("IN_PROGRESS", None), "reopened");
        let rows = trail(&app, id).await;
        let statuses: Vec<(&str, &str)> = rows.iter().map(|r| (r.previous_status.as_str(), r.new_status.as_str())).collect();
        assert_eq!(statuses[1..], [("PENDING", "ON_HOLD"), ("ON_HOLD", "PENDING"), ("PENDING", "DONE"), ("DONE", "IN_PROGRESS")]);
    }

    async fn the_monitor_is_scoped_and_filtered_in_the_url(app: TestApp) {
        let admin = app.create_user("watcher", Role::Admin).await;
        let lead = user_in_team(&app, "lead-a", Role::Lead, Some("Alpha")).await;
        let alpha = user_in_team(&app, "alpha-1", Role::Employee, Some("Alpha")).await;
        let beta = user_in_team(&app, "beta-1", Role::Employee, Some("Beta")).await;
        let a = create_task(&app, &admin, TaskSpec::new("Alpha work", &[&alpha]).priority("HIGH")).await;
        let b = create_task(&app, &admin, TaskSpec::new("Beta work", &[&beta]).priority("LOW")).await;

        let mut admin_browser = app.browser_for(&admin).await;
        let (_, page) = admin_browser.page("/monitor").await;
        assert_eq!(count_of(&page, ".task-card"), 2);
        assert_eq!(text_of(&page, "[data-count=total]").as_deref(), Some("2"));
        let (_, page) = admin_browser.page("/monitor?priority=HIGH").await;
        assert_eq!((count_of(&page, &format!("#mon-{a}")), count_of(&page, &format!("#mon-{b}"))), (1, 0));
        assert_eq!(count_of(&page, "#f-priority option[value=HIGH][selected]"), 1, "filter kept in the form");

        let mut lead_browser = app.browser_for(&lead).await;
        let (_, page) = lead_browser.page("/monitor").await;
        assert_eq!((count_of(&page, &format!("#mon-{a}")), count_of(&page, &format!("#mon-{b}"))), (1, 0), "a lead sees the team");
        assert_eq!(lead_browser.page(&format!("/tasks/{b}")).await.0, 404, "another team's task does not exist for the lead");
        assert_eq!(lead_browser.page(&format!("/tasks/{a}")).await.0, 200);
    }

    async fn the_people_picker_is_sorted_with_a_label_each_person_owns(app: TestApp) {
        let admin = app.create_user("pick-admin", Role::Admin).await;
        let zed = app.create_user("pick-zed", Role::Employee).await;
        let one = app.create_user("pick-sam1", Role::Employee).await;
        let two = app.create_user("pick-sam2", Role::Employee).await;
        let ids = [zed.id, one.id, two.id];
        app.db
            .write(move |c| {
                use diesel::prelude::*;
                use taskpulse::schema::users;
                diesel::update(users::table.filter(users::id.eq(ids[0]))).set(users::full_name.eq("Aaron Zed")).execute(c)?;
                diesel::update(users::table.filter(users::id.eq_any(&ids[1..]))).set(users::full_name.eq("Sam Lee")).execute(c)?;
                Ok::<_, taskpulse::db::DbError>(())
            })
            .await
            .unwrap();
        let mut browser = app.browser_for(&admin).await;
        let (_, page) = browser.page("/tasks/new").await;
        let labels: Vec<String> =
            page.select(&scraper::Selector::parse("#assignees option").unwrap()).map(|o| o.text().collect::<String>()).collect();
        let mut sorted = labels.clone();
        sorted.sort_by_key(|l| l.to_lowercase());
        assert_eq!(labels, sorted, "sorted by name");
        let unique: std::collections::HashSet<&String> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len(), "no two people share a label: {labels:?}");
        assert!(labels.contains(&"Sam Lee (pick-sam1 · Alpha)".to_string()) && labels.contains(&"Sam Lee (pick-sam2 · Alpha)".to_string()), "{labels:?}");
        assert_eq!(count_of(&page, "input[data-filter-for=assignees]"), 1, "and it can be filtered by typing");
    }

    async fn the_monitor_has_board_table_and_cards_views_kept_in_the_url(app: TestApp) {
        let admin = app.create_user("views-admin", Role::Admin).await;
        let ann = app.create_user("views-ann", Role::Employee).await;
        let first = create_task(&app, &admin, TaskSpec::new("Seen three ways", &[&ann]).priority("HIGH")).await;
        let mut browser = app.browser_for(&admin).await;
        let (_, board) = browser.page("/monitor?view=board&priority=HIGH").await;
        assert_eq!(count_of(&board, &format!("#col-PENDING #mon-{first}")), 1, "the board puts it in its column");
        assert_eq!(count_of(&board, ".view-tabs a[aria-current=page][href*='view=board']"), 1);
        assert_eq!(count_of(&board, ".view-tabs a[href*='priority=HIGH']"), 3, "the tabs keep the filters");
        let (_, table) = browser.page("/monitor?view=table").await;
        assert_eq!(count_of(&table, &format!("#monitor-rows tr#mon-{first}")), 1, "the table has a row per task");
        assert_eq!(count_of(&table, "#monitor-table button[data-sort]"), 6, "sortable columns");
        let (_, cards) = browser.page("/monitor").await;
        assert_eq!(count_of(&cards, &format!("#monitor-grid #mon-{first}")), 1, "cards stay the default");

        // Live: a table socket gets new rows as rows, a board socket cards in columns.
        let (mut table_socket, _) = live_socket(&app, &admin, "view=monitor&layout=table&page=1&since=0").await;
        let (mut board_socket, _) = live_socket(&app, &admin, "view=monitor&layout=board&page=1&since=0").await;
        // Each is first brought up to date (it names an old sequence).
        frame_with(&mut table_socket, "monitor-rows", Duration::from_secs(5)).await.expect("the table's resync");
        frame_with(&mut board_socket, "col-PENDING", Duration::from_secs(5)).await.expect("the board's resync");
        let second = create_task(&app, &admin, TaskSpec::new("Arrives in rows", &[&ann])).await;
        let needle = format!("id=\"mon-{second}\"");
        let row = frame_with(&mut table_socket, &needle, Duration::from_secs(5)).await.expect("a row frame");
        assert!(row.contains("afterbegin:#monitor-rows") && row.contains("<tr"), "{row}");
        let card = frame_with(&mut board_socket, &needle, Duration::from_secs(5)).await.expect("a board frame");
        assert!(card.contains("afterbegin:#col-PENDING") && card.contains("compact"), "{card}");
    }

    async fn the_status_counters_add_up_to_the_total(app: TestApp) {
        let admin = app.create_user("sum-admin", Role::Admin).await;
        let ann = app.create_user("sum-ann", Role::Employee).await;
        let mut ids = Vec::new();
        for title in ["One", "Two", "Three", "Four", "Five"] {
            ids.push(create_task(&app, &admin, TaskSpec::new(title, &[&ann])).await);
        }
        set_status(&app, &admin, ids[0], "CANCELLED").await;
        set_status(&app, &admin, ids[1], "ON_HOLD").await;
        api_progress(&app, &ann, ids[2], 100).await;
        api_progress(&app, &ann, ids[3], 40).await;
        let mut browser = app.browser_for(&admin).await;
        let (_, page) = browser.page("/monitor").await;
        let count = |key: &str| text_of(&page, &format!("[data-count={key}]")).and_then(|t| t.parse::<i64>().ok());
        let tiles: Vec<Option<i64>> = ["pending", "in_progress", "on_hold", "done", "cancelled"].iter().map(|k| count(k)).collect();
        assert_eq!(tiles, [Some(1), Some(1), Some(1), Some(1), Some(1)], "every status has a tile");
        assert_eq!(count("total"), Some(tiles.iter().flatten().sum()), "the tiles add up to the total");
    }

    async fn sockets_push_changes_only_to_viewers_allowed_to_see_them(app: TestApp) {
        let admin = app.create_user("live-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let ann_task = create_task(&app, &admin, TaskSpec::new("Ann's", &[&ann])).await;
        let bob_task = create_task(&app, &admin, TaskSpec::new("Bob's", &[&bob])).await;

        let mut monitor = live_socket(&app, &admin, "view=monitor&since=999999").await.0;
        frame_with(&mut monitor, "id=\"monitor-grid\"", Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        let mut ann_page = live_socket(&app, &ann, "view=mine&since=999999").await.0;
        frame_with(&mut ann_page, "id=\"my-tasks\"", Duration::from_secs(5)).await.expect("the frame comes within 5 s");

        api_progress(&app, &bob, bob_task, 40).await;
        let pushed = frame_with(&mut monitor, &format!("id=\"mon-{bob_task}\""), Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        assert!(pushed.contains("40%") && pushed.contains("IN_PROGRESS"), "the monitor gets the new state");
        let leaked = frames_within(&mut ann_page, Duration::from_millis(700)).await;
        assert!(leaked.iter().all(|m| !m.contains(&format!("-{bob_task}\"")) && !m.contains("Bob's")), "ann receives nothing about bob's task: {leaked:?}");

        api_progress(&app, &ann, ann_task, 75).await;
        let pushed = frame_with(&mut ann_page, &format!("id=\"state-{ann_task}\""), Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        assert!(pushed.contains("75%"), "ann's page gets her task's new state");

        // Presence: the sockets made ann ACTIVE; closing hers makes her OFFLINE.
        drop(ann_page);
        let ann_id = ann.id;
        let mut history = Vec::new();
        for _ in 0..100 {
            history = app
                .db
                .read(move |c| Ok::<_, DbError>(taskpulse::store::presence::history(c, ann_id)?))
                .await
                .expect("presence history");
            if history.last().is_some_and(|(s, _)| s == "OFFLINE") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let states: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(states, ["ACTIVE", "OFFLINE"], "presence transitions stored");
    }
}

/// Strings that must never reach a page, fragment or frame unescaped.
const HOSTILE: &str = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;

fn assert_escaped(what: &str, body: &str) {
    assert!(!body.contains("<script>alert"), "{what}: raw script tag in {body}");
    assert!(!body.contains("<img src=x"), "{what}: raw img tag");
    assert!(body.contains("&lt;script&gt;") || body.contains("&#60;script&#62;"), "{what}: the escaped text is shown");
}

both_backends! {
    async fn hostile_strings_are_escaped_in_pages_fragments_and_frames(app: TestApp) {
        let admin = app.create_user("esc-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let id = create_task(&app, &admin, TaskSpec::new(HOSTILE, &[&ann])).await;
        let mut monitor = live_socket(&app, &admin, "view=monitor&since=999999").await.0;
        let resync = frame_with(&mut monitor, "id=\"monitor-grid\"", Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        assert_escaped("monitor resync frame", &resync);

        let token = app.token_for(&ann).await;
        let response = reqwest::Client::new()
            .post(app.url(&format!("/api/task/{id}/progress/")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "progress_percentage": 30, "notes": HOSTILE }))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 200);
        let frame = frame_with(&mut monitor, &format!("id=\"mon-{id}\""), Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        assert_escaped("live card frame", &frame);

        let browser = app.browser_for(&admin).await;
        for path in ["/monitor".to_string(), format!("/tasks/{id}"), format!("/tasks/{id}/edit")] {
            let body = browser.get(&path).await.text().await.expect("body");
            assert_escaped(&path, &body);
        }
        let ann_browser = app.browser_for(&ann).await;
        for path in ["/tasks", "/notifications"] {
            let body = ann_browser.get(path).await.text().await.expect("body");
            assert_escaped(path, &body);
        }

        // A hostile display name, wherever people are listed.
        let ann_id = ann.id;
        app.db
            .write(move |c| {
                use diesel::prelude::*;
                use taskpulse::schema::users;
                Ok::<_, DbError>(diesel::update(users::table.find(ann_id)).set(users::full_name.eq(HOSTILE)).execute(c)?)
            })
            .await
            .expect("renamed");
        for path in ["/admin/users", "/tasks/new", "/monitor?view=board", "/monitor?view=table", "/monitor?view=cards"] {
            let body = browser.get(path).await.text().await.expect("body");
            assert_escaped(path, &body);
        }
    }

    async fn the_json_feed_sends_api_clients_only_what_they_may_see(app: TestApp) {
        let admin = app.create_user("feed-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let ann_task = create_task(&app, &admin, TaskSpec::new("Ann's", &[&ann])).await;
        let bob_task = create_task(&app, &admin, TaskSpec::new("Bob's", &[&bob])).await;

        let url = format!("ws://127.0.0.1:{}/api/live/", app.port);
        let mut request = url.as_str().into_client_request().expect("request");
        let token = app.token_for(&ann).await;
        request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().expect("header"));
        let mut feed = tokio_tungstenite::connect_async(request).await.expect("feed opens").0;
        let no_token = tokio_tungstenite::connect_async(url.as_str()).await;
        assert!(no_token.is_err(), "the feed needs a token");

        api_progress(&app, &bob, bob_task, 20).await;
        api_progress(&app, &ann, ann_task, 60).await;
        // (The creation of both tasks may still be on its way: the frame
        // looked for is the update to 60 %.)
        let text = frame_with(&mut feed, "\"progress_percentage\":60", Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        let message: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(message["task"]["id"], ann_task, "ann's own task");
        assert_eq!(message["task"]["progress_percentage"], 60);
        assert_eq!(message["task"]["status"], "IN_PROGRESS");
        let later = frames_within(&mut feed, Duration::from_millis(500)).await;
        assert!([&text].into_iter().chain(&later).all(|m| !m.contains("Bob's")), "nothing about bob's task: {later:?}");

        // Revoking the token ends the feed within seconds.
        let ann_id = ann.id;
        app.db
            .write(move |c| {
                use diesel::prelude::*;
                use taskpulse::schema::api_tokens;
                Ok::<_, DbError>(
                    diesel::update(api_tokens::table.filter(api_tokens::user_id.eq(ann_id)))
                        .set(api_tokens::revoked_at.eq(Some(taskpulse::db::now())))
                        .execute(c)?,
                )
            })
            .await
            .expect("tokens revoked");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, feed.next()).await {
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break,
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the feed stayed open after its token was revoked"),
            }
        }
    }
}

both_backends! {
    async fn a_client_that_does_not_read_never_stalls_the_others(app: TestApp) {
        let admin = app.create_user("slow-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let id = create_task(&app, &admin, TaskSpec::new("Busy task", &[&ann])).await;
        // This client never reads: its frames pile up in its own socket.
        let _stalled = live_socket(&app, &admin, "view=monitor&since=999999").await.0;
        let mut reader = live_socket(&app, &admin, "view=monitor&since=999999").await.0;
        frame_with(&mut reader, "id=\"monitor-grid\"", Duration::from_secs(5)).await.expect("the frame comes within 5 s");
        let token = app.token_for(&ann).await;
        let http = reqwest::Client::new();
        for value in 1..=150 {
            let response = http
                .post(app.url(&format!("/api/task/{id}/progress/")))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "progress_percentage": value % 99 + 1, "notes": "x".repeat(1500) }))
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), 200);
        }
        let last = 150 % 99 + 1;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let frame = frame_with(&mut reader, &format!("id=\"mon-{id}\""), Duration::from_secs(5)).await.expect("the frame comes within 5 s");
            if frame.contains(&format!("value=\"{last}\"")) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the reading client got the latest state");
        }
    }
}

both_backends! {
    async fn the_monitor_filters_overdue_tasks_and_keeps_the_filter_live(app: TestApp) {
        let admin = app.create_user("od-admin", Role::Admin).await;
        let ann = app.create_user("od-ann", Role::Employee).await;
        let late = create_task(&app, &admin, TaskSpec::new("Late", &[&ann]).due("2099-01-01T10:00")).await;
        set_due(&app, late, taskpulse::db::now() - chrono::Duration::hours(3)).await;
        let on_time = create_task(&app, &admin, TaskSpec::new("On time", &[&ann]).due("2099-01-01T10:00")).await;
        let mut web = app.browser_for(&admin).await;
        for view in ["cards", "board", "table"] {
            let (_, page) = web.page(&format!("/monitor?view={view}&overdue=1")).await;
            assert_eq!(count_of(&page, &format!("#mon-{late}")), 1, "{view}: the overdue task");
            assert_eq!(count_of(&page, &format!("#mon-{on_time}")), 0, "{view}: not the one on time");
            assert_eq!(count_of(&page, "input[name=overdue][checked]"), 1, "{view}: the filter is shown on");
        }
        // Live: a change to the on-time task does not add it; completing the
        // late one takes it off (no longer overdue).
        let mut socket = live_socket(&app, &admin, "view=monitor&layout=cards&overdue=1&since=999999").await.0;
        frame_with(&mut socket, "id=\"monitor-grid\"", Duration::from_secs(5)).await.expect("resync");
        api_progress(&app, &ann, on_time, 20).await;
        let frames = frames_within(&mut socket, Duration::from_millis(700)).await;
        assert!(frames.iter().all(|f| !f.contains(&format!("mon-{on_time}"))), "not overdue, not shown: {frames:?}");
        api_progress(&app, &ann, late, 100).await;
        let gone = frame_with(&mut socket, &format!("mon-{late}"), Duration::from_secs(5)).await.expect("the late one leaves");
        assert!(gone.contains("hx-swap-oob=\"delete\""), "{gone}");
    }
}
