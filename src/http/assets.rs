//! Static files embedded in the binary, served with cache-busting URLs
//! (`?v=<content hash>` makes them cacheable forever).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

/// URLs of the assets the layout links.
#[derive(Debug)]
pub struct AssetUrls {
    /// Stylesheet.
    pub css: String,
    /// htmx.
    pub htmx: String,
    /// htmx WebSocket extension.
    pub htmx_ws: String,
    /// The page script (live status, offline queue, presence).
    pub app: String,
}

fn versioned(path: &str) -> String {
    let hash = Static::get(path).map(|f| hex::encode(&f.metadata.sha256_hash()[..6])).unwrap_or_default();
    format!("/static/{path}?v={hash}")
}

static URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
    css: versioned("css/app.css"),
    htmx: versioned("vendor/htmx/htmx.min.js"),
    htmx_ws: versioned("vendor/htmx-ext-ws/ws.min.js"),
    app: versioned("js/app.js"),
});

/// The asset URLs (computed once).
pub fn asset_urls() -> &'static AssetUrls {
    &URLS
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The cache-busting query.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// Serves an embedded file (a missing one is a bare 404, which the error
/// middleware renders like any other).
pub async fn serve(path: web::Path<String>, query: web::Query<Version>) -> HttpResponse {
    embedded(&path.into_inner(), query.v.as_deref())
}

/// GET /favicon.ico: the icon, for browsers that ask for it by that name.
pub async fn favicon() -> HttpResponse {
    embedded("favicon.svg", None)
}

/// An embedded file; cacheable forever when asked for with its hash.
fn embedded(path: &str, version: Option<&str>) -> HttpResponse {
    let Some(file) = Static::get(path) else { return HttpResponse::NotFound().finish() };
    let hash = hex::encode(&file.metadata.sha256_hash()[..6]);
    let cache = if version == Some(hash.as_str()) { "public, max-age=31536000, immutable" } else { "no-cache" };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, format!("\"{hash}\"")))
        .body(file.data.into_owned())
}
