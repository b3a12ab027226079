//! Headless Chromium through chromedriver (WebDriver, fantoccini), shared by
//! the browser tests.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`. When either is
//! missing the browser tests fail (CI requires them to run); set
//! `TASKPULSE_SKIP_BROWSER=1` to skip them instead.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::app::TestUser;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const SKIP_ENV: &str = "TASKPULSE_SKIP_BROWSER";
/// Longest wait for chromedriver to come up.
const DRIVER_STARTUP: Duration = Duration::from_secs(15);
/// Longest wait for an element to appear after a navigation.
const PAGE_WAIT: Duration = Duration::from_secs(10);

/// A chromedriver child process, killed (with the browsers it started) when
/// dropped, also when the test panics.
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    /// Starts chromedriver on a free local port and waits until it is ready.
    pub async fn start() -> ChromeDriver {
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
pub fn browser_available() -> bool {
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
pub async fn open_browser(driver: &ChromeDriver, profile: &Path) -> Client {
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
    // The console, for tests that fail on any page error.
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("could not open a Chromium session through chromedriver: {e}"))
}

/// Waits (bounded) for an element matching `css` and returns its text. Read
/// in one step in the page, so a live swap replacing the element between
/// finding and reading it cannot fail the wait.
pub async fn wait_for_text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + PAGE_WAIT;
    loop {
        let text = client
            .execute("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", vec![json!(css)])
            .await
            .unwrap_or_else(|e| panic!("read `{css}`: {e}"));
        if let Some(text) = text.as_str() {
            return text.to_string();
        }
        assert!(Instant::now() < deadline, "no element `{css}` within {PAGE_WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fills in the login form shown in the browser and submits it.
pub async fn submit_login(client: &Client, user: &TestUser) {
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
pub async fn sign_in(client: &Client, base: &str, user: &TestUser) {
    client.goto(&format!("{base}/login")).await.expect("open /login");
    wait_for_text(client, "form[action='/login'] button[type=submit]").await;
    submit_login(client, user).await;
    wait_for_text(client, "#home-title").await;
}

/// chromedriver's console log of the page (entries since the last read).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The console errors the page logged since the last call (level SEVERE),
/// each as its message.
pub async fn console_errors(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.unwrap_or_else(|e| panic!("read the browser log: {e}"));
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The serious and critical accessibility violations axe-core finds on the
/// page (vendored for tests in tests/vendor), each as "rule: where".
pub async fn accessibility_violations(client: &Client) -> Vec<String> {
    const AXE: &str = include_str!("../../vendor/axe-core/axe.min.js");
    let run = format!(
        "{AXE}\n;var done = arguments[arguments.length - 1]; \
         axe.run(document, {{ resultTypes: ['violations'] }}).then(function (r) {{ \
           done(r.violations.filter(function (v) {{ return v.impact === 'serious' || v.impact === 'critical'; }}) \
             .map(function (v) {{ return v.id + ': ' + v.nodes.slice(0, 3).map(function (n) {{ return n.target.join(' '); }}).join(', '); }})); \
         }}, function (e) {{ done(['axe failed: ' + e]); }});"
    );
    let found = client.execute_async(&run, vec![]).await.unwrap_or_else(|e| panic!("run axe-core: {e}"));
    found.as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
}

/// Keyboard use of the page: pressing Tab from the top reaches every
/// visible control (inside a closed `<details>` only its summary; one radio
/// per group), and every control Tab reaches shows a focus indicator.
/// Returns what fails, each as "reason: element".
pub async fn keyboard_faults(client: &Client) -> Vec<String> {
    const SETUP: &str = r#"
      var key = function (el) { if (!el.__k) el.__k = 'k' + Math.random().toString(36).slice(2); return el.__k; };
      var describe = function (el) {
        return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.getAttribute('name') ? '[name=' + el.getAttribute('name') + ']' : '') +
          ' "' + (el.textContent || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30) + '"';
      };
      window.__focused = [];
      document.addEventListener('focusin', function (e) {
        var s = getComputedStyle(e.target);
        var ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
        window.__focused.push({ key: key(e.target), ring: ring, what: describe(e.target) });
      });
      var seenRadio = {};
      var sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
      var list = Array.prototype.filter.call(document.querySelectorAll(sel), function (el) {
        if (el.disabled || el.tabIndex < 0 || el.closest('[inert], dialog:not([open])')) return false;
        var host = el.tagName === 'SUMMARY' ? el.parentElement.parentElement : el.parentElement;
        if (host && host.closest('details:not([open])')) return false;
        if (el.type === 'radio') {
          var group = document.querySelectorAll('input[type=radio][name="' + el.name + '"]');
          var chosen = Array.prototype.find.call(group, function (r) { return r.checked; }) || group[0];
          if (chosen !== el || seenRadio[el.name]) return false;
          seenRadio[el.name] = true;
        }
        var r = el.getBoundingClientRect(), s = getComputedStyle(el);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden';
      });
      window.__tabbable = list.map(function (el) { return { key: key(el), what: describe(el) }; });
      if (document.activeElement) document.activeElement.blur();
      window.scrollTo(0, 0);
      return list.length;"#;
    const RESULT: &str = r#"
      var reached = {};
      window.__focused.forEach(function (f) { reached[f.key] = true; });
      var out = [];
      window.__tabbable.forEach(function (t) { if (!reached[t.key]) out.push('not reachable by Tab: ' + t.what); });
      var told = {};
      window.__focused.forEach(function (f) {
        if (!f.ring && !told[f.key]) { told[f.key] = true; out.push('no visible focus: ' + f.what); }
      });
      return out;"#;
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let count = client.execute(SETUP, vec![]).await.expect("list the controls").as_u64().unwrap_or(0);
    let tab: char = fantoccini::key::Key::Tab.into();
    let mut keys = KeyActions::new("keyboard".into());
    // Date and time inputs take a Tab stop per part (day, month, …): press
    // enough to pass them all (going round again is harmless).
    for _ in 0..count * 2 + 20 {
        keys = keys.then(KeyAction::Down { value: tab }).then(KeyAction::Up { value: tab });
    }
    client.perform_actions(keys).await.expect("press Tab through the page");
    let faults = client.execute(RESULT, vec![]).await.expect("read what Tab reached");
    faults.as_array().into_iter().flatten().filter_map(|f| f.as_str().map(str::to_string)).collect()
}
