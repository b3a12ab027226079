//! The Jobs page updates live: admins' open pages get the queue's new state
//! over their socket (escaped, with their own CSRF token in the forms);
//! nobody else's socket receives it.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use taskpulse::db::DbError;
use taskpulse::domain::role::Role;
use taskpulse::jobs::{EnqueueOptions, enqueue_in};

use crate::both_backends;
use crate::support::*;

both_backends! {
    async fn the_jobs_page_follows_the_queue_live_for_admins_only(app: TestApp) {
        let admin = app.create_user("live-admin", Role::Admin).await;
        let manager = app.create_user("live-manager", Role::Manager).await;
        let (mut admin_socket, csrf) = live_socket(&app, &admin, "view=jobs").await;
        let (mut manager_socket, _) = live_socket(&app, &manager, "view=jobs").await;
        // On connect the page is brought up to date.
        let first = frame_with(&mut admin_socket, "id=\"jobs-live\"", Duration::from_secs(5)).await.expect("a fresh queue on connect");
        assert!(first.contains("hx-swap-oob"));

        // A job enqueued elsewhere (a use case's transaction), then dead with
        // a hostile error, then announced as the engine does.
        let now = taskpulse::db::now();
        let id = app
            .db
            .write(move |c| {
                let id = enqueue_in(c, "overdue-tasks", &json!({}), &EnqueueOptions::default(), now)?.expect("new");
                diesel::update(taskpulse::schema::jobs::table.find(id))
                    .set((
                        taskpulse::schema::jobs::state.eq("dead"),
                        taskpulse::schema::jobs::last_error.eq("<script>alert('x')</script>"),
                    ))
                    .execute(c)?;
                Ok::<_, DbError>(id)
            })
            .await
            .unwrap();
        app.bus.jobs_changed();
        let frame = frame_with(&mut admin_socket, &format!("id=\"job-{id}\""), Duration::from_secs(5)).await.expect("the new job arrives live");
        assert!(frame.contains("data-count=\"dead\">1<"), "counts follow: {frame}");
        assert!(frame.contains("&#60;script&#62;") && !frame.contains("<script>"), "escaped: {frame}");
        assert!(frame.contains(&format!("value=\"{csrf}\"")), "the retry form carries the viewer's own token");

        // A manager's socket asking for the jobs view gets nothing of it.
        assert!(frame_with(&mut manager_socket, "jobs-live", Duration::from_millis(1500)).await.is_none());
        // Closed, and their presence settled, before the database goes.
        let _ = admin_socket.close(None).await;
        let _ = manager_socket.close(None).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
