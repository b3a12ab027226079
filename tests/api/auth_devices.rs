//! Device cookies: a browser that signed in to an account before keeps its
//! own failure counter, so strangers cannot lock the owner out.

use diesel::prelude::*;
use taskpulse::db::DbError;
use taskpulse::domain::login::device_cookie_name;
use taskpulse::domain::role::Role;
use taskpulse::schema::{audit_log, login_devices};

use crate::both_backends;
use crate::support::*;

/// The `Set-Cookie` header of the account's device cookie, if the answer has one.
fn device_set_cookie(response: &reqwest::Response, username: &str) -> Option<String> {
    let prefix = format!("{}=", device_cookie_name(username));
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix) && !v.starts_with(&format!("{prefix};")))
        .map(str::to_string)
}

/// A browser that signed in once (so it holds the device cookie) and signed
/// out again; returns it with its device cookie's value.
async fn known_browser(app: &TestApp, user: &TestUser) -> (Browser, String) {
    let mut browser = Browser::new(&app.address);
    let response = browser.try_login(&user.username, &user.password).await;
    assert_eq!(response.status(), 303);
    let set_cookie = device_set_cookie(&response, &user.username).expect("device cookie issued");
    let value = set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    browser.page("/").await;
    assert_eq!(browser.post_form("/logout", &[]).await.status(), 303);
    (browser, value)
}

/// Failed logins of `username` from fresh clients (no device cookie) until
/// one is answered 429; returns its Retry-After. Panics if none is.
async fn lock_from_strangers(app: &TestApp, username: &str, attempts: usize) -> u64 {
    let mut retry_after = None;
    for _ in 0..attempts {
        let response = Browser::new(&app.address).try_login(username, "wrong-password-123").await;
        match response.status().as_u16() {
            401 => {}
            429 => retry_after = Some(response.headers()["retry-after"].to_str().unwrap().parse().unwrap()),
            other => panic!("unexpected status {other}"),
        }
    }
    retry_after.expect("strangers are slowed")
}

/// Posts the login form with an explicit Cookie header (plus the form's CSRF cookie).
async fn login_with_cookie(app: &TestApp, username: &str, password: &str, cookie: &str) -> reqwest::Response {
    let raw = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form_page = raw.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = form_page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tp_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = csrf_in(&scraper::Html::parse_document(&form_page.text().await.unwrap())).unwrap();
    raw.post(app.url("/login"))
        .header("Cookie", format!("{cookie}; {csrf_cookie}"))
        .header("Origin", &app.address)
        .form(&[("username", username), ("password", password), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn auth_strangers_failures_do_not_lock_out_a_known_browser(app: TestApp) {
        let admin = app.create_user("boss", Role::Admin).await;
        let mut first = Browser::new(&app.address);
        let response = first.try_login(&admin.username, &admin.password).await;
        let set_cookie = device_set_cookie(&response, &admin.username).expect("device cookie issued");
        for flag in ["HttpOnly", "SameSite=Lax", "Max-Age=15552000", "Path=/"] {
            assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
        }
        assert!(!set_cookie.contains("Secure"), "plain HTTP: no Secure flag");
        let (mut owner, token) = known_browser(&app, &admin).await;
        // Only the token's digest is stored.
        let stored: Vec<(String, String)> = app.db.read(|c| Ok::<_, DbError>(login_devices::table.select((login_devices::token_digest, login_devices::account)).load(c)?)).await.unwrap();
        assert_eq!(stored.len(), 2, "one device per browser");
        assert!(stored.iter().all(|(digest, account)| digest != &token && account == "boss"));

        let retry_after = lock_from_strangers(&app, "Boss", 20).await;
        assert!(retry_after >= 1);
        let response = owner.try_login(&admin.username, &admin.password).await;
        assert_eq!(response.status(), 303, "the owner's known browser signs in");
        assert!(device_set_cookie(&response, &admin.username).is_some(), "the device cookie is refreshed");
        assert_eq!(owner.page("/").await.0, 200);
        // The stranger is still slowed: the owner's login cleared only the device's counter.
        let response = Browser::new(&app.address).try_login(&admin.username, &admin.password).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        // Failures are audited as before.
        let failures: i64 = app.db.read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::action.eq("login")).filter(audit_log::outcome.eq("failure")).count().get_result(c)?)).await.unwrap();
        assert_eq!(failures, 5, "attempts refused while locked are not checked");
    }

    async fn auth_failures_through_a_device_lock_only_that_device(app: TestApp) {
        let user = app.create_user("lena", Role::Employee).await;
        let (mut guessing, _) = known_browser(&app, &user).await;
        let (mut other_device, _) = known_browser(&app, &user).await;
        for _ in 0..5 {
            assert_eq!(guessing.try_login(&user.username, "wrong-password-123").await.status(), 401);
        }
        let response = guessing.try_login(&user.username, &user.password).await;
        assert_eq!(response.status(), 429, "the device that failed waits, even with the right password");
        assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(Browser::new(&app.address).try_login(&user.username, &user.password).await.status(), 303, "the account is not locked");
        assert_eq!(other_device.try_login(&user.username, &user.password).await.status(), 303, "nor its other devices");
        let details: Vec<String> = app.db.read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::outcome.eq("failure")).select(audit_log::details).load(c)?)).await.unwrap();
        assert_eq!(details.len(), 5);
        assert!(details.iter().all(|d| d.starts_with("account 'lena', failure ") && d.ends_with("known device")), "{details:?}");
    }

    async fn auth_a_device_cookie_of_one_account_does_not_help_another(app: TestApp) {
        let alice = app.create_user("alice", Role::Employee).await;
        let bob = app.create_user("bob", Role::Employee).await;
        let (mut alices_browser, alices_token) = known_browser(&app, &alice).await;
        lock_from_strangers(&app, &bob.username, 6).await;
        // The browser knows alice, not bob.
        assert_eq!(alices_browser.try_login(&bob.username, &bob.password).await.status(), 429);
        // Alice's token presented under bob's cookie name is not honoured.
        let forged = format!("{}={alices_token}", device_cookie_name(&bob.username));
        let response = login_with_cookie(&app, &bob.username, &bob.password, &forged).await;
        assert_eq!(response.status(), 429);
        // Nor is a made-up token.
        let made_up = format!("{}={}", device_cookie_name(&bob.username), "0".repeat(64));
        assert_eq!(login_with_cookie(&app, &bob.username, &bob.password, &made_up).await.status(), 429);
        // Under its own name it still works for alice.
        let own = format!("{}={alices_token}", device_cookie_name(&alice.username));
        assert_eq!(login_with_cookie(&app, &alice.username, &alice.password, &own).await.status(), 303);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_device_cookies_are_secure_behind_tls() {
    let app = TestApp::try_spawn_with(Backend::Sqlite, |s| s.secure_cookies = true).await.unwrap();
    let user = app.create_user("mira", Role::Employee).await;
    let response = Browser::new(&app.address).try_login(&user.username, &user.password).await;
    let cookie = device_set_cookie(&response, &user.username).unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}
