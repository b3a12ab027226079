//! Time entries and payroll: hours logged on one's own tasks (validated,
//! locked once their period is approved), the weekly-payroll job in integer
//! cents with a rate change mid-period, approval, payment and the CSV
//! exports (formula injection neutralised, an employee's export holds only
//! their rows).

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde_json::json;
use taskpulse::db::{DbError, now};
use taskpulse::domain::role::Role;
use taskpulse::jobs::JobSettings;
use taskpulse::schema::{assignments, audit_log, payroll_periods, payroll_records, time_entries};
use taskpulse::services::{RequestMeta, payroll};

use crate::both_backends;
use crate::support::*;

/// The Monday of last week, and its days.
fn last_week() -> (NaiveDate, impl Fn(i64) -> String) {
    let today = now().date();
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7);
    (monday, move |offset| (monday + chrono::Duration::days(offset)).to_string())
}

async fn log_time(browser: &Browser, task: i64, day: &str, hours: &str, note: &str) -> reqwest::Response {
    browser.post_form(&format!("/tasks/{task}/time"), &[("work_date", day), ("hours", hours), ("note", note)]).await
}

async fn entry_count(app: &TestApp) -> i64 {
    app.db.read(|c| Ok::<_, DbError>(time_entries::table.count().get_result(c)?)).await.unwrap()
}

async fn actual_hours(app: &TestApp, task: i64, user: i64) -> f64 {
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                assignments::table
                    .filter(assignments::task_id.eq(task))
                    .filter(assignments::user_id.eq(user))
                    .select(assignments::actual_hours)
                    .first(c)?,
            )
        })
        .await
        .unwrap()
}

async fn run_payroll(app: &TestApp, payload: serde_json::Value) -> serde_json::Value {
    run_kind_with(app, "weekly-payroll", payload, JobSettings::default()).await.expect("weekly-payroll ran")
}

/// (user, rate, minutes, pay) of a period, ordered.
async fn records(app: &TestApp, period: i64) -> Vec<(i64, i64, i64, i64)> {
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                payroll_records::table
                    .filter(payroll_records::period_id.eq(period))
                    .order((payroll_records::user_id.asc(), payroll_records::rate_cents.asc()))
                    .select((
                        payroll_records::user_id,
                        payroll_records::rate_cents,
                        payroll_records::minutes,
                        payroll_records::pay_cents,
                    ))
                    .load(c)?,
            )
        })
        .await
        .unwrap()
}

async fn period_status(app: &TestApp, period: i64) -> (String, Option<chrono::NaiveDateTime>) {
    app.db
        .read(move |c| {
            Ok::<_, DbError>(
                payroll_periods::table
                    .find(period)
                    .select((payroll_periods::status, payroll_periods::approved_at))
                    .first(c)?,
            )
        })
        .await
        .unwrap()
}

async fn set_rate(app: &TestApp, admin: &TestUser, user: &TestUser, rate: &str, from: &str) {
    let actor = actor_for(app, admin).await;
    payroll::set_rate(&app.db, &actor, &RequestMeta::default(), user.id, rate, from).await.expect("rate set");
}

