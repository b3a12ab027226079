//! The HTTP edge: where redirects may lead, which origins a state change is
//! accepted from, and the API's shared input rules (paging, idempotency
//! keys, duplicate JSON keys).

use taskpulse::domain::role::Role;

use crate::both_backends;
use crate::support::*;

/// A state change (the email preference form) with `Origin` and extra headers.
async fn post_with_origin(browser: &Browser, origin: &str, extra: &[(&str, &str)]) -> u16 {
    let mut request = browser
        .client
        .post(browser.url("/profile/email"))
        .header("Origin", origin)
        .form(&[("email_preference", "immediate"), ("csrf_token", browser.csrf.as_str())]);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.expect("POST").status().as_u16()
}

/// Session rows in the database.
async fn session_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use taskpulse::schema::sessions;
    app.db
        .read(|c| Ok::<_, taskpulse::db::DbError>(sessions::table.count().get_result::<i64>(c)?))
        .await
        .expect("count sessions")
}

both_backends! {
    async fn a_hostile_next_falls_back_before_anything_is_written(app: TestApp) {
        let admin = app.create_user("edge-admin", Role::Admin).await;
        let ann = app.create_user("edge-ann", Role::Employee).await;
        let mine = create_task(&app, &admin, TaskSpec::new("Redirects", &[&ann])).await;
        let browser = app.browser_for(&ann).await;

        // A line break in `next` (raw or encoded) never reaches a header: the
        // change is answered with the default page, not a 500.
        for (next, progress) in [("/tasks\n", "30"), ("/%0a/x", "40"), ("/%09/evil.example", "50"), ("/\t/evil.example", "60")] {
            let response = browser
                .post_form(&format!("/tasks/{mine}/progress"), &[("progress", progress), ("next", next)])
                .await;
            assert_eq!(response.status(), 303, "next={next:?}");
            assert_eq!(response.headers()["location"], "/tasks", "next={next:?} falls back");
        }
        assert_eq!(task(&app, mine).await.progress, 60);
        assert_eq!(trail(&app, mine).await.len(), 5, "one trail row per update, none lost");

        // A good local path is still followed.
        let response =
            browser.post_form(&format!("/tasks/{mine}/progress"), &[("progress", "70"), ("next", "/monitor?status=DONE")]).await;
        assert_eq!(response.headers()["location"], "/monitor?status=DONE");

        // Login: the same rule, checked before the session is made.
        for next in ["/%0a/x", "/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example"] {
            let mut fresh = Browser::new(&app.address);
            fresh.page("/login").await;
            let before = session_count(&app).await;
            let response = fresh.post_form("/login", &[("username", &ann.username), ("password", &ann.password), ("next", next)]).await;
            assert_eq!(response.status(), 303, "next={next:?}");
            assert_eq!(response.headers()["location"], "/", "next={next:?} falls back to home");
            assert!(response.headers().get("set-cookie").is_some(), "signed in");
            assert_eq!(session_count(&app).await, before + 1);
        }
        // The login form itself never carries a hostile next into the page.
        let (_, page) = Browser::new(&app.address).page("/login?next=%2F%09%2Fevil.example").await;
        let next = crate::support::value_of(&page, "input[name=next]").unwrap_or_default();
        assert_eq!(next, "/");
    }

    async fn only_the_servers_own_origin_is_trusted(app: TestApp) {
        let ann = app.create_user("origin-ann", Role::Employee).await;
        let browser = app.browser_for(&ann).await;
        let evil = "http://evil.example";
        // The client's own host headers never make a foreign origin its own.
        for extra in [
            vec![("Host", "evil.example")],
            vec![("X-Forwarded-Host", "evil.example")],
            vec![("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "http")],
            vec![("Forwarded", "host=evil.example;proto=http")],
        ] {
            assert_eq!(post_with_origin(&browser, evil, &extra).await, 403, "{extra:?}");
        }
        assert_eq!(post_with_origin(&browser, &app.address, &[]).await, 303, "the bound address");
        let localhost = app.address.replace("127.0.0.1", "localhost");
        assert_eq!(post_with_origin(&browser, &localhost, &[]).await, 303, "localhost for a loopback address");
        assert_eq!(post_with_origin(&browser, "https://tasks.example.com", &[("X-Forwarded-Host", "tasks.example.com"), ("X-Forwarded-Proto", "https")]).await, 403, "no trusted proxy configured");
    }

    async fn the_api_refuses_bad_paging_empty_keys_duplicate_keys_and_direction_controls(app: TestApp) {
        let admin = app.create_user("api-edge-admin", Role::Admin).await;
        let ann = app.create_user("api-edge-ann", Role::Employee).await;
        let task_id = create_task(&app, &admin, TaskSpec::new("Edge", &[&ann])).await;
        let api = crate::support::Api::for_user(&app, &admin).await;
        for query in ["page=-1", "per_page=0", "per_page=100000", "page=x", "page=0&per_page=0"] {
            let answer = crate::support::send(api.get(&format!("/api/admin/task-status/?{query}"))).await;
            assert_eq!(answer.0, 422, "{query}: {:?}", answer.1);
            let log = crate::support::send(api.get(&format!("/automation/automation-log?{query}"))).await;
            assert_eq!(log.0, 422, "the automation log pages the same way: {query}");
        }
        assert_eq!(crate::support::send(api.get("/api/admin/task-status/?page=1&per_page=200")).await.0, 200);

        let ann_api = crate::support::Api::for_user(&app, &ann).await;
        let before = crate::support::written(&app).await;
        let empty_key = ann_api.post(&format!("/api/task/{task_id}/progress/")).header("Idempotency-Key", "").json(&serde_json::json!({ "progress_percentage": 40 }));
        assert_eq!(crate::support::send(empty_key).await.0, 400, "an empty key is not 'no key'");
        let twice = ann_api
            .post(&format!("/api/task/{task_id}/progress/"))
            .header("Content-Type", "application/json")
            .body(r#"{"progress_percentage": 10, "progress_percentage": 90}"#);
        let answer = crate::support::send(twice).await;
        assert_eq!(answer.0, 400, "a key given twice is refused: {:?}", answer.1);
        assert_eq!(crate::support::written(&app).await, before, "nothing written");
        assert_eq!(task(&app, task_id).await.progress, 0);

        // A right-to-left override in a title or a name is refused.
        let refused = crate::support::try_create_task(&app, &admin, TaskSpec::new("invoice\u{202E}fdp.exe", &[&ann])).await;
        assert!(matches!(refused, Err(taskpulse::services::ServiceError::Invalid(ref e)) if e.contains_key("title")), "{refused:?}");
        let user = taskpulse::services::accounts::create_user(
            &app.db,
            taskpulse::services::accounts::CreateUser {
                username: "rlo".into(),
                email: "rlo@example.com".into(),
                full_name: "Ada\u{202E}ecalevoL".into(),
                role: Role::Employee,
                team: None,
                password: "correct horse battery staple".into(),
                capacity_hours_per_week: 40.0,
                hourly_rate_cents: 0,
            },
            taskpulse::services::RequestMeta::default(),
        )
        .await;
        assert!(user.is_err());
    }
}

/// Behind a trusted proxy, the forwarded host is the origin; with a public
/// URL, only that URL's origin is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_count_only_from_a_trusted_proxy_and_a_public_url_is_the_origin() {
    let proxied = TestApp::try_spawn_with(Backend::Sqlite, |s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
        .await
        .expect("app");
    let ann = proxied.create_user("proxy-ann", Role::Employee).await;
    let browser = proxied.browser_for(&ann).await;
    let forwarded = [("X-Forwarded-Host", "tasks.example.com"), ("X-Forwarded-Proto", "https")];
    assert_eq!(post_with_origin(&browser, "https://tasks.example.com", &forwarded).await, 303);
    assert_eq!(post_with_origin(&browser, "https://evil.example", &forwarded).await, 403);

    let public =
        TestApp::try_spawn_with(Backend::Sqlite, |s| s.public_origin = Some("https://tasks.example.com".into()))
            .await
            .expect("app");
    let bob = public.create_user("public-bob", Role::Employee).await;
    let mut browser = Browser::new(&public.address);
    // The login form needs its CSRF cookie first.
    browser.page("/login").await;
    let login = browser.client.post(browser.url("/login")).header("Origin", "https://tasks.example.com").form(&[
        ("username", bob.username.as_str()),
        ("password", bob.password.as_str()),
        ("next", "/"),
        ("csrf_token", browser.csrf.as_str()),
    ]);
    assert_eq!(login.send().await.unwrap().status(), 303);
    browser.page("/").await;
    assert_eq!(post_with_origin(&browser, "https://tasks.example.com", &[]).await, 303);
    assert_eq!(
        post_with_origin(&browser, &public.address, &[]).await,
        403,
        "the bound address is not the public origin"
    );
    assert_eq!(
        post_with_origin(&browser, "https://tasks.example.com", &[("X-Forwarded-Host", "evil.example")]).await,
        303
    );
    assert_eq!(post_with_origin(&browser, "http://evil.example", &[("Host", "evil.example")]).await, 403);
}

/// The API document and its page are served without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_and_its_page_are_served() {
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("app");
    let client = reqwest::Client::new();
    let document = client.get(app.url("/api/openapi.json")).send().await.expect("GET");
    assert_eq!(document.status(), 200);
    let body: serde_json::Value = document.json().await.expect("JSON");
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", body["openapi"]);
    assert!(body["paths"]["/api/employee-tasks/"]["get"].is_object());
    let page = client.get(app.url("/api/docs")).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.expect("body");
    assert!(html.contains("/static/vendor/swagger-ui/swagger-ui-bundle.js") && html.contains("/static/js/api-docs.js"));
    for asset in [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/js/api-docs.js",
    ] {
        assert_eq!(client.get(app.url(asset)).send().await.expect("GET").status(), 200, "{asset}");
    }
}
