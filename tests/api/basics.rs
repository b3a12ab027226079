//! Operations endpoints, security headers, error pages and bad input.

use crate::both_backends;
use crate::support::*;
use taskpulse::domain::role::Role;

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let h = response.headers();
    let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{what}: CSP missing")).to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: CSP {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
    assert!(h.get("referrer-policy").is_some(), "{what}: Referrer-Policy missing");
    assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{what}");
    let request_id = h.get("x-request-id").unwrap_or_else(|| panic!("{what}: X-Request-Id missing"));
    assert!(!request_id.is_empty(), "{what}");
}

both_backends! {
    async fn health_and_readiness(app: TestApp) {
        let client = reqwest::Client::new();
        let health = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "ready");
    }

    async fn security_headers_on_every_kind_of_response(app: TestApp) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let cases = [
            ("/login", 200),
            ("/", 303),
            ("/no/such/page", 404),
            ("/static/css/app.css", 200),
            ("/static/nope.js", 404),
            ("/api/me", 401),
            ("/api/nope", 404),
            ("/healthz", 200),
        ];
        for (path, status) in cases {
            let response = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
            assert_security_headers(&response, path);
        }
        // A refused WebSocket upgrade (no session) and a refused POST carry them too.
        let upgrade = client
            .get(app.url("/ws"))
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Origin", app.address.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(upgrade.status(), 401);
        assert_security_headers(&upgrade, "failed upgrade");
        let post = client.post(app.url("/logout")).send().await.unwrap();
        assert_security_headers(&post, "POST without session");
    }

    async fn error_pages_show_a_request_id_and_no_internals(app: TestApp) {
        let client = reqwest::Client::new();
        let response = client.get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        let html = scraper::Html::parse_document(&response.text().await.unwrap());
        assert_eq!(text_of(&html, ".request-id"), Some(request_id));
        assert!(text_of(&html, "h1").unwrap().contains("404"));
        // The API answers in JSON.
        let api = client.get(app.url("/api/nope")).send().await.unwrap();
        assert_eq!(api.status(), 404);
        assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: serde_json::Value = api.json().await.unwrap();
        assert!(body["error"].is_string());
        assert!(body["details"].is_object());
        assert_eq!(count_of(&html, "#sidebar"), 0, "no app shell for a visitor");

        // Signed in, 404 and 403 pages keep the app shell (sidebar, menu).
        let employee = app.create_user("lost-employee", Role::Employee).await;
        let mut browser = app.browser_for(&employee).await;
        for (path, status) in [("/no/such/page", 404), ("/admin/users", 403)] {
            let (got, page) = browser.page(path).await;
            assert_eq!(got, status, "{path}");
            assert_eq!(count_of(&page, "#sidebar a[href='/tasks']"), 1, "{path}: the sidebar is there");
            assert_eq!(count_of(&page, ".account a[href='/profile']"), 1, "{path}: the account menu is there");
        }
        // The icon browsers ask for by name.
        assert_eq!(client.get(app.url("/favicon.ico")).send().await.unwrap().status(), 200);
    }

    async fn static_assets_are_cache_busted(app: TestApp) {
        let mut browser = Browser::new(&app.address);
        let (_, html) = browser.page("/login").await;
        let selector = scraper::Selector::parse("link[rel=stylesheet]").unwrap();
        let href = html.select(&selector).next().unwrap().value().attr("href").unwrap().to_string();
        assert!(href.starts_with("/static/css/app.css?v="), "{href}");
        let response = browser.get(&href).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
        let htmx = browser.get("/static/vendor/htmx/htmx.min.js").await;
        assert_eq!(htmx.status(), 200);
        assert_eq!(htmx.headers()["cache-control"], "no-cache");
        let licence = browser.get("/static/vendor/htmx/LICENSE").await;
        assert_eq!(licence.status(), 200);
    }

    async fn bad_input_is_refused_clearly(app: TestApp) {
        let user = app.create_user("erin", Role::Employee).await;
        let browser = app.browser_for(&user).await;
        // Oversized form body → 413, nothing changes.
        let big = "x".repeat(100 * 1024);
        let response = browser.post_form("/profile/tokens", &[("name", &big)]).await;
        assert_eq!(response.status(), 413);
        // Wrong Content-Type on a form route → 415 (the CSRF header is valid).
        let response = browser
            .client
            .post(browser.url("/profile/tokens"))
            .header("X-CSRF-Token", &browser.csrf)
            .header("Content-Type", "application/json")
            .body(r#"{"name":"x"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415);
        // Invalid field → the form again with the error next to the field, 422.
        let response = browser.post_form("/profile/tokens", &[("name", "   ")]).await;
        assert_eq!(response.status(), 422);
        let html = scraper::Html::parse_document(&response.text().await.unwrap());
        assert!(text_of(&html, "#token-name-error").is_some());
        assert_eq!(count_of(&html, "#tokens tbody tr"), 0, "no token was created");
        // A non-numeric id → 404.
        let response = browser.post_form("/profile/tokens/abc/revoke", &[]).await;
        assert_eq!(response.status(), 404);
        // Bad query parameter → 400 page, not a crash.
        let response = browser.get("/static/css/app.css?v=1&v=2").await;
        assert!(response.status().is_success() || response.status() == 400);
    }
}
