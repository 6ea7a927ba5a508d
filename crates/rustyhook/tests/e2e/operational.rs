//! Operational webhooks, as Svix sends them: the operator's endpoints (set up through the API or
//! the config) receive signed events about endpoints, deliveries given up on, failed handler
//! runs, and endpoints disabled for failing too long.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustyhook_core::retry::RetryPolicy;
use serde_json::{Value, json};

use crate::harness::{QUIET, TestApp, settings};
use crate::receiver::{Received, Receiver, Reply};
use crate::wait::{eventually, throughout, until};

const OPS: &str = "/api/v1/operational-webhook/endpoint";

/// How long a test waits for an operational event (published within about a second).
const WAIT: Duration = Duration::from_secs(15);

/// Verifies a request's Standard Webhooks signature with `secret`, as an operator's receiver
/// would, and returns its JSON body.
pub fn verified(req: &Received, secret: &str) -> Value {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let value = req.header(name).unwrap_or_else(|| panic!("{name} is sent"));
        headers.insert(name, value.parse().expect("a header value"));
    }
    standardwebhooks::Webhook::new(secret)
        .expect("the secret is accepted")
        .verify(&req.body, &headers)
        .expect("the signature verifies with the operational endpoint's secret");
    req.json()
}

/// Waits until `receiver` has `n` requests, and returns their verified bodies.
async fn events(receiver: &Receiver, n: usize, secret: &str) -> Vec<Value> {
    receiver
        .wait_for(n, WAIT)
        .await
        .iter()
        .map(|r| verified(r, secret))
        .collect()
}

fn types(events: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = events
        .iter()
        .map(|e| e["type"].as_str().expect("a type").to_owned())
        .collect();
    types.sort();
    types
}

