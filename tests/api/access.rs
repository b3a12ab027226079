//! The route × role × method matrix, CSRF protection, and the guarantee that
//! no route exists without a declared policy.

use diesel::prelude::*;
use taskpulse::db::DbError;
use taskpulse::domain::role::Role;
use taskpulse::http::access::{Access, RouteSpec};
use taskpulse::routes::ROUTES;
use taskpulse::schema::audit_log;

use crate::both_backends;
use crate::support::*;

/// Who calls: nobody, or a user of a role (with a fresh session and a token).
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    As(Role),
}

/// Expected outcome class of a call.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Reached the handler (any status but 401/403 and no 5xx).
    Allowed,
    /// Sent to the login page (page GET without a session).
    RedirectToLogin,
    Unauthorized,
    Forbidden,
}

fn expectation(spec: &RouteSpec, caller: Caller) -> Expect {
    match (spec.access, caller) {
        (Access::Public, _) => Expect::Allowed,
        (Access::Session(_), Caller::Anonymous) if spec.method == "GET" => Expect::RedirectToLogin,
        (Access::Session(_) | Access::Token(_), Caller::Anonymous) => Expect::Unauthorized,
        (Access::Session(roles) | Access::Token(roles), Caller::As(role)) => {
            if roles.contains(&role) {
                Expect::Allowed
            } else {
                Expect::Forbidden
            }
        }
    }
}

/// A concrete path for a route pattern.
fn concrete(path: &str, victim_id: i64) -> String {
    path.replace("{path:.*}", "css/app.css")
        .replace("/admin/users/{id}", &format!("/admin/users/{victim_id}"))
        .replace("{id}", "999999")
}

async fn call(
    app: &TestApp,
    spec: &RouteSpec,
    caller: Caller,
    users: &[(Role, TestUser)],
    victim_id: i64,
) -> reqwest::Response {
    let path = concrete(spec.path, victim_id);
    let user = match caller {
        Caller::Anonymous => None,
        Caller::As(role) => users.iter().find(|(r, _)| *r == role).map(|(_, u)| u.clone()),
    };
    match spec.access {
        Access::Token(_) => {
            let client = reqwest::Client::new();
            let mut request = client.request(spec.method.parse().unwrap(), app.url(&path));
            if let Some(user) = &user {
                request = request.bearer_auth(app.token_for(user).await);
            }
            request.send().await.unwrap()
        }
        Access::Public | Access::Session(_) => {
            let mut browser = match (&user, spec.access) {
                (Some(user), Access::Session(_)) => app.browser_for(user).await,
                _ => {
                    let mut browser = Browser::new(&app.address);
                    browser.page("/login").await;
                    browser
                }
            };
            if spec.method == "GET" {
                browser.client.get(browser.url(&path)).header("Origin", &app.address).send().await.unwrap()
            } else {
                if browser.csrf.is_empty() {
                    browser.csrf = "no-session".into();
                }
                browser.post_form(&path, &[]).await
            }
        }
    }
}

