//! Svix's app portal routes (issue 15, item 4): an app-portal token reaches its one app, and
//! logging out revokes it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

async fn portal_token(app: &TestApp, app_id: &str, body: Value) -> Value {
    let (status, out) = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/app-portal-access/{app_id}"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    out
}

#[tokio::test]
async fn an_app_portal_token_reaches_its_app_only_and_logout_revokes_it() {
    let app = TestApp::spawn().await;
    let acme = app.create_app("acme").await;
    app.create_app("other").await;
    let out = portal_token(&app, "acme", json!({"featureFlags": ["beta"]})).await;
    let token = out["token"].as_str().expect("token");
    let acme_id = acme["id"].as_str().expect("id");
    // The link opens the dashboard, the token in the fragment (never sent to a server).
    let host = app.base.trim_start_matches("http://");
    assert_eq!(
        out["url"].as_str(),
        Some(format!("http://{host}/#token={token}").as_str()),
        "{out}"
    );
    let (status, ep) = app
        .call_as(
            token,
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let (status, _) = app
        .call_as(token, Method::GET, "/api/v1/app/other/endpoint", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let listed = app.get("/api/v1/token").await;
    let made = &listed["data"][0];
    assert_eq!(made["role"], "app", "{listed}");
    assert_eq!(made["appId"], acme_id);
    assert!(
        made["expiresAt"].is_string(),
        "it expires (7 days by default)"
    );

    let (status, _) = app
        .call_as(token, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call_as(token, Method::GET, "/api/v1/app/acme/endpoint", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_read_only_app_portal_token_cannot_write_and_bad_expiry_is_422() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let out = portal_token(&app, "acme", json!({"readOnly": true, "expiry": 3600})).await;
    let token = out["token"].as_str().expect("token");
    let (status, _) = app
        .call_as(token, Method::GET, "/api/v1/app/acme/endpoint", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call_as(
            token,
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for expiry in [0, 59, 8 * 24 * 3600] {
        let (status, out) = app
            .call(
                Method::POST,
                "/api/v1/auth/app-portal-access/acme",
                Some(json!({"expiry": expiry})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expiry}: {out}");
        assert!(out["detail"].to_string().contains("expiry"), "{out}");
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/app-portal-access/nowhere",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, out) = app.call(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the admin token stays: {out}"
    );
}
