//! Notification email through the outbox and the .eml file transport: the
//! hourly digest, immediate messages, "off", idempotent runs, a failing
//! transport that keeps messages for the next run, escaping in the HTML
//! part, the preference form and the admins' test email.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use serde_json::json;
use taskpulse::db::{DbError, now};
use taskpulse::domain::role::Role;
use taskpulse::jobs::JobSettings;
use taskpulse::mail::MailSettings;
use taskpulse::schema::{jobs, notifications, outbound_emails, users};
use taskpulse::store::notifications::{NewNotification, add_once};

use crate::both_backends;
use crate::support::*;

fn mail_settings(dir: &Path) -> MailSettings {
    MailSettings::files(dir.to_path_buf(), "https://tasks.example.com")
}

async fn run_kind(app: &TestApp, kind: &str, mail: MailSettings) -> Result<serde_json::Value, String> {
    run_kind_with(app, kind, json!({}), JobSettings { mail, ..JobSettings::default() }).await
}

async fn set_preference(app: &TestApp, user: &TestUser, preference: &'static str) {
    let id = user.id;
    app.db
        .write(move |c| {
            diesel::update(users::table.find(id)).set(users::email_preference.eq(preference)).execute(c)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

async fn notify(app: &TestApp, user: &TestUser, title: &str, task: Option<i64>) {
    let note = NewNotification {
        user_id: user.id,
        kind: "test".into(),
        title: title.into(),
        body: "Body <b>text</b> & more".into(),
        task_id: task,
        created_at: now(),
    };
    app.db.write(move |c| Ok::<_, DbError>(add_once(c, &note, now())?)).await.unwrap();
}

/// The .eml files in `dir`, decoded (quoted-printable parts unfolded).
fn mails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
    paths.sort();
    paths.iter().map(|p| decode_quoted_printable(&std::fs::read_to_string(p).unwrap())).collect()
}

fn decode_quoted_printable(raw: &str) -> String {
    let unfolded = raw.replace("=\r\n", "");
    let bytes = unfolded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The header block of a message.
fn headers(mail: &str) -> &str {
    mail.split("\r\n\r\n").next().unwrap_or("")
}

async fn unsent(app: &TestApp) -> Vec<(i32, Option<String>)> {
    app.db
        .read(|c| {
            Ok::<_, DbError>(
                outbound_emails::table
                    .filter(outbound_emails::sent_at.is_null())
                    .select((outbound_emails::attempts, outbound_emails::last_error))
                    .load(c)?,
            )
        })
        .await
        .unwrap()
}

async fn preference_of(app: &TestApp, user: &TestUser) -> String {
    let id = user.id;
    app.db
        .read(move |c| Ok::<_, DbError>(users::table.find(id).select(users::email_preference).first::<String>(c)?))
        .await
        .unwrap()
}

both_backends! {
    async fn the_hourly_digest_gathers_unread_notifications_once(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        let admin = app.create_user("mail-admin", Role::Admin).await;
        let ann = app.create_user("mail-ann", Role::Employee).await;
        let quiet = app.create_user("mail-quiet", Role::Employee).await;
        set_preference(&app, &quiet, "off").await;
        let task = create_task(&app, &admin, TaskSpec::new("Fix the <script>alert(1)</script> bug", &[&ann])).await;
        forget_notifications(&app).await;
        notify(&app, &ann, "Overdue: Fix the <script>alert(1)</script> bug", Some(task)).await;
        notify(&app, &ann, "Second\r\nBcc: victim@example.com", None).await;
        notify(&app, &quiet, "Not for email", None).await;
        // A read notification is not emailed.
        notify(&app, &ann, "Already read", None).await;
        app.db.write(|c| { diesel::update(notifications::table.filter(notifications::title.eq("Already read"))).set(notifications::read_at.eq(now())).execute(c)?; Ok::<_, DbError>(()) }).await.unwrap();

        let summary = run_kind(&app, "send-pending-notifications", mail_settings(dir.path())).await.unwrap();
        assert_eq!(summary, json!({ "queued": 1, "sent": 1 }));
        let sent = mails(dir.path());
        assert_eq!(sent.len(), 1, "one digest for Ann, none for the user who chose off");
        let mail = &sent[0];
        let head = headers(mail);
        assert!(head.contains("To: mail-ann@example.com") || head.contains("mail-ann@"), "{head}");
        assert!(head.contains("Subject: Taskpulse: 2 new notifications"), "{head}");
        assert!(!head.contains("Bcc:"), "no header injection: {head}");
        // The text part is plain; the HTML part is escaped.
        assert!(mail.contains("Overdue: Fix the <script>alert(1)</script> bug"));
        assert!(mail.contains("Overdue: Fix the &#60;script&#62;alert(1)&#60;/script&#62; bug"), "{mail}");
        assert!(mail.contains("Body &#60;b&#62;text&#60;/b&#62; &#38; more"));
        let html = mail.split("Content-Type: text/html").nth(1).expect("an HTML part");
        assert!(!html.contains("<script>") && !html.contains("<b>"), "nothing hostile unescaped in HTML");
        assert!(mail.contains(&format!("https://tasks.example.com/tasks/{task}")));
        assert!(!mail.contains("Already read") && !mail.contains("Not for email"));

        // Run again (same slot or the next hour): nothing new to send.
        let again = run_kind(&app, "send-pending-notifications", mail_settings(dir.path())).await.unwrap();
        assert_eq!(again, json!({ "queued": 0, "sent": 0 }));
        assert_eq!(mails(dir.path()).len(), 1);
        // A new notification goes out in the next digest, alone.
        notify(&app, &ann, "Third", None).await;
        run_kind(&app, "send-pending-notifications", mail_settings(dir.path())).await.unwrap();
        let sent = mails(dir.path());
        assert_eq!(sent.len(), 2);
        assert_eq!(sent.iter().filter(|m| headers(m).contains("Subject: Taskpulse: Third")).count(), 1);
    }

    async fn immediate_users_get_each_notification_as_it_happens(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        let admin = app.create_user("imm-admin", Role::Admin).await;
        let ivy = app.create_user("imm-ivy", Role::Employee).await;
        let dan = app.create_user("imm-dan", Role::Employee).await;
        set_preference(&app, &ivy, "immediate").await;
        let a = create_task(&app, &admin, TaskSpec::new("Late one", &[&ivy, &dan])).await;
        let b = create_task(&app, &admin, TaskSpec::new("Late two", &[&ivy])).await;
        for task in [a, b] {
            set_due(&app, task, now() - chrono::Duration::days(2)).await;
        }
        forget_notifications(&app).await;
        // The overdue job notifies and, in the same transaction, queues delivery.
        run_kind(&app, "overdue-tasks", mail_settings(dir.path())).await.unwrap();
        let queued: Vec<String> = app.db.read(|c| Ok::<_, DbError>(jobs::table.filter(jobs::kind.eq("deliver-email")).select(jobs::state).load(c)?)).await.unwrap();
        assert_eq!(queued, vec!["pending".to_string()], "one delivery job, unique while waiting");
        let summary = run_kind(&app, "deliver-email", mail_settings(dir.path())).await.unwrap();
        assert_eq!(summary, json!({ "queued": 2, "sent": 2 }), "Ivy's two; Dan waits for his digest");
        let sent = mails(dir.path());
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|m| headers(m).contains("imm-ivy@")));
        assert!(sent.iter().any(|m| headers(m).contains("Subject: Taskpulse: Overdue: Late one")));
        // Twice: one message each.
        run_kind(&app, "deliver-email", mail_settings(dir.path())).await.unwrap();
        assert_eq!(mails(dir.path()).len(), 2);
        // Dan's digest comes with the hourly job.
        run_kind(&app, "send-pending-notifications", mail_settings(dir.path())).await.unwrap();
        assert_eq!(mails(dir.path()).len(), 3);
    }

    async fn a_failing_transport_keeps_messages_for_the_next_run(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        let ann = app.create_user("fail-ann", Role::Employee).await;
        notify(&app, &ann, "Keep me", None).await;
        // Nothing listens on port 9 here: the SMTP connection fails.
        let mut broken = mail_settings(dir.path());
        broken.smtp_url = Some("smtp://127.0.0.1:9".into());
        let error = run_kind(&app, "send-pending-notifications", broken).await.unwrap_err();
        assert!(error.contains("1 of 1 emails could not be sent"), "{error}");
        let waiting = unsent(&app).await;
        assert_eq!(waiting.len(), 1, "queued, not lost");
        assert_eq!(waiting[0].0, 1);
        assert!(waiting[0].1.is_some());
        // The retry with a working transport delivers it, once.
        let summary = run_kind(&app, "send-pending-notifications", mail_settings(dir.path())).await.unwrap();
        assert_eq!(summary, json!({ "queued": 0, "sent": 1 }));
        assert!(unsent(&app).await.is_empty());
        assert_eq!(mails(dir.path()).len(), 1);
    }

    async fn the_preference_form_and_the_test_email(app: TestApp) {
        let admin = app.create_user("pref-admin", Role::Admin).await;
        let ann = app.create_user("pref-ann", Role::Employee).await;
        let mut browser = app.browser_for(&ann).await;
        browser.page("/profile").await;
        let response = browser.post_form("/profile/email", &[("email_preference", "sometimes")]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("Choose immediate, digest or off."));
        assert_eq!(preference_of(&app, &ann).await, "digest", "unchanged");
        assert_eq!(browser.post_form("/profile/email", &[("email_preference", "immediate")]).await.status(), 303);
        assert_eq!(preference_of(&app, &ann).await, "immediate");
        // Only admins send test emails.
        assert_eq!(browser.post_form("/jobs/test-email", &[]).await.status(), 403);
        let mut admin_browser = app.browser_for(&admin).await;
        let (_, page) = admin_browser.page("/jobs").await;
        assert!(crate::support::text_of(&page, "#mail-title").is_some());
        assert_eq!(admin_browser.post_form("/jobs/test-email", &[]).await.status(), 303);
        let (_, page) = admin_browser.page("/jobs").await;
        assert!(crate::support::text_of(&page, ".flash-success").unwrap_or_default().contains("A test email went to pref-admin@"));
        let sent = mails(&app.settings.mail.dir);
        assert_eq!(sent.len(), 1);
        assert!(headers(&sent[0]).contains("Subject: Taskpulse test email"));
    }

    async fn concurrent_delivery_runs_send_each_message_once(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        let ann = app.create_user("race-ann", Role::Employee).await;
        let at = now();
        app.db
            .write(move |c| {
                for n in 0..40 {
                    let email = taskpulse::store::emails::NewEmail {
                        user_id: Some(ann.id),
                        to_address: "race-ann@example.com".into(),
                        subject: format!("Message {n}"),
                        text_body: "text".into(),
                        html_body: "<p>html</p>".into(),
                        unique_key: format!("race:{n}"),
                        created_at: at,
                    };
                    taskpulse::store::emails::queue(c, &email)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        // Three delivery runs at the same moment, twice over.
        for _ in 0..2 {
            let runs = (0..3).map(|_| {
                let db = app.db.clone();
                let mail = mail_settings(dir.path());
                tokio::spawn(async move { taskpulse::services::mail::deliver(&db, &mail, now()).await })
            });
            let results = futures_util::future::join_all(runs).await;
            let sent: usize = results.into_iter().map(|r| r.unwrap().unwrap().sent).sum();
            assert!(sent <= 40, "no message handed to two senders: {sent}");
        }
        let files = mails(dir.path());
        assert_eq!(files.len(), 40, "each message once");
        for n in 0..40 {
            let subject = format!("Subject: Message {n}");
            let copies = files.iter().filter(|m| headers(m).lines().any(|l| l.trim_end() == subject)).count();
            assert_eq!(copies, 1, "message {n}");
        }
        assert!(unsent(&app).await.is_empty());

        // A sender that died holding a claim: the message waits for the claim
        // to run out, then goes out (at least once, never lost).
        let key = "race:crashed";
        app.db
            .write(move |c| {
                let email = taskpulse::store::emails::NewEmail {
                    user_id: None,
                    to_address: "race-ann@example.com".into(),
                    subject: "Crashed".into(),
                    text_body: "text".into(),
                    html_body: "<p>html</p>".into(),
                    unique_key: key.into(),
                    created_at: at,
                };
                taskpulse::store::emails::queue(c, &email)?;
                diesel::update(outbound_emails::table.filter(outbound_emails::unique_key.eq(key)))
                    .set(outbound_emails::claimed_until.eq(Some(at + chrono::Duration::minutes(10))))
                    .execute(c)?;
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        let held = taskpulse::services::mail::deliver(&app.db, &mail_settings(dir.path()), now()).await.unwrap();
        assert_eq!(held.sent, 0, "another sender's claim is respected");
        let later = now() + chrono::Duration::minutes(11);
        let after = taskpulse::services::mail::deliver(&app.db, &mail_settings(dir.path()), later).await.unwrap();
        assert_eq!(after.sent, 1, "an expired claim is taken over");
        assert_eq!(mails(dir.path()).len(), 41);
    }
}
