//! The API document: every JSON route of the route table is described, with
//! its method, and the document and its page are served.

use std::collections::BTreeSet;

use taskpulse::api::doc::ApiDoc;
use taskpulse::routes::ROUTES;
use utoipa::OpenApi;

/// The (method, path) pairs the document describes.
fn documented() -> BTreeSet<(String, String)> {
    let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    let mut out = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_api_route_is_in_the_document() {
    let documented = documented();
    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/") || r.path.starts_with("/automation/"))
        .filter(|r| !documented.contains(&(r.method.to_string(), r.path.to_string())))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(missing.is_empty(), "describe these in src/api/doc.rs: {missing:?}");
    // Nothing is described that the table does not serve.
    let served: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(stale.is_empty(), "described but not served: {stale:?}");
}

#[test]
fn the_document_names_its_security_scheme_and_error_shape() {
    let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(document["components"]["schemas"]["ApiError"]["properties"]["error"].is_object());
    let progress = &document["paths"]["/api/task/{id}/progress/"]["post"];
    assert!(progress["requestBody"].is_object(), "the progress body is described");
    assert!(progress["responses"]["422"].is_object());
}