both_backends! {
    async fn every_route_role_and_method_gets_the_declared_answer(app: TestApp) {
        let mut users = Vec::new();
        for role in Role::ALL {
            users.push((role, app.create_user(&format!("matrix-{role}"), role).await));
        }
        let victim = app.create_user("matrix-victim", Role::Employee).await;
        let callers = [Caller::Anonymous, Caller::As(Role::Admin), Caller::As(Role::Manager), Caller::As(Role::Lead), Caller::As(Role::Employee)];
        let mut denials = 0;
        let mut failures = Vec::new();
        for spec in ROUTES {
            for caller in callers {
                let expected = expectation(spec, caller);
                let response = call(&app, spec, caller, &users, victim.id).await;
                let status = response.status().as_u16();
                let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let ok = match expected {
                    Expect::Allowed => status != 401 && status != 403 && status < 500,
                    Expect::RedirectToLogin => status == 303 && location.starts_with("/login"),
                    Expect::Unauthorized => status == 401,
                    Expect::Forbidden => status == 403,
                };
                if expected == Expect::Forbidden {
                    denials += 1;
                }
                if !ok {
                    failures.push(format!("{} {} as {caller:?}: expected {expected:?}, got {status} {location}", spec.method, spec.path));
                }
            }
        }
        assert!(failures.is_empty(), "matrix failures:\n{}", failures.join("\n"));
        // Every role denial is in the audit log.
        let audited: i64 = app.db.read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::outcome.eq("denied")).count().get_result(c)?)).await.unwrap();
        assert_eq!(audited, denials, "one audit row per denial");
    }

    async fn csrf_missing_wrong_or_cross_site_is_refused_and_audited(app: TestApp) {
        let user = app.create_user("csrf-user", Role::Employee).await;
        let browser = app.browser_for(&user).await;
        let url = browser.url("/profile/tokens");
        let attempts = [
            ("missing token", browser.client.post(&url).form(&[("name", "a")])),
            ("wrong token", browser.client.post(&url).form(&[("name", "a"), ("csrf_token", "0000")])),
            ("foreign origin", browser.client.post(&url).header("Origin", "http://evil.example").form(&[("name", "a"), ("csrf_token", browser.csrf.as_str())])),
            ("cross-site fetch", browser.client.post(&url).header("Sec-Fetch-Site", "cross-site").form(&[("name", "a"), ("csrf_token", browser.csrf.as_str())])),
            ("wrong header token", browser.client.post(&url).header("X-CSRF-Token", "nope").form(&[("name", "a")])),
        ];
        for (what, request) in attempts {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{what}");
        }
        let tokens = taskpulse::services::accounts::list_tokens(&app.db, user.id).await.unwrap();
        assert!(tokens.is_empty(), "nothing changed");
        let audited: i64 = app.db.read(|c| Ok::<_, DbError>(audit_log::table.filter(audit_log::outcome.eq("denied")).count().get_result(c)?)).await.unwrap();
        assert_eq!(audited, 5);
        // The right token in the header (as htmx sends it) works.
        let response = browser.client.post(&url).header("X-CSRF-Token", &browser.csrf).form(&[("name", "ok")]).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // The login form is protected too (double-submit cookie).
        let anonymous = Browser::new(&app.address);
        let response = anonymous.client.post(anonymous.url("/login")).form(&[("username", "csrf-user"), ("password", user.password.as_str())]).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }

    async fn employees_get_404_for_foreign_objects_and_403_for_admin_pages(app: TestApp) {
        let owner = app.create_user("owner", Role::Employee).await;
        let other = app.create_user("other", Role::Employee).await;
        let created = taskpulse::services::accounts::create_token(&app.db, owner.id, "mine", Default::default()).await.unwrap();
        let mut browser = app.browser_for(&other).await;
        browser.page("/profile").await;
        let response = browser.post_form(&format!("/profile/tokens/{}/revoke", created.id), &[]).await;
        assert_eq!(response.status(), 404);
        let (status, _) = browser.page("/admin/users").await;
        assert_eq!(status, 403);
        let response = browser.post_form(&format!("/admin/users/{}/disable", owner.id), &[]).await;
        assert_eq!(response.status(), 403);
        assert_eq!(reqwest::Client::new().get(app.url("/api/me")).bearer_auth(&created.secret).send().await.unwrap().status(), 200, "untouched");
    }
}

#[actix_web::test]
async fn a_route_without_a_declared_policy_is_refused() {
    use actix_web::{App, HttpResponse, middleware::from_fn, test, web};
    let app = test::init_service(
        App::new()
            .app_data(taskpulse::http::access::RouteTable(ROUTES))
            .route("/undeclared", web::get().to(|| async { HttpResponse::Ok().body("secret") }))
            .wrap(from_fn(taskpulse::http::access::enforce)),
    )
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/undeclared").to_request()).await;
    assert_eq!(response.status(), 403);
}

/// Routes may only be registered in the route table (src/routes.rs), where
/// each one must name its policy.
#[test]
fn routes_are_registered_only_through_the_policy_table() {
    let registrations = [
        ".route(",
        "web::resource(",
        "web::scope(",
        ".service(",
        "#[get(",
        "#[post(",
        "#[put(",
        "#[delete(",
        "#[patch(",
        "#[route(",
    ];
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("src/routes.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in registrations {
                if text.contains(needle) {
                    offenders.push(format!("{} registers routes ({needle})", path.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
    // Each table entry is unique.
    for (i, a) in ROUTES.iter().enumerate() {
        assert!(
            !ROUTES[i + 1..].iter().any(|b| a.method == b.method && a.path == b.path),
            "{} {} declared twice",
            a.method,
            a.path
        );
    }
}
