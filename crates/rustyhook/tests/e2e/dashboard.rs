//! The dashboard as the server serves it (issue 17): its page and assets at `/` with a strict
//! policy, client-side routes that open the page without shadowing the API, metrics or hooks,
//! and `GET /api/v1/auth/me`, which tells the page what its token may do. The pages themselves
//! are driven in a real browser by `tests/dashboard.rs`.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::harness::TestApp;

async fn get_accepting(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.base))
        .header(header::ACCEPT, accept)
        .send()
        .await
        .expect("request is sent")
}

fn header_of(resp: &reqwest::Response, name: header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

const BROWSER: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

#[tokio::test]
async fn the_root_serves_the_page_under_a_strict_policy_and_its_assets_cached_for_good() {
    let app = TestApp::spawn().await;
    let page = get_accepting(&app, "/", BROWSER).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        header_of(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    let csp = header_of(&page, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.expect("body");
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("the page loads a script from /assets: {html}"))
        .to_owned();
    assert!(!html.contains("<script>"), "no inline script: {html}");

    let js = get_accepting(&app, &script, "*/*").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(
        header_of(&js, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header_of(&js, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert!(js.text().await.expect("body").len() > 1000);

    let missing = get_accepting(&app, "/assets/index-nope.js", "*/*").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn client_routes_open_the_page_while_api_metrics_and_hook_paths_keep_their_answers() {
    let app = TestApp::spawn().await;
    let route = get_accepting(&app, "/apps/acme/endpoints/new", BROWSER).await;
    assert_eq!(route.status(), StatusCode::OK);
    assert!(
        route
            .text()
            .await
            .expect("body")
            .contains("<div id=\"root\">")
    );

    for path in ["/api/v1/nope", "/api/nope", "/hooks/nope"] {
        let resp = get_accepting(&app, path, BROWSER).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = resp.json().await.expect("a JSON error");
        assert!(body["code"].is_string(), "{path}: {body}");
    }
    // The metrics route answers for itself (here 404: this in-process server installs no
    // recorder), never with the page.
    let metrics = get_accepting(&app, "/metrics", BROWSER).await;
    assert!(
        !header_of(&metrics, header::CONTENT_TYPE).contains("html"),
        "metrics stay metrics"
    );
    assert!(
        !metrics
            .text()
            .await
            .expect("body")
            .contains("<div id=\"root\">")
    );
    // An SDK or a script asking for JSON still gets the API's 404.
    let json_client = get_accepting(&app, "/apps/acme", "application/json").await;
    assert_eq!(json_client.status(), StatusCode::NOT_FOUND);
    let body: Value = json_client.json().await.expect("a JSON error");
    assert_eq!(body["code"], "not_found");
    let (status, _) = app.call(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auth_me_tells_each_token_its_role_and_app() {
    let app = TestApp::spawn().await;
    let acme = app.create_app("acme").await;
    let acme_id = acme["id"].as_str().expect("id");

    let admin = app.get("/api/v1/auth/me").await;
    assert_eq!(admin["role"], "admin", "{admin}");
    assert_eq!(admin["readOnly"], false);
    assert_eq!(admin["appId"], Value::Null);

    let (status, made) = app
        .call(
            Method::POST,
            "/api/v1/token",
            Some(json!({"name": "viewer", "role": "read-only"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let viewer = made["token"].as_str().expect("secret");
    let (status, me) = app
        .call_as(viewer, Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "read-only");
    assert_eq!(me["readOnly"], true);
    assert_eq!(me["tokenId"], made["id"]);
    assert_eq!(me["name"], "viewer");

    let (_, portal) = app
        .call(
            Method::POST,
            "/api/v1/auth/app-portal-access/acme",
            Some(json!({"readOnly": true})),
        )
        .await;
    let scoped = portal["token"].as_str().expect("token");
    let (status, me) = app
        .call_as(scoped, Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "app");
    assert_eq!(me["appId"], acme_id);
    assert_eq!(me["readOnly"], true);
    assert!(me["expiresAt"].is_string(), "{me}");

    let (status, _) = app
        .call_as(scoped, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call_as(scoped, Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is no one"
    );
    let (status, _) = app
        .call_as("rh_tok_nope", Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_app_portal_token_reads_the_event_catalog_but_cannot_change_it() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    app.post(
        "/api/v1/event-type",
        json!({"name": "invoice.paid", "description": "Paid"}),
    )
    .await;
    let (_, portal) = app
        .call(
            Method::POST,
            "/api/v1/auth/app-portal-access/acme",
            Some(json!({})),
        )
        .await;
    let token = portal["token"].as_str().expect("token");
    let (status, list) = app
        .call_as(token, Method::GET, "/api/v1/event-type", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"][0]["name"], "invoice.paid", "{list}");
    let (status, _) = app
        .call_as(
            token,
            Method::PATCH,
            "/api/v1/event-type/invoice.paid",
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call_as(
            token,
            Method::POST,
            "/api/v1/event-type",
            Some(json!({"name": "x.y"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let unchanged = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(unchanged["description"], "Paid");
}
