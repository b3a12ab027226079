//! The job-monitoring endpoints of seed 000: a job's status in the seed's
//! terms, and the automation log, paged.

use taskpulse::domain::role::Role;
use taskpulse::jobs::EnqueueOptions;

use crate::both_backends;
use crate::support::*;

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().get(app.url(path)).bearer_auth(token).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

both_backends! {
    async fn job_status_speaks_the_seeds_terms(app: TestApp) {
        let admin = app.create_user("jobs-admin", Role::Admin).await;
        let employee = app.create_user("jobs-emp", Role::Employee).await;
        let token = app.token_for(&admin).await;
        let engine = taskpulse::jobs::Jobs::new(
            app.db.clone(),
            Default::default(),
            std::sync::Arc::new(taskpulse::jobs::SystemClock),
            Default::default(),
        );
        let id = engine.enqueue("cleanup-jobs", serde_json::json!({}), EnqueueOptions::default()).await.unwrap().unwrap();

        let (status, body) = get(&app, &token, &format!("/automation/jobs/{id}/status")).await;
        assert_eq!(status, 200);
        assert_eq!((body["job_id"].as_str(), body["status"].as_str()), (Some(id.to_string().as_str()), Some("PENDING")));
        assert!(body["result"].is_null());

        engine.run_due_now().await.unwrap();
        let (_, body) = get(&app, &token, &format!("/automation/jobs/{id}/status")).await;
        assert_eq!(body["status"], "SUCCESS");
        assert_eq!(body["result"]["pruned"], 0);

        assert_eq!(get(&app, &token, "/automation/jobs/999999/status").await.0, 404);
        assert_eq!(get(&app, &token, "/automation/jobs/abc/status").await.0, 404);
        let employee_token = app.token_for(&employee).await;
        assert_eq!(get(&app, &employee_token, &format!("/automation/jobs/{id}/status")).await.0, 403);
    }

    async fn the_automation_log_pages_the_audit_trail(app: TestApp) {
        let admin = app.create_user("log-admin", Role::Admin).await;
        let employee = app.create_user("log-emp", Role::Employee).await;
        let token = app.token_for(&admin).await;
        // Some audited events: denied admin pages for the employee.
        let browser = app.browser_for(&employee).await;
        for _ in 0..3 {
            browser.get("/admin/users").await;
        }
        let (status, body) = get(&app, &token, "/automation/automation-log?page=1&per_page=2").await;
        assert_eq!(status, 200);
        let total = body["total"].as_i64().unwrap();
        assert!(total >= 3, "denials are in the log: {body}");
        assert_eq!(body["pages"].as_i64().unwrap(), (total + 1) / 2);
        assert_eq!(body["current_page"], 1);
        let logs = body["logs"].as_array().unwrap();
        assert_eq!(logs.len(), 2);
        for key in ["id", "user", "action", "resource_type", "resource_id", "status", "created_at"] {
            assert!(logs[0].get(key).is_some(), "log entries carry {key}: {}", logs[0]);
        }
        let (_, page2) = get(&app, &token, "/automation/automation-log?page=2&per_page=2").await;
        assert_ne!(page2["logs"][0]["id"], logs[0]["id"], "page 2 holds other entries");

        for bad in ["page=0", "per_page=500", "page=x", "sort=id"] {
            let (status, body) = get(&app, &token, &format!("/automation/automation-log?{bad}")).await;
            assert!(status == 400 || status == 422, "{bad}: {status}");
            assert!(body["error"].is_string(), "{bad}: JSON error");
        }
        let employee_token = app.token_for(&employee).await;
        assert_eq!(get(&app, &employee_token, "/automation/automation-log").await.0, 403);
    }
}

both_backends! {
    async fn the_jobs_page_lists_runs_edits_and_retries(app: TestApp) {
        let admin = app.create_user("page-admin", Role::Admin).await;
        let engine = taskpulse::jobs::Jobs::new(
            app.db.clone(),
            Default::default(),
            std::sync::Arc::new(taskpulse::jobs::SystemClock),
            Default::default(),
        );
        taskpulse::jobs::scheduler::ensure_defaults(&engine).await.unwrap();
        let mut browser = app.browser_for(&admin).await;
        let (status, page) = browser.page("/jobs").await;
        assert_eq!(status, 200);
        assert_eq!(count_of(&page, "#schedule-overdue-tasks"), 1);
        assert_eq!(count_of(&page, "#schedule-cleanup-jobs"), 1);

        // Run now queues the schedule's job.
        let response = browser.post_form("/jobs/run", &[("name", "cleanup-jobs")]).await;
        assert_eq!(response.status(), 303);
        let (counts, recent) = engine.overview(10).await.unwrap();
        assert_eq!(counts, vec![("pending".to_string(), 1)]);
        assert_eq!(recent[0].kind, "cleanup-jobs");
        let response = browser.post_form("/jobs/run", &[("name", "bogus")]).await;
        assert_eq!(response.status(), 303);
        let (_, page) = browser.page("/jobs").await;
        assert!(text_of(&page, ".flash-error").unwrap_or_default().contains("Unknown job 'bogus'"));
        assert_eq!(engine.overview(10).await.unwrap().1.len(), 1, "nothing queued for an unknown name");

        // An invalid schedule is refused as a whole; a valid one is saved.
        let bad = browser.post_form("/jobs/schedules/overdue-tasks", &[("cron", "99 * * *"), ("timezone", "Nowhere/City"), ("catch_up", "once"), ("enabled", "on")]).await;
        assert_eq!(bad.status(), 303);
        let (_, page) = browser.page("/jobs").await;
        let message = text_of(&page, ".flash-error").unwrap_or_default();
        assert!(message.contains("cron") && message.contains("time zone"), "both errors named: {message}");
        let schedules = engine.schedules().await.unwrap();
        let overdue = &schedules.iter().find(|(s, _)| s.name == "overdue-tasks").unwrap().0;
        assert_eq!((overdue.cron.as_str(), overdue.timezone.as_str()), ("0 6 * * *", "UTC"), "nothing changed");
        let good = browser.post_form("/jobs/schedules/overdue-tasks", &[("cron", "15 7 * * 1-5"), ("timezone", "Europe/Berlin"), ("catch_up", "skip")]).await;
        assert_eq!(good.status(), 303);
        let schedules = engine.schedules().await.unwrap();
        let (overdue, next) = schedules.iter().find(|(s, _)| s.name == "overdue-tasks").unwrap();
        assert_eq!((overdue.cron.as_str(), overdue.timezone.as_str(), overdue.enabled, overdue.catch_up.as_str()), ("15 7 * * 1-5", "Europe/Berlin", false, "skip"));
        assert!(next.is_none(), "a paused schedule has no next run");

        // Retrying a job that is not dead is refused with a message.
        let id = engine.overview(1).await.unwrap().1[0].id;
        let response = browser.post_form(&format!("/jobs/{id}/retry"), &[]).await;
        assert_eq!(response.status(), 303);
        let (_, page) = browser.page("/jobs").await;
        assert!(text_of(&page, ".flash-error").unwrap_or_default().contains("Only a dead job"));
    }
}