/// Creates an operational endpoint through the API; returns its id and secret.
async fn operator_endpoint(app: &TestApp, url: String, filter: &[&str]) -> (String, String) {
    let (status, ep) = app
        .call(
            Method::POST,
            OPS,
            Some(json!({"url": url, "filterTypes": filter, "description": "on call"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let id = ep["id"].as_str().expect("an id").to_owned();
    let secret = app.get(&format!("{OPS}/{id}/secret")).await["key"]
        .as_str()
        .expect("a key")
        .to_owned();
    (id, secret)
}

#[tokio::test]
async fn a_delivery_failing_then_dead_is_reported_once_each_signed_to_the_operator() {
    let ops = Receiver::start().await;
    let customer = Receiver::start().await;
    customer.set_default(Reply::status(500));
    let mut s = settings();
    s.retry.schedule = RetryPolicy::parse_list("50ms,50ms,50ms,50ms").expect("valid");
    let app = TestApp::spawn_with(s).await;
    let filter = ["message.attempt.failing", "message.attempt.exhausted"];
    let (_, secret) = operator_endpoint(&app, ops.url("/ops"), &filter).await;
    app.create_app("shop").await;
    let endpoint = app
        .create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    let msg = app
        .post(
            "/api/v1/app/shop/msg",
            json!({"eventType": "order.paid", "eventId": "order-1", "payload": {}}),
        )
        .await;
    let got = events(&ops, 2, &secret).await;
    assert_eq!(
        types(&got),
        ["message.attempt.exhausted", "message.attempt.failing"]
    );
    let exhausted = got
        .iter()
        .find(|e| e["type"] == "message.attempt.exhausted")
        .expect("exhausted");
    let data = &exhausted["data"];
    assert_eq!(data["appUid"], "shop");
    assert_eq!(data["msgId"], msg["id"]);
    assert_eq!(data["msgEventId"], "order-1");
    assert_eq!(data["endpointId"], endpoint["id"]);
    assert_eq!(data["lastAttempt"]["responseStatusCode"], 500);
    assert!(data["lastAttempt"]["id"].is_string(), "{data}");
    assert_eq!(customer.received().len(), 5, "five attempts, then dead");
    throughout("each event arrives once", QUIET * 5, async || {
        ops.received().len() == 2
    })
    .await;
}

#[tokio::test]
async fn endpoint_changes_reach_an_operator_endpoint_from_the_config() {
    let ops = Receiver::start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let yaml = format!(
        "operational_webhooks:\n  - url: {}\n    secret: {secret}\n    filter_types: [endpoint.created, endpoint.updated, endpoint.deleted]\n",
        ops.url("/ops")
    );
    let mut s = settings();
    s.operational_webhooks = rustyhook::config::parse(&yaml, "test.yaml")
        .expect("a valid config")
        .operational_webhooks;
    let app = TestApp::spawn_with(s).await;
    let listed = app.get(OPS).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["data"][0]["uid"], "config-1");
    app.create_app("shop").await;
    let endpoint = app
        .create_endpoint(
            "shop",
            json!({"url": "https://example.com/a", "uid": "main"}),
        )
        .await;
    let id = endpoint["id"].as_str().expect("an id");
    let path = format!("/api/v1/app/shop/endpoint/{id}");
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"url": "https://example.com/b"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = events(&ops, 3, secret).await;
    assert_eq!(
        types(&got),
        ["endpoint.created", "endpoint.deleted", "endpoint.updated"]
    );
    for e in &got {
        assert_eq!(e["data"]["endpointId"], id, "{e}");
        assert_eq!(e["data"]["endpointUid"], "main", "{e}");
        assert_eq!(e["data"]["appUid"], "shop", "{e}");
    }
    throughout(
        "nothing about the operator's own endpoint is reported",
        QUIET * 5,
        async || ops.received().len() == 3,
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_longer_than_the_setting_is_disabled_and_reported_once() {
    let ops = Receiver::start().await;
    let customer = Receiver::start().await;
    customer.set_default(Reply::status(503));
    let mut s = settings();
    s.delivery.auto_disable_after = Duration::from_secs(2);
    s.retry.schedule = RetryPolicy::new(vec![Duration::from_millis(200); 30]).expect("valid");
    let app = TestApp::spawn_with(s).await;
    let filter = [
        "endpoint.disabled",
        "endpoint.enabled",
        "message.attempt.exhausted",
    ];
    let (_, secret) = operator_endpoint(&app, ops.url("/ops"), &filter).await;
    app.create_app("shop").await;
    let endpoint = app
        .create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    let id = endpoint["id"].as_str().expect("an id");
    // A backlog still retrying when the endpoint is disabled: each delivery then ends dead,
    // unsent (`E_ENDPOINT_DISABLED`), which must not report one `exhausted` per message.
    for _ in 0..3 {
        app.send("shop", "order.paid", json!({})).await;
    }
    let got = events(&ops, 1, &secret).await;
    let data = &got[0]["data"];
    assert_eq!(got[0]["type"], "endpoint.disabled");
    assert_eq!(data["endpointId"], id);
    assert_eq!(data["trigger"], "automatic");
    assert!(data["failSince"].is_string(), "{data}");
    let path = format!("/api/v1/app/shop/endpoint/{id}");
    assert_eq!(app.get(&path).await["disabled"], true);
    for _ in 0..3 {
        app.send("shop", "order.paid", json!({})).await;
    }
    // The check runs every second: two more would report it again if it could be. Neither the
    // backlog nor the messages sent since make `message.attempt.exhausted`: the operator was
    // told once, by `endpoint.disabled`.
    throughout(
        "the endpoint stays disabled and is reported once, with no exhausted event",
        Duration::from_millis(2_500),
        async || ops.received().len() == 1 && app.get(&path).await["disabled"] == true,
    )
    .await;
    let (status, _) = app
        .call(Method::PATCH, &path, Some(json!({"disabled": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = events(&ops, 2, &secret).await;
    assert_eq!(
        types(&got),
        ["endpoint.disabled", "endpoint.enabled"],
        "no message.attempt.exhausted for the deliveries the disabled endpoint never got"
    );
    throughout("nothing else is reported", QUIET * 5, async || {
        ops.received().len() == 2
    })
    .await;
}

#[tokio::test]
async fn a_handler_run_that_fails_is_reported() {
    let ops = Receiver::start().await;
    let yaml = r#"
handlers:
  - type: Webhook
    name: Breaks
    options: {type: http, path: /breaks}
    shell: 'exit 3'
"#;
    let mut s = settings();
    s.handlers = rustyhook::config::parse(yaml, "test.yaml")
        .expect("valid handlers")
        .handlers;
    let app = TestApp::spawn_with(s).await;
    let (_, secret) = operator_endpoint(&app, ops.url("/ops"), &["handler.run.failed"]).await;
    let resp = app
        .client
        .post(format!("{}/hooks/breaks", app.base))
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let got = events(&ops, 1, &secret).await;
    assert_eq!(got[0]["type"], "handler.run.failed");
    assert_eq!(got[0]["data"]["handlerId"], "breaks");
    assert_eq!(got[0]["data"]["lastAttempt"]["exitCode"], 3);
}

#[tokio::test]
async fn the_operational_app_is_hidden_and_cannot_be_changed_through_the_app_routes() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let apps = app.get("/api/v1/app").await;
    let uids: Vec<&str> = apps["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["uid"].as_str())
        .collect();
    assert_eq!(uids, ["shop"]);
    let reserved = "/api/v1/app/rustyhook-operational";
    let (status, body) = app.call(Method::DELETE, reserved, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "reserved_app");
    let (status, _) = app
        .call(
            Method::PUT,
            reserved,
            Some(json!({"name": "mine", "uid": "rustyhook-operational"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{reserved}/msg"),
            Some(json!({"eventType": "endpoint.disabled", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(reserved).await["uid"], "rustyhook-operational");
}

#[tokio::test]
async fn bad_operational_endpoints_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call(
            Method::POST,
            OPS,
            Some(json!({"url": "https://ops.example.com", "filterTypes": ["invoice.paid"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("filterTypes") && text.contains("invoice.paid"),
        "{text}"
    );
    let (status, body) = app
        .call(Method::POST, OPS, Some(json!({"url": "not a url"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.get(OPS).await["data"], json!([]));
    let (status, _) = app
        .call(Method::GET, &format!("{OPS}/ep_missing"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bad = "operational_webhooks:\n  - url: https://ops.example.com\n    filter_types: [endpoint.exploded]\n";
    let err = format!(
        "{:#}",
        rustyhook::config::parse(bad, "bad.yaml").expect_err("an unknown event type")
    );
    assert!(
        err.contains("operational_webhooks[0].filter_types") && err.contains("endpoint.exploded"),
        "{err}"
    );
}

#[tokio::test]
async fn an_operator_endpoint_is_managed_like_svix_and_its_rotated_secret_signs() {
    let ops = Receiver::start().await;
    let app = TestApp::spawn().await;
    let (id, old) = operator_endpoint(&app, ops.url("/ops"), &["endpoint.created"]).await;
    let one = format!("{OPS}/{id}");
    let fetched = app.get(&one).await;
    assert_eq!(fetched["description"], "on call");
    assert_eq!(fetched["filterTypes"], json!(["endpoint.created"]));
    let rotated = app.post(&format!("{one}/secret/rotate"), json!({})).await;
    let new = rotated["key"].as_str().expect("a key").to_owned();
    assert_ne!(new, old);
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("{one}/headers"),
            Some(json!({"headers": {"x-team": "sre"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": "https://example.com/a"}))
        .await;
    let got = until("the event", WAIT, async || match ops.received().first() {
        Some(r) => Ok(r.clone()),
        None => Err(()),
    })
    .await;
    verified(&got, &new);
    assert_eq!(got.header("x-team").as_deref(), Some("sre"));
    let (status, _) = app.call(Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    eventually("the endpoint is gone", WAIT, async || {
        app.call(Method::GET, &one, None).await.0 == StatusCode::NOT_FOUND
    })
    .await;
}
