//! Test harness: a real server on a random port per test, on a fresh SQLite
//! file or a fresh PostgreSQL database (dropped afterwards), plus a small
//! browser-like client that keeps cookies and CSRF tokens.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use scraper::{Html, Selector};
use taskpulse::config::Settings;
use taskpulse::db::{DatabaseUrl, Db};
use taskpulse::domain::role::Role;
use taskpulse::services::{RequestMeta, accounts};
use taskpulse::startup::{Application, connect_and_migrate};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Env var naming the PostgreSQL server for the PostgreSQL half of the suite.
pub const PG_ENV: &str = "TASKPULSE_TEST_PG_URL";

/// A database created for one test and removed when dropped.
pub enum TestDb {
    /// Held so the directory (and the database file) lives as long as the test.
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Dropping happens on the runtime; do the blocking work on a plain thread.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&admin_url) {
                    let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL admin URL when the PostgreSQL suite is enabled.
pub fn pg_admin_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|v| !v.trim().is_empty())
}

/// Creates a fresh database for `backend`; `None` when PostgreSQL is not enabled.
pub fn fresh_database(backend: Backend) -> Option<(DatabaseUrl, TestDb)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = DatabaseUrl::Sqlite(dir.path().join("test.db"));
            Some((url, TestDb::Sqlite(dir)))
        }
        Backend::Postgres => {
            let admin_url = pg_admin_url()?;
            let name = format!(
                "tp_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                taskpulse::security::random_hex(4)
            );
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("valid PostgreSQL URL");
            url.set_path(&name);
            Some((DatabaseUrl::Postgres(url.to_string()), TestDb::Postgres { admin_url, name }))
        }
    }
}

/// A running server and its database.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: Db,
    pub settings: Settings,
    /// The server's live bus.
    pub bus: taskpulse::live::LiveBus,
    // Dropped last: the database outlives the server handle.
    pub _database: TestDb,
}

impl TestApp {
    /// Spawns the app on `backend` with default test settings; `None` when
    /// the PostgreSQL suite is not enabled.
    pub async fn try_spawn(backend: Backend) -> Option<TestApp> {
        Self::try_spawn_with(backend, |_| {}).await
    }

    /// Spawns with adjusted settings.
    pub async fn try_spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let (url, database) = fresh_database(backend)?;
        let mut settings = Settings::for_tests(url);
        adjust(&mut settings);
        Some(Self::start(settings, database).await)
    }

    /// Starts a server for given settings and database guard.
    pub async fn start(settings: Settings, database: TestDb) -> TestApp {
        let db = connect_and_migrate(&settings.db).await.expect("database ready");
        let app = Application::build_with_db(settings.clone(), db.clone()).expect("app builds");
        let port = app.port();
        let bus = app.bus();
        tokio::spawn(app.run_until_stopped());
        TestApp { address: format!("http://127.0.0.1:{port}"), port, db, settings, bus, _database: database }
    }

    /// A second server process-equivalent on the same database (a second
    /// instance, as in a scaled-out deployment).
    pub async fn second_instance(&self) -> (String, Db) {
        let db = connect_and_migrate(&self.settings.db).await.expect("database ready");
        let app = Application::build_with_db(self.settings.clone(), db.clone()).expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        (address, db)
    }

    /// Absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Creates a user with a role (team "Alpha" for leads and employees);
    /// returns the user id and password.
    pub async fn create_user(&self, username: &str, role: Role) -> TestUser {
        let team = matches!(role, Role::Lead | Role::Employee).then_some("Alpha");
        self.create_user_in(username, role, team).await
    }

    /// Creates a user of `role` in `team` (None: no team).
    pub async fn create_user_in(&self, username: &str, role: Role, team: Option<&str>) -> TestUser {
        let password = "correct horse battery staple".to_string();
        let id = accounts::create_user(
            &self.db,
            accounts::CreateUser {
                username: username.into(),
                email: format!("{username}@example.com"),
                full_name: format!("{username} Person"),
                role,
                team: team.map(str::to_string),
                password: password.clone(),
                capacity_hours_per_week: 40.0,
                hourly_rate_cents: 5000,
            },
            RequestMeta::default(),
        )
        .await
        .expect("user created");
        TestUser { id, username: username.into(), password }
    }

    /// A fresh browser (own cookie jar) signed in as `user`.
    pub async fn browser_for(&self, user: &TestUser) -> Browser {
        let mut browser = Browser::new(&self.address);
        browser.login(&user.username, &user.password).await;
        browser
    }

    /// An API token for a user.
    pub async fn token_for(&self, user: &TestUser) -> String {
        accounts::create_token(&self.db, user.id, "test", RequestMeta::default()).await.expect("token").secret
    }
}

