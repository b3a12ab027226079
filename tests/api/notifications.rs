//! The notification centre: the list, the bell, marking read, nobody
//! touching another's notifications, and the bell updating live when a job
//! notifies someone.

use std::time::Duration;

use diesel::prelude::*;
use taskpulse::db::DbError;
use taskpulse::domain::role::Role;
use taskpulse::jobs::{JobContext, JobSettings, kinds};
use taskpulse::schema::jobs;
use taskpulse::services::assign;
use taskpulse::store::notifications;

use crate::both_backends;
use crate::support::*;

both_backends! {
    async fn people_assigned_a_task_are_notified_live_and_by_email(app: TestApp) {
        let admin = app.create_user("as-admin", Role::Admin).await;
        let ann = app.create_user("as-ann", Role::Employee).await;
        let carl = app.create_user("as-carl", Role::Employee).await;
        let (mut socket, _) = live_socket(&app, &ann, "view=mine&since=0").await;

        let task = create_task(&app, &admin, TaskSpec::new("Write <the> docs", &[&ann, &admin])).await;
        let text = frame_with(&mut socket, "id=\"bell\"", Duration::from_secs(5)).await.expect("a live bell within 5 s");
        assert!(text.contains("1 unread"), "Ann's bell shows the assignment: {text}");
        let of_kind = |user: i64| {
            let db = app.db.clone();
            async move {
                db.read(move |c| Ok::<_, DbError>(notifications::of_kind(c, user, "assigned")?)).await.unwrap()
            }
        };
        assert_eq!(of_kind(ann.id).await, vec![("Assigned to you: Write <the> docs".to_string(), Some(task))]);
        assert!(of_kind(admin.id).await.is_empty(), "who assigns is not told");
        // Email follows each person's preference: the delivery job is queued
        // with the note.
        let queued = app
            .db
            .read(|c| Ok::<_, DbError>(jobs::table.filter(jobs::kind.eq("deliver-email")).count().get_result::<i64>(c)?))
            .await
            .unwrap();
        assert_eq!(queued, 1);

        // Reassigning tells only who is new.
        let actor = actor_for(&app, &admin).await;
        let input = assign::TaskInput {
            title: "Write <the> docs".into(),
            description: String::new(),
            project_id: None,
            assignee_ids: vec![ann.id, carl.id],
            due: String::new(),
            zone: chrono_tz::UTC,
            priority: "MEDIUM".into(),
            estimated_hours: "4".into(),
            difficulty: "5".into(),
            skills: Vec::new(),
        };
        assign::update(&app.db, &app.bus, &actor, task, None, input).await.expect("reassigned");
        assert_eq!(of_kind(carl.id).await.len(), 1, "Carl is told");
        assert_eq!(of_kind(ann.id).await.len(), 1, "Ann is not told twice");
        let mut browser = app.browser_for(&carl).await;
        let (_, page) = browser.page("/notifications").await;
        assert_eq!(text_of(&page, "#notifications li strong").unwrap(), "Assigned to you: Write <the> docs");
    }

    async fn overdue_notifications_are_listed_marked_read_and_private(app: TestApp) {
        let admin = app.create_user("n-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let task = create_task(&app, &admin, TaskSpec::new("Late <report>", &[&ann]).due("2099-01-01T10:00")).await;
        set_due(&app, task, taskpulse::db::now() - chrono::Duration::days(1)).await;
        forget_notifications(&app).await;

        // Ann keeps a page open: her bell must update live.
        let (mut socket, _) = live_socket(&app, &ann, "view=mine&since=0").await;

        // The job runs through the app's own bus, as the workers do.
        let handler = kinds::handlers()["overdue-tasks"].clone();
        let ctx = JobContext { db: app.db.clone(), bus: app.bus.clone(), now: taskpulse::db::now(), job_id: 0, attempt: 1, settings: JobSettings::default() };
        let summary = handler(ctx, serde_json::json!({})).await.expect("job ran");
        assert_eq!(summary["notifications_sent"], 1);

        let text = frame_with(&mut socket, "id=\"bell\"", Duration::from_secs(5)).await.expect("a live bell within 5 s");
        assert!(text.contains("1 unread"), "the live bell shows one unread: {text}");

        let mut browser = app.browser_for(&ann).await;
        let bell = browser.get("/notifications/bell").await.text().await.unwrap();
        assert!(bell.contains("1 unread"), "{bell}");
        let (status, page) = browser.page("/notifications").await;
        assert_eq!(status, 200);
        assert_eq!(count_of(&page, "#notifications li.unread"), 1);
        let title = text_of(&page, "#notifications li strong").unwrap();
        assert_eq!(title, "Overdue: Late <report>", "escaped, shown as typed");
        let id = page
            .select(&scraper::Selector::parse("#notifications li").unwrap())
            .next()
            .and_then(|li| li.value().id())
            .and_then(|id| id.strip_prefix("notification-"))
            .and_then(|id| id.parse::<i64>().ok())
            .expect("notification id");

        // Bob can neither see nor mark Ann's notification.
        let bob_browser = app.browser_for(&bob).await;
        let denied = bob_browser.post_form(&format!("/notifications/{id}/read"), &[]).await;
        assert_eq!(denied.status(), 404);
        let mut bob_browser = bob_browser;
        let (_, bob_page) = bob_browser.page("/notifications").await;
        assert_eq!(count_of(&bob_page, "#notifications li"), 0);

        let response = browser.post_form(&format!("/notifications/{id}/read"), &[]).await;
        assert_eq!(response.status(), 303);
        let (_, page) = browser.page("/notifications").await;
        assert_eq!(count_of(&page, "#notifications li.unread"), 0);
        let bell = browser.get("/notifications/bell").await.text().await.unwrap();
        assert!(!bell.contains("unread"), "no count once read: {bell}");
        let response = browser.post_form("/notifications/read-all", &[]).await;
        assert_eq!(response.status(), 303);
    }

    async fn ticked_notifications_are_marked_read_together_and_only_ones_own(app: TestApp) {
        let admin = app.create_user("nb-admin", Role::Admin).await;
        let ann = app.create_user("nb-ann", Role::Employee).await;
        let bob = app.create_user("nb-bob", Role::Employee).await;
        for title in ["One", "Two", "Three"] {
            create_task(&app, &admin, TaskSpec::new(title, &[&ann])).await;
        }
        create_task(&app, &admin, TaskSpec::new("Bob's", &[&bob])).await;
        let ids_of = |page: &scraper::Html| -> Vec<i64> {
            page.select(&scraper::Selector::parse("#notifications li.unread input[name=ids]").unwrap())
                .filter_map(|i| i.value().attr("value").and_then(|v| v.parse().ok()))
                .collect()
        };
        let mut bob_web = app.browser_for(&bob).await;
        let (_, bob_page) = bob_web.page("/notifications").await;
        let bobs = ids_of(&bob_page);
        assert_eq!(bobs.len(), 1);

        let mut web = app.browser_for(&ann).await;
        let (_, page) = web.page("/notifications").await;
        let anns = ids_of(&page);
        assert_eq!(anns.len(), 3, "one checkbox per unread row");
        assert_eq!(count_of(&page, "form#bulk-read button"), 2, "mark selected, mark all");

        // Nothing ticked: said, nothing changed.
        let refused = web.post_form("/notifications/read-selected", &[]).await;
        assert_eq!(refused.status(), 303);
        let (_, page) = web.page("/notifications").await;
        assert!(text_of(&page, ".flash-error").unwrap_or_default().contains("Select the notifications"));
        assert_eq!(ids_of(&page).len(), 3);

        // Two of Ann's and one of Bob's ticked: Ann's two are read, Bob's not.
        let (a, b, theirs) = (anns[0].to_string(), anns[1].to_string(), bobs[0].to_string());
        let done = web.post_form("/notifications/read-selected", &[("ids", &a), ("ids", &b), ("ids", &theirs)]).await;
        assert_eq!(done.status(), 303);
        let (_, page) = web.page("/notifications").await;
        assert!(text_of(&page, ".flash-success").unwrap_or_default().contains("2 marked read"));
        assert_eq!(ids_of(&page), vec![anns[2]], "the unticked one stays unread");
        let (_, bob_page) = bob_web.page("/notifications").await;
        assert_eq!(ids_of(&bob_page), bobs, "another's notification is untouched");
        let bad = web.post_form("/notifications/read-selected", &[("ids", "x")]).await;
        assert_eq!(bad.status(), 303);
        let (_, page) = web.page("/notifications").await;
        assert_eq!(ids_of(&page).len(), 1, "a malformed selection changes nothing");
    }
}
