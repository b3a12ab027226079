//! The scheduled jobs beyond the engine's own: the high-priority alert, the
//! stale-progress reminder and the archiving of read notifications. Each
//! keeps a summary and, run twice for the same slot, sends each message once.

use diesel::prelude::*;
use serde_json::json;
use taskpulse::db::{DbError, now};
use taskpulse::domain::role::Role;
use taskpulse::jobs::JobSettings;
use taskpulse::live::LiveBus;
use taskpulse::schema::{notifications, tasks};
use taskpulse::services::assign;

use crate::both_backends;
use crate::support::*;

async fn run_job(app: &TestApp, kind: &str, payload: serde_json::Value) -> serde_json::Value {
    run_kind_with(app, kind, payload, JobSettings::default()).await.unwrap_or_else(|e| panic!("{kind} failed: {e}"))
}

async fn titles(app: &TestApp, user: &TestUser, kind: &'static str) -> Vec<String> {
    let id = user.id;
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                notifications::table
                    .filter(notifications::user_id.eq(id))
                    .filter(notifications::kind.eq(kind))
                    .select(notifications::title)
                    .order(notifications::id.asc())
                    .load::<String>(c)?,
            )
        })
        .await
        .unwrap()
}

async fn project_task(app: &TestApp, creator: &TestUser, project: i64, title: &str, priority: &str, who: &TestUser) {
    let actor = actor_for(app, creator).await;
    let input = assign::TaskInput {
        title: title.into(),
        project_id: Some(project),
        assignee_ids: vec![who.id],
        priority: priority.into(),
        ..Default::default()
    };
    assign::create(&app.db, &LiveBus::default(), &actor, input).await.expect("task created");
}

both_backends! {
    async fn a_busy_project_alerts_its_manager_and_the_admins_once(app: TestApp) {
        let admin = app.create_user("hp-admin", Role::Admin).await;
        let manager = app.create_user("hp-manager", Role::Manager).await;
        let other_manager = app.create_user("hp-other", Role::Manager).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let (busy, calm) = app
            .db
            .write({
                let (manager, other) = (manager.id, other_manager.id);
                move |c| {
                    let at = now();
                    let busy = taskpulse::store::org::ensure_project(c, "Apollo", "", None, Some(manager), at)?;
                    let calm = taskpulse::store::org::ensure_project(c, "Gemini", "", None, Some(other), at)?;
                    Ok::<_, DbError>((busy, calm))
                }
            })
            .await
            .unwrap();
        for (n, priority) in ["HIGH", "URGENT", "HIGH"].into_iter().enumerate() {
            project_task(&app, &admin, busy, &format!("Apollo {n}"), priority, &ann).await;
        }
        project_task(&app, &admin, busy, "Apollo low", "LOW", &ann).await;
        project_task(&app, &admin, calm, "Gemini 1", "HIGH", &ann).await;
        project_task(&app, &admin, calm, "Gemini 2", "URGENT", &ann).await;

        let slot = json!({ "slot": "2026-12-01T09:00:00+00:00" });
        let summary = run_job(&app, "high-priority-alert", slot.clone()).await;
        assert_eq!(summary, json!({ "date": "2026-12-01", "alerts_sent": 2, "threshold": 3 }));
        assert_eq!(titles(&app, &manager, "high_priority").await, ["Apollo: 3 open high-priority tasks"]);
        assert_eq!(titles(&app, &admin, "high_priority").await, ["Apollo: 3 open high-priority tasks"]);
        assert!(titles(&app, &other_manager, "high_priority").await.is_empty(), "two open HIGH/URGENT is under the threshold");

        let again = run_job(&app, "high-priority-alert", slot).await;
        assert_eq!(again["alerts_sent"], 0, "the same slot sends nothing twice");
        assert_eq!(titles(&app, &manager, "high_priority").await.len(), 1);

        let lower = run_job(&app, "high-priority-alert", json!({ "slot": "2026-12-01T09:00:00+00:00", "threshold": 2 })).await;
        assert_eq!(lower["alerts_sent"], 2, "a lower threshold alerts Gemini's manager and the admin");
        assert_eq!(titles(&app, &other_manager, "high_priority").await, ["Gemini: 2 open high-priority tasks"]);
    }

    async fn stale_in_progress_tasks_remind_their_assignees_once(app: TestApp) {
        let admin = app.create_user("sp-admin", Role::Admin).await;
        let ann = app.create_user("ann", Role::Employee).await;
        let stale = create_task(&app, &admin, TaskSpec::new("Stuck", &[&ann])).await;
        let fresh = create_task(&app, &admin, TaskSpec::new("Moving", &[&ann])).await;
        let pending = create_task(&app, &admin, TaskSpec::new("Not started", &[&ann])).await;
        let set = |id: i64, status: &'static str, at: chrono::NaiveDateTime| {
            app.db.write(move |c| {
                Ok::<_, DbError>(
                    diesel::update(tasks::table.find(id))
                        .set((tasks::status.eq(status), tasks::progress.eq(40), tasks::last_progress_update_at.eq(Some(at))))
                        .execute(c)?,
                )
            })
        };
        let day = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // Slot: Monday 2026-11-30 17:15; the previous working day is Friday 27th.
        set(stale, "IN_PROGRESS", day("2026-11-26 16:00")).await.unwrap();
        set(fresh, "IN_PROGRESS", day("2026-11-27 10:00")).await.unwrap();
        set(pending, "PENDING", day("2026-11-20 10:00")).await.unwrap();

        let slot = json!({ "slot": "2026-11-30T17:15:00+00:00" });
        let summary = run_job(&app, "stale-progress", slot.clone()).await;
        assert_eq!(summary, json!({ "date": "2026-11-30", "stale_tasks": 1, "reminders_sent": 1 }));
        assert_eq!(titles(&app, &ann, "stale_progress").await, ["No progress lately: Stuck"]);
        let again = run_job(&app, "stale-progress", slot).await;
        assert_eq!(again["reminders_sent"], 0);
        assert_eq!(titles(&app, &ann, "stale_progress").await.len(), 1);
    }

    async fn read_notifications_are_archived_after_thirty_days(app: TestApp) {
        let ann = app.create_user("ann", Role::Employee).await;
        let id = ann.id;
        let at = now();
        app.db
            .write(move |c| {
                for (title, read) in [("old read", Some(at - chrono::Duration::days(31))), ("recent read", Some(at - chrono::Duration::days(2))), ("unread", None)] {
                    diesel::insert_into(notifications::table)
                        .values((
                            notifications::user_id.eq(id),
                            notifications::kind.eq("note"),
                            notifications::title.eq(title),
                            notifications::read_at.eq(read),
                            notifications::created_at.eq(at - chrono::Duration::days(40)),
                        ))
                        .execute(c)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        let summary = run_job(&app, "cleanup-notifications", json!({})).await;
        assert_eq!(summary, json!({ "archived": 1, "older_than_days": 30 }));
        let archived: Vec<String> = app
            .db
            .read(move |c| {
                Ok::<_, DbError>(
                    notifications::table
                        .filter(notifications::archived_at.is_not_null())
                        .select(notifications::title)
                        .load(c)?,
                )
            })
            .await
            .unwrap();
        assert_eq!(archived, ["old read"]);
        assert_eq!(run_job(&app, "cleanup-notifications", json!({})).await["archived"], 0, "idempotent");
    }
}