/// A user created by a test.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
}

/// A browser-like HTTP client: cookies kept, redirects not followed, the
/// page's CSRF token remembered.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser { base: base.to_string(), client, csrf: String::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET with the headers a same-origin browser sends.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET and remember the page's CSRF token.
    pub async fn page(&mut self, path: &str) -> (reqwest::StatusCode, Html) {
        let response = self.get(path).await;
        let status = response.status();
        let html = Html::parse_document(&response.text().await.expect("body"));
        if let Some(token) = csrf_in(&html) {
            self.csrf = token;
        }
        (status, html)
    }

    /// POST a form with the remembered CSRF token and a same-origin Origin.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &self.csrf));
        self.client
            .post(self.url(path))
            .header("Origin", &self.base)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Signs in through the login form; panics if it fails.
    pub async fn login(&mut self, username: &str, password: &str) {
        let response = self.try_login(username, password).await;
        assert_eq!(response.status(), 303, "login of {username} failed");
        self.page("/").await;
        assert!(!self.csrf.is_empty(), "signed-in page carries a CSRF token");
    }

    /// Posts the login form and returns the raw answer.
    pub async fn try_login(&mut self, username: &str, password: &str) -> reqwest::Response {
        self.page("/login").await;
        self.post_form("/login", &[("username", username), ("password", password), ("next", "/")]).await
    }
}

/// The first CSRF token in a page (hidden form field).
pub fn csrf_in(html: &Html) -> Option<String> {
    let selector = Selector::parse("input[name=csrf_token]").expect("selector");
    html.select(&selector).next().and_then(|e| e.value().attr("value")).map(str::to_string)
}

/// Text of the first element matching `css`.
pub fn text_of(html: &Html, css: &str) -> Option<String> {
    let selector = Selector::parse(css).expect("selector");
    html.select(&selector).next().map(|e| e.text().collect::<String>().trim().to_string())
}

/// Number of elements matching `css`.
pub fn count_of(html: &Html, css: &str) -> usize {
    let selector = Selector::parse(css).expect("selector");
    html.select(&selector).count()
}

/// Defines each test once and runs it on SQLite and on PostgreSQL (the
/// PostgreSQL half is skipped with a note when TASKPULSE_TEST_PG_URL is unset).
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            // Each test uses some of these, none all; `expect` would fail
            // for the tests that happen to use every one.
            #[allow(clippy::allow_attributes, unused_imports)]
            use super::*;
            #[allow(clippy::allow_attributes, unused_imports)]
            use $crate::support::*;

            async fn run($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match TestApp::try_spawn(Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("skipped: set {} to run the PostgreSQL suite", PG_ENV),
                }
            }
        }
    )*};
}

/// The `value` attribute of the first element matching `css`.
pub fn value_of(html: &Html, css: &str) -> Option<String> {
    let selector = Selector::parse(css).expect("selector");
    html.select(&selector).next().and_then(|e| e.value().attr("value")).map(str::to_string)
}

/// GETs `path` with only the given session cookie and no redirect following.
pub async fn get_with_session(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
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

pub fn location_of(response: &reqwest::Response) -> &str {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The `Set-Cookie` header of the session a response sets (not the one that
/// clears it), attributes included.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tp_session=") && !v.starts_with("tp_session=;"))
        .map(str::to_string)
}

/// The session cookie's value a response sets (not the clearing one).
pub fn session_of(response: &reqwest::Response) -> Option<String> {
    let header = session_cookie(response)?;
    header.split(';').next().map(|v| v.trim_start_matches("tp_session=").to_string())
}
