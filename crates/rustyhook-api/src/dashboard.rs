//! The dashboard: the React app in `web/`, built by Vite into `web/dist` (committed) and
//! embedded at compile time (see `build.rs`). `/` serves its page, `/assets/…` its hashed
//! files, and any other `GET` for HTML outside the API's, the metrics' and the handlers'
//! paths gets the page too, so a client-side route such as `/apps/acme` opens directly.
//!
//! The page is `no-cache` (a new build is seen at once); hashed assets are cached for a year.
//! A strict Content-Security-Policy allows only this origin's scripts, styles and API (no
//! inline script, no other site), and no framing.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use crate::http::error::ApiError;

mod files {
    include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));
}

/// What the page may load: its own scripts, styles and images, and calls to this origin's API;
/// images over `https:` too, for an app's logo (`logoUrl`) in the app portal.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: https:; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Paths that are never a page of the dashboard: what a client there wants is JSON or a hook.
const NOT_PAGES: &[&str] = &["/api", "/metrics", "/hooks"];

/// `/` and `/assets/…`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
}

fn file(path: &str) -> Option<&'static [u8]> {
    files::FILES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| files::FILES[i].1)
}

async fn index() -> Response {
    page()
}

/// The dashboard's page, for `/` and its client-side routes.
pub fn page() -> Response {
    let html = file("index.html").expect("build.rs refuses a build without index.html");
    respond(
        html,
        &[
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some(bytes) = file(&format!("assets/{name}")) else {
        return ApiError::not_found("asset").into_response();
    };
    // Names carry a hash of the content: a changed file is a new name.
    respond(
        bytes,
        &[
            (header::CONTENT_TYPE, content_type(&name)),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
    )
}

/// A `200` with `body` and `headers`, never sniffed for another type.
fn respond(body: &'static [u8], headers: &[(header::HeaderName, &'static str)]) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Whether a request no route serves is for a page of the dashboard: a `GET` or `HEAD` that
/// accepts HTML, outside `/api`, `/metrics` and `/hooks`.
pub fn wants_page(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let reads = method == Method::GET || method == Method::HEAD;
    let reserved = NOT_PAGES.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    let html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    reads && !reserved && html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn a_browser_opening_a_client_route_gets_the_page() {
        let html = accept("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(wants_page(&Method::GET, "/apps/acme", &html));
        assert!(wants_page(&Method::HEAD, "/messages", &html));
        assert!(wants_page(&Method::GET, "/apiary", &html));
    }

    #[test]
    fn api_metrics_and_hook_paths_and_non_html_requests_never_get_the_page() {
        let html = accept("text/html");
        for path in ["/api", "/api/v1/nope", "/metrics", "/hooks", "/hooks/x/y"] {
            assert!(!wants_page(&Method::GET, path, &html), "{path}");
        }
        assert!(!wants_page(&Method::POST, "/apps", &html));
        assert!(!wants_page(
            &Method::GET,
            "/apps",
            &accept("application/json")
        ));
        assert!(!wants_page(&Method::GET, "/apps", &HeaderMap::new()));
    }

    #[test]
    fn the_embedded_build_has_its_page_and_the_assets_it_names() {
        let html = std::str::from_utf8(file("index.html").expect("index.html")).expect("utf-8");
        let named: Vec<&str> = html
            .split('"')
            .filter(|s| s.starts_with("/assets/"))
            .collect();
        assert!(!named.is_empty(), "{html}");
        for path in named {
            assert!(file(&path[1..]).is_some(), "{path} is embedded");
        }
        assert!(!html.contains("<script>"), "no inline script: {html}");
    }

    #[test]
    fn assets_are_served_with_their_type() {
        assert_eq!(content_type("index-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index-1.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }
}
