//! Browser test: a real headless Chromium, driven through chromedriver over
//! WebDriver (fantoccini), signs in through the login form, lands on the home
//! page, signs out with the header button, and the session cookie it held
//! before signing out is then refused by the server.
//!
//! The driver and page helpers here are shared with the other browser tests
//! ([`crate::browser_live`]).
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`. When either is
//! missing the test fails (CI requires the browser tests to run); set
//! `TASKPULSE_SKIP_BROWSER=1` to skip it instead.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use taskpulse::domain::role::Role;

use crate::helpers::{Backend, TestApp, TestUser};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const SKIP_ENV: &str = "TASKPULSE_SKIP_BROWSER";
/// Longest wait for chromedriver to come up.
const DRIVER_STARTUP: Duration = Duration::from_secs(15);
/// Longest wait for an element to appear after a navigation.
const PAGE_WAIT: Duration = Duration::from_secs(10);

/// A chromedriver child process, killed (with the browsers it started) when
/// dropped, also when the test panics.
pub(crate) struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    /// Starts chromedriver on a free local port and waits until it is ready.
    pub(crate) async fn start() -> ChromeDriver {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket to find a free port");
            listener.local_addr().expect("probe socket address").port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group, so Drop can also end the Chromium it starts.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"));
        let mut driver = ChromeDriver { child, url: format!("http://127.0.0.1:{port}") };
        driver.wait_until_ready().await;
        driver
    }

    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("HTTP client");
        let status_url = format!("{}/status", self.url);
        let deadline = Instant::now() + DRIVER_STARTUP;
        loop {
            if let Some(exit) = self.child.try_wait().expect("poll chromedriver") {
                panic!("chromedriver exited during startup ({exit})");
            }
            if let Ok(response) = http.get(&status_url).send().await {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer {status_url} within {DRIVER_STARTUP:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the browser test is to run; panics when the browser is missing
/// and skipping was not asked for.
pub(crate) fn browser_available() -> bool {
    if std::env::var(SKIP_ENV).is_ok_and(|v| v.trim() == "1") {
        eprintln!("skipped: {SKIP_ENV}=1 is set, the browser test does not run");
        return false;
    }
    for binary in [CHROMEDRIVER, CHROMIUM] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: the browser test needs chromedriver and chromium \
             (install them, or set {SKIP_ENV}=1 to skip this test)"
        );
    }
    true
}

/// Opens a headless Chromium session with a fresh profile directory.
pub(crate) async fn open_browser(driver: &ChromeDriver, profile: &Path) -> Client {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("could not open a Chromium session through chromedriver: {e}"))
}

/// Waits (bounded) for an element matching `css` and returns its text.
pub(crate) async fn wait_for_text(client: &Client, css: &str) -> String {
    let element = client
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element `{css}` within {PAGE_WAIT:?}: {e}"));
    element.text().await.unwrap_or_else(|e| panic!("text of `{css}`: {e}"))
}

/// Fills in the login form shown in the browser and submits it.
pub(crate) async fn submit_login(client: &Client, user: &TestUser) {
    client
        .find(Locator::Css("#username"))
        .await
        .expect("username field")
        .send_keys(&user.username)
        .await
        .expect("type the username");
    client
        .find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(&user.password)
        .await
        .expect("type the password");
    client
        .find(Locator::Css("form[action='/login'] button[type=submit]"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("click sign in");
}

/// Signs `user` in through the login form of the server at `base` (an
/// absolute origin such as `http://127.0.0.1:1234`) and waits for the home page.
pub(crate) async fn sign_in(client: &Client, base: &str, user: &TestUser) {
    client.goto(&format!("{base}/login")).await.expect("open /login");
    wait_for_text(client, "form[action='/login'] button[type=submit]").await;
    submit_login(client, user).await;
    wait_for_text(client, "#home-title").await;
}

/// GETs `path` with only the given session cookie and no redirect following.
async fn get_with_session(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
        .get(app.url(path))
        .header("Cookie", format!("tp_session={session}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn location_of(response: &reqwest::Response) -> &str {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

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
        let links = client.find_all(Locator::Css("nav a")).await.expect("nav links");
        let mut labels = Vec::new();
        for link in links {
            labels.push(link.text().await.expect("nav link text"));
        }
        labels
    };
    assert!(nav.iter().any(|label| label == "Profile"), "nav has a Profile link, got {nav:?}");

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
