//! Operations: internal errors render safely, nothing secret reaches the
//! logs, and the server stops gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};

use taskpulse::domain::role::Role;

use crate::support::*;

#[actix_web::test]
async fn an_internal_error_shows_a_request_id_and_no_internals() {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};
    use taskpulse::http::error_pages::render_errors;
    use taskpulse::http::errors::AppError;
    use taskpulse::http::headers::security_headers;
    let app = test::init_service(
        App::new()
            .route(
                "/boom",
                web::get()
                    .to(|| async { Err::<String, _>(AppError::Internal("db password=hunter2 at line 7".into())) }),
            )
            .route(
                "/api/boom",
                web::get().to(|| async { Err::<String, _>(AppError::Internal("stack trace here".into())) }),
            )
            .wrap(from_fn(render_errors))
            .wrap(tracing_actix_web::TracingLogger::default())
            .wrap(from_fn(security_headers)),
    )
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
    assert_eq!(response.status(), 500);
    let headers = response.headers().clone();
    assert!(headers.contains_key("content-security-policy"));
    let request_id = headers.get("x-request-id").unwrap().to_str().unwrap().to_string();
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(!body.contains("hunter2"), "no internals: {body}");
    assert!(body.contains(&request_id), "request id shown");
    let html = scraper::Html::parse_document(&body);
    assert_eq!(text_of(&html, ".request-id"), Some(request_id));

    let response = test::call_service(&app, test::TestRequest::get().uri("/api/boom").to_request()).await;
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert!(!body.to_string().contains("stack trace"));
    assert!(body["error"].is_string());
}

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_token_or_session_id_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        taskpulse::telemetry::subscriber(tracing_subscriber::EnvFilter::new("debug"), move || writer.clone());
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs a subscriber");

    let app = TestApp::try_spawn(Backend::Sqlite).await.unwrap();
    let user = app.create_user("logcheck", Role::Employee).await;
    let mut browser = Browser::new(&app.address);
    let login = browser.try_login(&user.username, &user.password).await;
    let session = session_of(&login).unwrap();
    browser.page("/profile").await;
    let response = browser.post_form("/profile/tokens", &[("name", "logged?")]).await;
    let html = scraper::Html::parse_document(&response.text().await.unwrap());
    let secret = text_of(&html, "#new-token").unwrap();
    reqwest::Client::new().get(app.url("/api/me")).bearer_auth(&secret).send().await.unwrap();
    browser.try_login(&user.username, "a wrong password attempt").await;
    browser.post_form("/logout", &[]).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/profile/tokens"), "requests are logged at all");
    for (what, secret) in [
        ("password", user.password.as_str()),
        ("wrong password", "a wrong password attempt"),
        ("token", secret.as_str()),
        ("session id", session.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} found in the logs");
    }
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_taskpulse"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("TASKPULSE_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("Taskpulse is running at ").map(str::to_string))
        .expect("the server prints its URL");
    let health = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("{url}healthz")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "200");
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop within the grace period");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
