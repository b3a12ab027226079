//! Time zones: the organisation's default (admins), each person's own
//! (profile), pages and live fragments in the viewer's zone, bad zones
//! refused with nothing changed.

use std::time::Duration;

use taskpulse::db::DbError;
use taskpulse::domain::role::Role;

use crate::both_backends;
use crate::support::*;

async fn stored_zone(app: &TestApp, user: &TestUser) -> Option<String> {
    let id = user.id;
    app.db
        .read(move |c| Ok::<_, DbError>(taskpulse::store::users::find(c, id)?))
        .await
        .expect("user")
        .expect("exists")
        .time_zone
}

async fn org_zone(app: &TestApp) -> Option<String> {
    app.db.read(|c| Ok::<_, DbError>(taskpulse::store::settings::get(c, "time_zone")?)).await.expect("setting")
}

async fn signed_in(app: &TestApp, user: &TestUser) -> Browser {
    let mut browser = app.browser_for(user).await;
    browser.page("/").await;
    browser
}

both_backends! {
    async fn pages_and_live_fragments_show_times_in_each_viewers_zone(app: TestApp) {
        let admin = app.create_user("tz-admin", Role::Admin).await;
        let ann = app.create_user("tz-ann", Role::Employee).await;
        let bea = app.create_user("tz-bea", Role::Employee).await;
        // Due in two days at 23:30 UTC: the next day already in Tokyo.
        let due = (taskpulse::db::now() + chrono::Duration::days(2)).date().and_hms_opt(23, 30, 0).unwrap();
        let due_text = due.format("%Y-%m-%dT%H:%M").to_string();
        let ann_task = create_task(&app, &admin, TaskSpec::new("Zoned", &[&ann]).due(&due_text)).await;
        let bea_task = create_task(&app, &admin, TaskSpec::new("Bea's zoned", &[&bea]).due(&due_text)).await;

        // Fresh install: UTC for everyone.
        let mut admin_web = signed_in(&app, &admin).await;
        let (_, page) = admin_web.page(&format!("/tasks/{ann_task}")).await;
        assert!(page.html().contains(&format!("{} UTC", due.format("%Y-%m-%d %H:%M"))), "UTC by default");

        // An admin chooses Tokyo for the organisation: audited, shown at once.
        admin_web.page("/admin/settings").await;
        let saved = admin_web.post_form("/admin/settings", &[("time_zone", "Asia/Tokyo")]).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(org_zone(&app).await.as_deref(), Some("Asia/Tokyo"));
        let tokyo = (due + chrono::Duration::hours(9)).format("%Y-%m-%d %H:%M").to_string();
        let (_, page) = admin_web.page(&format!("/tasks/{ann_task}")).await;
        assert!(page.html().contains(&format!("{tokyo} JST")), "the detail page in the organisation's zone");
        let audit = app
            .db
            .read(|c| Ok::<_, DbError>(taskpulse::store::audit::page(c, None, 50, 0)?))
            .await
            .expect("audit");
        assert!(audit.iter().any(|e| e.action == "settings.time_zone" && e.details.contains("UTC → Asia/Tokyo")), "audited");

        // Ann picks New York for herself; Bea keeps the organisation's.
        let mut ann_web = signed_in(&app, &ann).await;
        ann_web.page("/profile").await;
        let saved = ann_web.post_form("/profile/time-zone", &[("time_zone", "America/New_York")]).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(stored_zone(&app, &ann).await.as_deref(), Some("America/New_York"));
        let new_york = (due - chrono::Duration::hours(5)).format("%Y-%m-%d %H:%M").to_string();
        let (_, mine) = ann_web.page("/tasks").await;
        assert!(mine.html().contains(&format!("{new_york} EST")), "ann reads her own zone");
        let (_, bea_page) = signed_in(&app, &bea).await.page("/tasks").await;
        assert!(bea_page.html().contains(&format!("{tokyo} JST")), "bea reads the organisation's zone");

        // Live: one change, each socket in its viewer's zone.
        let mut ann_socket = live_socket(&app, &ann, "view=mine&since=999999").await.0;
        frame_with(&mut ann_socket, "id=\"my-tasks\"", Duration::from_secs(5)).await.expect("resync");
        let mut monitor = live_socket(&app, &admin, "view=monitor&layout=cards&since=999999").await.0;
        frame_with(&mut monitor, "id=\"monitor-grid\"", Duration::from_secs(5)).await.expect("resync");
        let token = app.token_for(&ann).await;
        let response = reqwest::Client::new()
            .post(app.url(&format!("/api/task/{ann_task}/progress/")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "progress_percentage": 30, "notes": "zoned" }))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 200);
        let ann_frame = frame_with(&mut ann_socket, &format!("state-{ann_task}"), Duration::from_secs(5)).await.expect("ann's frame");
        assert!(ann_frame.contains(" EST\"") && !ann_frame.contains(" JST\""), "ann's fragment in New York time: {ann_frame}");
        let admin_frame = frame_with(&mut monitor, &format!("mon-{ann_task}"), Duration::from_secs(5)).await.expect("admin's frame");
        assert!(admin_frame.contains(&format!("{tokyo} JST")), "the admin's fragment in Tokyo time: {admin_frame}");
        let _ = bea_task;
    }

    async fn unknown_zones_and_other_roles_change_nothing(app: TestApp) {
        let admin = app.create_user("tz-admin2", Role::Admin).await;
        let ann = app.create_user("tz-ann2", Role::Employee).await;
        let mut admin_web = signed_in(&app, &admin).await;
        admin_web.page("/admin/settings").await;
        let refused = admin_web.post_form("/admin/settings", &[("time_zone", "Mars/Olympus")]).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.expect("body");
        assert!(body.contains("Choose a time zone from the list"), "the form says why");
        assert_eq!(org_zone(&app).await, None, "nothing stored");

        let mut ann_web = signed_in(&app, &ann).await;
        ann_web.page("/profile").await;
        let forbidden = ann_web.post_form("/admin/settings", &[("time_zone", "Asia/Tokyo")]).await;
        assert_eq!(forbidden.status(), 403);
        assert_eq!(org_zone(&app).await, None, "an employee cannot set the organisation's zone");
        let refused = ann_web.post_form("/profile/time-zone", &[("time_zone", "<script>")]).await;
        assert_eq!(refused.status(), 303);
        let (_, profile) = ann_web.page("/profile").await;
        assert!(profile.html().contains("Choose a time zone from the list"), "the profile says why");
        assert_eq!(stored_zone(&app, &ann).await, None, "nothing stored");
        ann_web.post_form("/profile/time-zone", &[("time_zone", "Europe/Berlin")]).await;
        assert_eq!(stored_zone(&app, &ann).await.as_deref(), Some("Europe/Berlin"));
        ann_web.post_form("/profile/time-zone", &[("time_zone", "")]).await;
        assert_eq!(stored_zone(&app, &ann).await, None, "back to the organisation's zone");
    }
}