both_backends! {
    async fn time_entries_sum_into_actual_hours_and_bad_input_changes_nothing(app: TestApp) {
        let admin = app.create_user("te-admin", Role::Admin).await;
        let ann = app.create_user("te-ann", Role::Employee).await;
        let bob = app.create_user("te-bob", Role::Employee).await;
        let task = create_task(&app, &admin, TaskSpec::new("Wire the panel", &[&ann])).await;
        let bobs = create_task(&app, &admin, TaskSpec::new("Bob's own", &[&bob])).await;
        let (_, day) = last_week();
        let mut browser = app.browser_for(&ann).await;
        let (status, page) = browser.page(&format!("/tasks/{task}/time")).await;
        assert_eq!(status, 200);
        assert_eq!(text_of(&page, "h1").as_deref(), Some(format!("Log time on Wire the panel #{task}").as_str()), "the form names its task");
        assert_eq!(log_time(&browser, task, &day(0), "1.5", "cabling").await.status(), 303);
        assert_eq!(log_time(&browser, task, &day(1), "2:15", "").await.status(), 303);
        assert_eq!(actual_hours(&app, task, ann.id).await, 3.75);
        // The task page lists them with the total.
        let (_, page) = browser.page(&format!("/tasks/{task}")).await;
        assert_eq!(crate::support::count_of(&page, "#task-time tbody tr"), 2);

        let tomorrow = (now().date() + chrono::Duration::days(1)).to_string();
        // (what, day: past | future | garbage, hours, the field blamed)
        let bad = [
            ("negative", "past", "-1", "hours"),
            ("zero", "past", "0", "hours"),
            ("over a day", "past", "24.5", "hours"),
            ("not a number", "past", "lots", "hours"),
            ("empty", "past", "", "hours"),
            ("bad minutes", "past", "1:75", "hours"),
            ("future day", "future", "1", "work_date"),
            ("no day", "garbage", "1", "work_date"),
            ("a day over 24 h", "past", "23", "hours"),
        ];
        let before = entry_count(&app).await;
        for (what, when, hours, field) in bad {
            let date = match when { "future" => tomorrow.clone(), "garbage" => "someday".to_string(), _ => day(0) };
            let response = log_time(&browser, task, &date, hours, "").await;
            assert_eq!(response.status(), 422, "{what}");
            let html = scraper::Html::parse_document(&response.text().await.unwrap());
            assert_eq!(crate::support::count_of(&html, &format!("#{field}-error")), 1, "{what}: error shown on {field}");
            assert_eq!(crate::support::count_of(&html, &format!("input[name=hours][value=\"{hours}\"]")), 1, "{what}: input kept");
        }
        let long_note = "x".repeat(501);
        assert_eq!(log_time(&browser, task, &day(0), "1", &long_note).await.status(), 422);
        // Someone else's task: invisible to Ann, so "not found".
        assert_eq!(log_time(&browser, bobs, &day(0), "1", "").await.status(), 404);
        // An admin sees the task but does not work on it.
        let mut admin_browser = app.browser_for(&admin).await;
        admin_browser.page("/").await;
        let response = log_time(&admin_browser, task, &day(0), "1", "").await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("only on tasks assigned to you"));
        assert_eq!(entry_count(&app).await, before, "nothing written");

        // Ann's entry is hers alone: Bob cannot see, edit or remove it.
        let first: i64 = app.db.read(|c| Ok::<_, DbError>(time_entries::table.select(time_entries::id).order(time_entries::id.asc()).first(c)?)).await.unwrap();
        let mut bob_browser = app.browser_for(&bob).await;
        bob_browser.page("/").await;
        assert_eq!(bob_browser.get(&format!("/time/{first}/edit")).await.status(), 404);
        assert_eq!(bob_browser.post_form(&format!("/time/{first}/edit"), &[("work_date", &day(0)), ("hours", "9"), ("note", "")]).await.status(), 404);
        assert_eq!(bob_browser.post_form(&format!("/time/{first}/delete"), &[]).await.status(), 404);

        // Ann edits and removes; the total follows and each change is audited.
        assert_eq!(browser.post_form(&format!("/time/{first}/edit"), &[("work_date", &day(0)), ("hours", "2"), ("note", "more")]).await.status(), 303);
        assert_eq!(actual_hours(&app, task, ann.id).await, 4.25);
        assert_eq!(browser.post_form(&format!("/time/{first}/delete"), &[]).await.status(), 303);
        assert_eq!(actual_hours(&app, task, ann.id).await, 2.25);
        let audited: i64 = app.db.read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::action.like("time_entry.%")).count().get_result(c)?)).await.unwrap();
        assert_eq!(audited, 4, "two creates, an update, a delete");
    }

    async fn weekly_payroll_pays_in_cents_across_a_mid_period_rate_change(app: TestApp) {
        let admin = app.create_user("pay-admin", Role::Admin).await;
        let ann = app.create_user("pay-ann", Role::Employee).await;
        let bob = app.create_user("pay-bob", Role::Employee).await;
        let task = create_task(&app, &admin, TaskSpec::new("Build", &[&ann, &bob])).await;
        let (monday, day) = last_week();
        set_rate(&app, &admin, &ann, "20", "2000-01-01").await;
        set_rate(&app, &admin, &bob, "30.00", "2000-01-01").await;
        let ann_browser = { let mut b = app.browser_for(&ann).await; b.page("/").await; b };
        let bob_browser = { let mut b = app.browser_for(&bob).await; b.page("/").await; b };
        for (d, hours) in [(0, "8"), (2, "7.5"), (3, "6:40"), (6, "0:20")] {
            assert_eq!(log_time(&ann_browser, task, &day(d), hours, "").await.status(), 303);
        }
        assert_eq!(log_time(&bob_browser, task, &day(1), "1:01", "").await.status(), 303);
        // Ann's rate goes up from Thursday.
        set_rate(&app, &admin, &ann, "26", &day(3)).await;

        // Run for the Monday 07:00 slot after that week: the previous week.
        let slot = format!("{}T07:00:00Z", monday + chrono::Duration::days(7));
        let summary = run_payroll(&app, json!({ "slot": slot })).await;
        assert_eq!(summary["starts_on"], monday.to_string());
        assert_eq!(summary["ends_on"], day(6));
        let period = summary["period_id"].as_i64().unwrap();
        let expected = vec![
            // 930 min at 20.00 = 310.00; 420 min at 26.00 = 182.00
            (ann.id, 2_000, 930, 31_000),
            (ann.id, 2_600, 420, 18_200),
            // 61 min at 30.00 = 30.50
            (bob.id, 3_000, 61, 3_050),
        ];
        assert_eq!(records(&app, period).await, expected);
        assert_eq!(summary["total_cents"], 52_250);
        // Run twice: the same period and the same records.
        let again = run_payroll(&app, json!({ "slot": slot })).await;
        assert_eq!(again["period_id"], period);
        assert_eq!(records(&app, period).await, expected);

        // A pending period follows its entries.
        assert_eq!(log_time(&bob_browser, task, &day(1), "1", "").await.status(), 303);
        assert_eq!(records(&app, period).await[2], (bob.id, 3_000, 121, 6_050));

        // The admin approves; a second approval is refused and changes nothing.
        let mut admin_browser = app.browser_for(&admin).await;
        let (status, page) = admin_browser.page(&format!("/payroll/{period}")).await;
        assert_eq!(status, 200);
        assert_eq!(crate::support::text_of(&page, "#total-pay").as_deref(), Some("$552.50"), "in the configured currency (USD by default)");
        assert_eq!(admin_browser.post_form(&format!("/payroll/{period}/approve"), &[]).await.status(), 303);
        let approved = period_status(&app, period).await;
        assert_eq!(approved.0, "approved");
        let response = admin_browser.post_form(&format!("/payroll/{period}/approve"), &[]).await;
        assert_eq!(response.status(), 303);
        let (_, page) = admin_browser.page(&format!("/payroll/{period}")).await;
        assert!(crate::support::text_of(&page, ".flash-error").unwrap_or_default().contains("already approved"));
        assert_eq!(period_status(&app, period).await, approved, "unchanged");

        // Its entries are locked now: no new entry, edit or removal in it.
        let before = entry_count(&app).await;
        assert_eq!(log_time(&ann_browser, task, &day(4), "1", "").await.status(), 422);
        let ann_entry: i64 = app.db.read(move |c| Ok::<_, DbError>(time_entries::table.filter(time_entries::user_id.eq(ann.id)).select(time_entries::id).first(c)?)).await.unwrap();
        assert_eq!(ann_browser.post_form(&format!("/time/{ann_entry}/edit"), &[("work_date", &day(0)), ("hours", "1"), ("note", "")]).await.status(), 422);
        assert_eq!(ann_browser.post_form(&format!("/time/{ann_entry}/delete"), &[]).await.status(), 303, "refused with a message");
        assert_eq!(entry_count(&app).await, before);
        // The job run again leaves an approved period alone.
        run_payroll(&app, json!({ "slot": slot })).await;
        assert_eq!(records(&app, period).await[2], (bob.id, 3_000, 121, 6_050));
        // A rate change inside an approved period is refused.
        let actor = actor_for(&app, &admin).await;
        let refused = payroll::set_rate(&app.db, &actor, &RequestMeta::default(), ann.id, "50", &day(2)).await;
        assert!(matches!(refused, Err(taskpulse::services::ServiceError::Invalid(_))));

        // A hostile display name cannot become a formula in the CSV.
        let bob_id = bob.id;
        app.db.write(move |c| { diesel::update(taskpulse::schema::users::table.find(bob_id)).set(taskpulse::schema::users::full_name.eq("=cmd|' /C calc'!A0")).execute(c)?; Ok::<_, DbError>(()) }).await.unwrap();
        // Paid, then the CSV.
        assert_eq!(admin_browser.post_form(&format!("/payroll/{period}/paid"), &[]).await.status(), 303);
        assert_eq!(period_status(&app, period).await.0, "paid");
        let csv = admin_browser.get(&format!("/payroll/{period}/export.csv")).await;
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let body = csv.text().await.unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], "period_start,period_end,status,username,full_name,hours,rate,pay");
        assert_eq!(lines.len(), 4);
        assert!(lines[1].ends_with(",15.5,20.00,310.00"), "{}", lines[1]);
        assert!(lines[3].ends_with(",2.02,30.00,60.50"), "{}", lines[3]);
        assert!(lines[3].contains(",'=cmd|' /C calc'!A0,"), "{}", lines[3]);
        // Employees may not see payroll.
        assert_eq!(ann_browser.get(&format!("/payroll/{period}/export.csv")).await.status(), 403);
        assert_eq!(ann_browser.get("/payroll").await.status(), 403);
    }

    async fn exports_neutralise_formulas_and_hold_only_the_callers_rows(app: TestApp) {
        let admin = app.create_user("csv-admin", Role::Admin).await;
        let ann = app.create_user("csv-ann", Role::Employee).await;
        let bob = app.create_user("csv-bob", Role::Employee).await;
        let task = create_task(&app, &admin, TaskSpec::new("=HYPERLINK(\"http://evil.example\",\"x\")", &[&ann, &bob])).await;
        let (monday, day) = last_week();
        let ann_browser = { let mut b = app.browser_for(&ann).await; b.page("/").await; b };
        let bob_browser = { let mut b = app.browser_for(&bob).await; b.page("/").await; b };
        for note in ["=1+1", "+SUM(A1)", "-2", "@cmd", "plain, with \"quotes\"", "x;=1+1"] {
            assert_eq!(log_time(&ann_browser, task, &day(1), "0.5", note).await.status(), 303);
        }
        assert_eq!(log_time(&bob_browser, task, &day(1), "1", "bob's secret").await.status(), 303);
        let csv = ann_browser.get(&format!("/time/export.csv?from={monday}&to={}", day(6))).await;
        assert_eq!(csv.status(), 200);
        let body = csv.text().await.unwrap();
        assert!(!body.contains("bob's secret"), "only Ann's rows");
        assert_eq!(body.lines().count(), 7);
        for line in body.lines().skip(1) {
            assert!(line.contains("'=HYPERLINK"), "title neutralised: {line}");
            assert!(!line.contains(",=") && !line.contains(",+") && !line.contains(",@") && !line.contains(",-2"), "{line}");
        }
        assert!(body.contains(",'=1+1\r\n") && body.contains(",'+SUM(A1)\r\n") && body.contains(",'-2\r\n") && body.contains(",'@cmd\r\n"));
        assert!(body.contains(",\"plain, with \"\"quotes\"\"\"\r\n"));
        // A semicolon (the separator of many locales) is always quoted.
        assert!(body.contains(",\"x;=1+1\"\r\n"), "{body}");
        // A bad range is a clear 4xx.
        assert_eq!(ann_browser.get("/time/export.csv?from=yesterday").await.status(), 422);
        // The week page shows Ann's entries only.
        let mut ann_browser = ann_browser;
        let (_, page) = ann_browser.page(&format!("/time?week={monday}")).await;
        assert_eq!(crate::support::count_of(&page, "#time-entries tbody tr"), 6);
    }

    async fn concurrent_entries_never_pass_a_full_day_or_slip_past_an_approval(app: TestApp) {
        let admin = app.create_user("race-admin", Role::Admin).await;
        let ann = app.create_user("race-ann", Role::Employee).await;
        let task = create_task(&app, &admin, TaskSpec::new("Race", &[&ann])).await;
        let (monday, day) = last_week();
        let actor = actor_for(&app, &ann).await;
        let meta = RequestMeta::default();
        let input = |d: String, hours: &str| taskpulse::services::time_entries::EntryInput { work_date: d, hours: hours.into(), note: String::new() };
        // Eight 4-hour entries at once on one day: six fit.
        let attempts = (0..8).map(|_| taskpulse::services::time_entries::log(&app.db, &actor, &meta, task, input(day(2), "4")));
        let results = futures_util::future::join_all(attempts).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 6);
        assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(taskpulse::services::ServiceError::Invalid(_)))));
        assert_eq!(actual_hours(&app, task, ann.id).await, 24.0);

        // Entries racing an approval: whatever got in is paid, nothing else.
        let admin_actor = actor_for(&app, &admin).await;
        let period = payroll::generate_week(&app.db, &admin_actor, &RequestMeta::default(), &monday.to_string()).await.unwrap();
        let entries = (3..6).map(|d| taskpulse::services::time_entries::log(&app.db, &actor, &meta, task, input(day(d), "2")));
        let approve = payroll::advance(&app.db, &admin_actor, &meta, period, taskpulse::domain::payroll::PeriodStatus::Approved);
        let (logged, approved) = tokio::join!(futures_util::future::join_all(entries), approve);
        approved.unwrap();
        let accepted = logged.iter().filter(|r| r.is_ok()).count() as i64;
        let paid: i64 = records(&app, period).await.iter().map(|r| r.2).sum();
        assert_eq!(paid, 24 * 60 + accepted * 120, "the approved records hold exactly the accepted entries");
    }

    async fn weeks_out_of_range_or_not_yet_over_are_refused(app: TestApp) {
        let admin = app.create_user("week-admin", Role::Admin).await;
        let mut browser = app.browser_for(&admin).await;
        browser.page("/payroll").await;
        let today = now().date();
        let this_week = today.to_string();
        for week in ["9999-12-31", "10000-01-02", "1999-12-27", "2027-06-01", this_week.as_str(), "2026-13-01"] {
            let response = browser.post_form("/payroll", &[("week", week)]).await;
            assert_eq!(response.status(), 422, "week={week}");
            let body = response.text().await.unwrap();
            assert!(body.contains("field-error") || body.contains("flash-error"), "a clear message for {week}");
        }
        let periods = app
            .db
            .read(|c| Ok::<_, DbError>(taskpulse::schema::payroll_periods::table.count().get_result::<i64>(c)?))
            .await
            .unwrap();
        assert_eq!(periods, 0, "nothing written");
        // The job refuses an explicit week that is not over, too.
        let (monday, _) = last_week();
        let refused = crate::support::run_kind_with(&app, "weekly-payroll", json!({ "week": this_week }), Default::default()).await;
        assert!(refused.is_err());
        let paid = crate::support::run_kind_with(&app, "weekly-payroll", json!({ "week": monday.to_string() }), Default::default()).await;
        assert!(paid.is_ok(), "{paid:?}");
    }
}
