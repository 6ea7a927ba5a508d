//! Security findings of issue 13 that the API and the delivery path must hold to: input that
//! would break deliveries is refused, a proxy does not bypass the private-address guard, and
//! secrets written through the API are not readable from the database.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{self, TOKEN, TestApp};
use crate::proxy::TinyProxy;

async fn attempt_of(app: &TestApp, msg: &Value) -> Value {
    let id = msg["id"].as_str().expect("message id");
    let attempts = app
        .wait_attempts("acme", id, Duration::from_secs(10), |a| !a.is_empty())
        .await;
    attempts[0].clone()
}

#[tokio::test]
async fn through_a_configured_proxy_a_private_target_is_blocked_before_the_proxy_sees_it() {
    let proxy = TinyProxy::start().await;
    let mut s = harness::settings();
    s.delivery.allow_private_networks = false;
    s.delivery.proxy = Some(proxy.url.clone());
    let app = TestApp::spawn_with(s).await;
    app.create_app("acme").await;
    for url in [
        "http://localhost:9/hook",
        "http://[::127.0.0.1]:9/hook",
        "http://[::ffff:0:7f00:1]:9/hook",
    ] {
        app.create_endpoint("acme", json!({"url": url})).await;
    }
    let msg = app.send("acme", "a.b", json!({})).await;
    let id = msg["id"].as_str().expect("id");
    let attempts = app
        .wait_attempts("acme", id, Duration::from_secs(10), |a| a.len() >= 3)
        .await;
    for a in &attempts {
        assert_eq!(a["outcome"], "E_BLOCKED_ADDRESS", "{a}");
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

#[tokio::test]
async fn a_configured_proxy_carries_requests_the_guard_allows() {
    let proxy = TinyProxy::start().await;
    let mut s = harness::settings();
    s.delivery.proxy = Some(proxy.url.clone());
    let app = TestApp::spawn_with(s).await;
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": "http://localhost:9/via-proxy"}))
        .await;
    let msg = app.send("acme", "a.b", json!({})).await;
    let attempt = attempt_of(&app, &msg).await;
    assert_eq!(attempt["outcome"], "OK", "{attempt}");
    let seen = proxy.requests();
    assert!(
        seen.iter().any(|l| l.contains("localhost:9/via-proxy")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_header_value_with_a_line_break_is_a_422_naming_the_header_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let (status, out) = app
        .call(
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com", "headers": {"X-Bad": "a\r\nX-Injected: 1"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert_eq!(out["detail"][0]["loc"], json!(["body", "headers", "X-Bad"]));
    let ep = app
        .create_endpoint("acme", json!({"url": "https://example.com"}))
        .await;
    let path = format!(
        "/api/v1/app/acme/endpoint/{}/headers",
        ep["id"].as_str().expect("id")
    );
    for method in [Method::PUT, Method::PATCH] {
        let body = json!({"headers": {"X-Ok": "fine", "X-Bad": "a\nb"}});
        let (status, out) = app.call(method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {out}");
        assert_eq!(out["detail"][0]["loc"], json!(["body", "headers", "X-Bad"]));
    }
    assert_eq!(app.get(&path).await["headers"], json!({}));
}

async fn raw(app: &TestApp, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, String) {
    let resp = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn a_json_body_with_trailing_garbage_is_a_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let body = br#"{"eventType": "a.b", "payload": {}} garbage"#.to_vec();
    let (status, out) = raw(&app, Method::POST, "/api/v1/app/acme/msg", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    assert!(out.contains("invalid_json"), "{out}");
    let msgs = app.get("/api/v1/app/acme/msg").await;
    assert_eq!(msgs["data"], json!([]));
}

#[tokio::test]
async fn a_rotate_with_a_body_that_is_not_an_object_is_refused_and_keeps_the_secret() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": "https://example.com"}))
        .await;
    let base = format!(
        "/api/v1/app/acme/endpoint/{}/secret",
        ep["id"].as_str().expect("id")
    );
    let before = app.get(&base).await["key"].clone();
    for body in [
        b"[]".to_vec(),
        b"\xff\xfe".to_vec(),
        b"{\"key\": null}\xff".to_vec(),
        b"\"x\"".to_vec(),
    ] {
        let (status, out) = raw(&app, Method::POST, &format!("{base}/rotate"), body).await;
        assert!(status.is_client_error(), "{status} {out}");
    }
    assert_eq!(app.get(&base).await["key"], before);
}

/// Everything the store wrote, as text: the SQLite files of the data directory, or the rows of
/// the two tables on PostgreSQL.
async fn stored_text(app: &TestApp, dir: &std::path::Path) -> String {
    if let Some(url) = app.database_url() {
        let pool = sqlx::PgPool::connect(&url).await.expect("connect");
        let headers: Vec<String> = sqlx::query_scalar("SELECT headers FROM endpoints")
            .fetch_all(&pool)
            .await
            .expect("headers");
        let bodies: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT body FROM idempotency")
            .fetch_all(&pool)
            .await
            .expect("bodies");
        let mut text = headers.join("\n");
        for b in bodies.into_iter().flatten() {
            text.push_str(&String::from_utf8_lossy(&b));
        }
        return text;
    }
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).expect("read"),
            ));
        }
    }
    text
}

#[tokio::test]
async fn endpoint_headers_and_a_rotated_secret_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_path_buf();
    let app = TestApp::spawn_on(harness::settings(), dir, None).await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint(
            "acme",
            json!({"url": "https://example.com", "headers": {"Authorization": "Bearer sekrit-header-value"}}),
        )
        .await;
    let rotate = format!(
        "/api/v1/app/acme/endpoint/{}/secret/rotate",
        ep["id"].as_str().expect("id")
    );
    let keyed = [("idempotency-key", "rotate-1")];
    let (status, rotated) = app
        .call_with(Method::POST, &rotate, Some(json!({})), &keyed)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let key = rotated["key"].as_str().expect("key").to_owned();
    let secret_part = key.trim_start_matches("whsec_");
    // The saved answer still replays.
    let (_, again) = app
        .call_with(Method::POST, &rotate, Some(json!({})), &keyed)
        .await;
    assert_eq!(again["key"], key);
    let text = stored_text(&app, &data).await;
    assert!(
        harness::on_postgres() || text.contains("SQLite format"),
        "the database was not read"
    );
    assert!(!text.contains("sekrit-header-value"), "a header in clear");
    assert!(!text.contains(secret_part), "the rotated secret in clear");
}

#[tokio::test]
async fn a_token_over_its_api_rate_gets_429_with_retry_after_and_health_still_answers() {
    let mut s = harness::settings();
    s.limits.api_rate_limit = 1;
    s.limits.api_burst = 3;
    let app = TestApp::spawn_with(s).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let r = app
            .client
            .get(format!("{}/api/v1/app", app.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent");
        statuses.push(r.status().as_u16());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = r.json().await.expect("json");
            assert_eq!(body["code"], "rate_limited");
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
    let health = app
        .client
        .get(format!("{}/api/v1/health", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), StatusCode::NO_CONTENT);
}
