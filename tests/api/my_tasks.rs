//! My tasks as a list: open work grouped by due (overdue, this week, later)
//! in the viewer's zone, done and cancelled folded apart, 50 open tasks a
//! page, and cards moving between groups live.

use std::time::Duration;

use taskpulse::domain::role::Role;
use taskpulse::domain::when::next_week;

use crate::both_backends;
use crate::support::*;

async fn complete(app: &TestApp, user: &TestUser, task_id: i64) {
    let (status, _) = Api::for_user(app, user).await.complete(task_id).await;
    assert_eq!(status, 200, "completed");
}

both_backends! {
    async fn open_tasks_group_by_due_and_closed_ones_fold_apart_live(app: TestApp) {
        let admin = app.create_user("mt-admin", Role::Admin).await;
        let ann = app.create_user("mt-ann", Role::Employee).await;
        let now = taskpulse::db::now();
        // Safely inside this week (whatever weekday the test runs on).
        let week_end = next_week(now, chrono_tz::UTC);
        let soon = now + (week_end - now) / 2;
        let input = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M").to_string();
        let overdue = create_task(&app, &admin, TaskSpec::new("Late one", &[&ann]).due(&input(now + chrono::Duration::days(1)))).await;
        set_due(&app, overdue, now - chrono::Duration::hours(30)).await;
        let this_week = create_task(&app, &admin, TaskSpec::new("Soon one", &[&ann]).due(&input(soon))).await;
        let later = create_task(&app, &admin, TaskSpec::new("Later one", &[&ann]).due(&input(week_end + chrono::Duration::days(3)))).await;
        let undated = create_task(&app, &admin, TaskSpec::new("Someday", &[&ann])).await;
        let done = create_task(&app, &admin, TaskSpec::new("Finished", &[&ann])).await;
        complete(&app, &ann, done).await;

        let mut web = app.browser_for(&ann).await;
        let (_, page) = web.page("/tasks").await;
        assert_eq!(count_of(&page, &format!("#my-overdue #mine-{overdue}")), 1, "overdue first");
        assert!(text_of(&page, &format!("#mine-{overdue} .meta")).unwrap_or_default().contains("1 day overdue"), "says by how much");
        assert_eq!(count_of(&page, &format!("#my-week #mine-{this_week}")), 1, "due this week");
        assert_eq!(count_of(&page, &format!("#my-later #mine-{later}")), 1, "due later");
        assert_eq!(count_of(&page, &format!("#my-later #mine-{undated}")), 1, "no due time: later");
        assert_eq!(count_of(&page, &format!("details#group-closed:not([open]) #my-closed #mine-{done}")), 1, "done folded away");
        assert_eq!(count_of(&page, &format!("#mine-{this_week} details.update-panel:not([open]) input[type=range]")), 1, "controls behind Update");
        assert_eq!(count_of(&page, &format!("#mine-{done} .update-panel")), 0, "a done task offers none");

        // Completing the soon one moves it to the closed group, live.
        let mut socket = live_socket(&app, &ann, "view=mine&page=1&since=999999").await.0;
        frame_with(&mut socket, "id=\"my-tasks\"", Duration::from_secs(5)).await.expect("resync");
        complete(&app, &ann, this_week).await;
        let moved = frame_with(&mut socket, &format!("mine-{this_week}"), Duration::from_secs(5)).await.expect("the move");
        assert!(moved.contains(&format!(r#"<div id="mine-{this_week}" hx-swap-oob="delete">"#)), "leaves its group: {moved}");
        assert!(moved.contains(r#"hx-swap-oob="afterbegin:#my-closed""#), "lands on top of the closed ones: {moved}");

        // A new task due this week appears in its group.
        let fresh = create_task(&app, &admin, TaskSpec::new("Fresh one", &[&ann]).due(&input(soon))).await;
        let arrived = frame_with(&mut socket, &format!("mine-{fresh}"), Duration::from_secs(5)).await.expect("the new card");
        assert!(arrived.contains(r#"hx-swap-oob="afterbegin:#my-week""#), "in this week's group: {arrived}");

        // The status filter for done tasks shows the closed ones, open.
        let (_, page) = web.page("/tasks?status=DONE").await;
        assert_eq!(count_of(&page, &format!("details#group-closed[open] #mine-{done}")), 1);
        assert_eq!(count_of(&page, &format!("#mine-{overdue}")), 0);
    }

    async fn my_tasks_pages_through_open_work_fifty_at_a_time(app: TestApp) {
        let admin = app.create_user("mt-admin2", Role::Admin).await;
        let ann = app.create_user("mt-ann2", Role::Employee).await;
        for n in 0..55 {
            create_task(&app, &admin, TaskSpec::new(&format!("Task {n:02}"), &[&ann])).await;
        }
        let mut web = app.browser_for(&ann).await;
        let (_, first) = web.page("/tasks").await;
        assert_eq!(count_of(&first, "#my-tasks .task-card"), 50, "fifty on the first page");
        assert!(text_of(&first, ".pager").unwrap_or_default().contains("Page 1 of 2 · 55 tasks"));
        assert_eq!(count_of(&first, ".pager a[rel=next][href='?page=2']"), 1);
        let (_, second) = web.page("/tasks?page=2").await;
        assert_eq!(count_of(&second, "#my-tasks .task-card"), 5, "the rest on the second");
        let (status, beyond) = web.page("/tasks?page=9").await;
        assert_eq!(status, 200);
        assert_eq!(count_of(&beyond, "#my-tasks .task-card"), 0, "past the end: empty, not an error");
    }
}
