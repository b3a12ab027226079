//! Browser test: a real headless Chromium signs in through the login form,
//! lands on the home page, signs out with the header button, and the session
//! cookie it held before signing out is then refused by the server; and every
//! page each role can open logs no console error and has no serious or
//! critical accessibility violation (axe-core, vendored in tests/vendor).

use std::time::Duration;

use serde_json::json;

use crate::support::browser::*;
use crate::support::*;
use fantoccini::Locator;
use taskpulse::domain::role::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_home_logout_and_old_cookie_is_dead() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let user = app.create_user("bianca", Role::Employee).await;
    let full_name = format!("{} Person", user.username);

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let client = open_browser(&driver, profile.path()).await;

    // Signed out, the home page sends the browser to the login form.
    client.goto(&app.url("/")).await.expect("open /");
    wait_for_text(&client, "form[action='/login'] button[type=submit]").await;
    let url = client.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/login", "signed out, / leads to the login page (at {url})");

    // Sign in through the form.
    submit_login(&client, &user).await;

    let title = wait_for_text(&client, "#home-title").await;
    assert!(title.contains(&full_name), "home page greets {full_name}, got {title:?}");
    let nav: Vec<String> = {
        let links = client.find_all(Locator::Css("#sidebar a")).await.expect("nav links");
        let mut labels = Vec::new();
        for link in links {
            labels.push(link.text().await.expect("nav link text"));
        }
        labels
    };
    assert!(nav.iter().any(|label| label == "My tasks"), "the sidebar has My tasks, got {nav:?}");
    // The account menu in the top bar holds Profile and Sign out.
    client.find(Locator::Css(".account summary")).await.expect("account menu").click().await.expect("open it");
    let profile = wait_for_text(&client, ".account-panel a[href='/profile']").await;
    assert_eq!(profile, "Profile");

    // The session cookie is out of the page's reach.
    let cookie = client.get_named_cookie("tp_session").await.expect("the browser holds a tp_session cookie");
    assert_eq!(cookie.http_only(), Some(true), "tp_session is HttpOnly");
    let old_session = cookie.value().to_string();
    assert!(!old_session.is_empty(), "tp_session has a value");
    let before = get_with_session(&app, "/", &old_session).await;
    assert_eq!(before.status(), 200, "before signing out the cookie opens the home page");

    // Sign out with the header button.
    client
        .find(Locator::Css("form[action='/logout'] button[type=submit]"))
        .await
        .expect("sign-out button")
        .click()
        .await
        .expect("click sign out");
    wait_for_text(&client, "form[action='/login'] button[type=submit]").await;
    let url = client.current_url().await.expect("current URL");
    assert_eq!(url.path(), "/login", "signing out leads to the login page (at {url})");
    let flash = wait_for_text(&client, ".flash").await;
    assert!(flash.contains("You have been signed out."), "sign-out message shown, got {flash:?}");
    let gone = client.get_named_cookie("tp_session").await;
    assert!(
        gone.as_ref().is_err_and(fantoccini::error::CmdError::is_no_such_cookie),
        "the browser dropped tp_session, got {gone:?}"
    );

    // The cookie from before signing out no longer opens anything.
    let home = get_with_session(&app, "/", &old_session).await;
    assert_eq!(home.status(), 303, "old cookie on / is redirected");
    assert_eq!(location_of(&home), "/login?next=%2F", "old cookie on / goes to the login page");
    let profile_page = get_with_session(&app, "/profile", &old_session).await;
    assert_eq!(profile_page.status(), 303, "old cookie on /profile is redirected");
    assert!(
        location_of(&profile_page).starts_with("/login"),
        "old cookie on /profile goes to the login page, got {:?}",
        location_of(&profile_page)
    );

    client.close().await.expect("close the browser session");
}

/// Every page each role can open (and the login page), in a real Chromium:
/// no console error, and no serious or critical accessibility violation
/// (axe-core). Refusal pages are expected to log their 403/404 status only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_for_every_role_is_free_of_errors_and_serious_accessibility_faults_and_works_by_keyboard() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let admin = app.create_user("page-admin", Role::Admin).await;
    let manager = app.create_user("page-manager", Role::Manager).await;
    let lead = user_in_team(&app, "page-lead", Role::Lead, Some("Platform")).await;
    let employee = user_in_team(&app, "page-employee", Role::Employee, Some("Platform")).await;
    let task = create_task(&app, &admin, TaskSpec::new("Look at every page", &[&employee])).await;
    let done = create_task(&app, &admin, TaskSpec::new("Already finished", &[&employee])).await;
    Api::for_user(&app, &employee).await.progress(done, json!({ "progress_percentage": 100 })).await;

    let mine = [
        "/".to_string(),
        "/tasks".into(),
        "/time".into(),
        "/notifications".into(),
        "/profile".into(),
        format!("/tasks/{task}"),
        format!("/tasks/{task}/time"),
        "/no/such/page".into(),
    ];
    let team = ["/monitor", "/monitor?view=board", "/monitor?view=table", "/tasks/new"].map(String::from);
    let edit = [format!("/tasks/{task}/edit")];
    let admin_pages = ["/jobs", "/admin/users", "/admin/audit", "/payroll", "/admin/settings"].map(String::from);
    let plan: Vec<(Option<&TestUser>, Vec<String>)> = vec![
        (None, vec!["/login".into()]),
        (Some(&employee), [&mine[..], &["/admin/users".to_string()]].concat()),
        (Some(&lead), [&mine[..2], &team[..], &edit[..]].concat()),
        (Some(&manager), [&mine[..1], &team[..], &edit[..]].concat()),
        (Some(&admin), [&mine[..], &team[..], &edit[..], &admin_pages[..]].concat()),
    ];

    let driver = ChromeDriver::start().await;
    let mut faults = Vec::new();
    for (user, pages) in plan {
        let profile = tempfile::tempdir().expect("profile");
        let client = open_browser(&driver, profile.path()).await;
        client.set_window_size(1400, 900).await.expect("window size");
        if let Some(user) = user {
            sign_in(&client, &app.address, user).await;
        }
        let who = user.map_or("visitor", |u| u.username.as_str());
        for page in pages {
            client.goto(&app.url(&page)).await.unwrap_or_else(|e| panic!("open {page}: {e}"));
            wait_for_text(&client, "main").await;
            // Live pages: give the socket time to connect and deliver.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let refusal = page == "/no/such/page" || (who == "page-employee" && page == "/admin/users");
            for error in console_errors(&client).await {
                let expected = refusal && (error.contains("status of 404") || error.contains("status of 403"));
                if !expected {
                    faults.push(format!("{who} {page}: console: {error}"));
                }
            }
            for violation in accessibility_violations(&client).await {
                faults.push(format!("{who} {page}: a11y: {violation}"));
            }
            for fault in keyboard_faults(&client).await {
                faults.push(format!("{who} {page}: keyboard: {fault}"));
            }
        }
        client.close().await.expect("close");
    }
    assert!(faults.is_empty(), "{} faults:\n{}", faults.len(), faults.join("\n"));
}
