//! Bad input gets a clear 4xx and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;

async fn nothing_stored(app: &TestApp) {
    let msgs = app.get("/api/v1/app/acme/msg").await;
    assert_eq!(
        msgs["data"],
        json!([]),
        "a rejected request stored a message"
    );
    let eps = app.get("/api/v1/app/acme/endpoint").await;
    assert_eq!(
        eps["data"],
        json!([]),
        "a rejected request stored an endpoint"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let resp = app
        .client
        .post(format!("{}/api/v1/app/acme/msg", app.base))
        .bearer_auth(crate::harness::TOKEN)
        .header("content-type", "application/json")
        .body("{\"eventType\": \"a\", \"payload\": {")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "invalid_json");
    nothing_stored(&app).await;
}

#[tokio::test]
async fn wrong_shapes_are_422_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let cases = [
        (
            "/api/v1/app/acme/msg",
            json!({"eventType": "bad type!", "payload": {}}),
            "eventType",
        ),
        (
            "/api/v1/app/acme/msg",
            json!({"eventType": "a", "payload": [1, 2]}),
            "payload",
        ),
        ("/api/v1/app/acme/msg", json!({"eventType": "a"}), ""),
        (
            "/api/v1/app/acme/msg",
            json!({"eventType": "a", "payload": {}, "channels": ["a","b","c","d","e","f"]}),
            "channels",
        ),
        (
            "/api/v1/app/acme/endpoint",
            json!({"url": "ftp://example.com"}),
            "url",
        ),
        (
            "/api/v1/app/acme/endpoint",
            json!({"url": "https://example.com", "filterTypes": []}),
            "filterTypes",
        ),
        (
            "/api/v1/app/acme/endpoint",
            json!({"url": "https://example.com", "secret": "short"}),
            "secret",
        ),
        (
            "/api/v1/app/acme/endpoint",
            json!({"url": "https://example.com", "rateLimit": 0}),
            "rateLimit",
        ),
    ];
    for (path, body, field) in cases {
        let (status, out) = app.call(Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {out}");
        let loc = &out["detail"][0]["loc"];
        assert_eq!(loc[0], "body", "{out}");
        if !field.is_empty() {
            assert_eq!(loc[1], field, "{out}");
        }
        assert!(
            out["detail"][0]["msg"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    nothing_stored(&app).await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413_and_stores_nothing() {
    let mut s = crate::harness::settings();
    s.limits.max_payload_bytes = 1024;
    let app = TestApp::spawn_with(s).await;
    app.create_app("acme").await;
    let big = "x".repeat(4096);
    let (status, out) = app
        .call(
            Method::POST,
            "/api/v1/app/acme/msg",
            Some(json!({"eventType": "a", "payload": {"big": big}})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{out}");
    nothing_stored(&app).await;
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/app/nope",
        "/api/v1/app/nope/msg",
        "/api/v1/event-type/nope",
    ] {
        let (status, out) = app.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(out["code"], "not_found");
    }
    app.create_app("acme").await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/app/missing/msg",
            Some(json!({"eventType": "a", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(Method::GET, "/api/v1/app/acme/endpoint/ep_nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_message_with_an_application_block_creates_the_app_on_first_use() {
    let app = TestApp::spawn().await;
    let body = json!({"eventType": "a", "payload": {}, "application": {"name": "New Co"}});
    let msg = app.post("/api/v1/app/newco/msg", body).await;
    assert!(msg["id"].as_str().expect("id").starts_with("msg_"));
    assert_eq!(app.get("/api/v1/app/newco").await["name"], "New Co");
}

#[tokio::test]
async fn a_nul_character_in_text_is_a_422_on_every_backend_but_a_payload_may_carry_one() {
    let app = crate::harness::TestApp::spawn().await;
    app.create_app("acme").await;
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(serde_json::json!({"url": "http://127.0.0.1:9/x", "description": "a\u{0}b"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        serde_json::json!(["body", "description"])
    );
    assert_eq!(
        app.get("/api/v1/app/acme/endpoint").await["data"],
        serde_json::json!([])
    );
    let msg = app
        .send("acme", "a.b", serde_json::json!({"note": "a\u{0}b"}))
        .await;
    let stored = app
        .get(&format!(
            "/api/v1/app/acme/msg/{}",
            msg["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(stored["payload"]["note"], "a\u{0}b");
}

#[tokio::test]
async fn a_nul_character_in_a_path_or_query_is_a_4xx_not_a_5xx() {
    let app = crate::harness::TestApp::spawn().await;
    app.create_app("acme").await;
    for path in [
        "/api/v1/app/a%00b",
        "/api/v1/app/acme/endpoint/e%00p",
        "/api/v1/app/acme/msg/m%00g",
        "/api/v1/event-type/a%00b",
        "/api/v1/app/acme/msg?channel=a%00b",
        "/api/v1/app/acme/msg?iterator=msg_%00",
    ] {
        let (status, body) = app.call(reqwest::Method::GET, path, None).await;
        assert!(status.is_client_error(), "GET {path}: {status} {body}");
    }
}
