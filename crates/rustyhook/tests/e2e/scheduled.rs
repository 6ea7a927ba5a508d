//! `deliverAt`: a message scheduled ahead is stored and acknowledged at once, and delivered when
//! its time comes, not before; a bad time is a 422 that stores nothing.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;
use crate::receiver::Receiver;

fn at(from_now: chrono::Duration) -> String {
    (Utc::now() + from_now).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_message_with_deliver_at_arrives_when_it_is_due_and_not_before() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let posted = Instant::now();
    let later = app
        .post(
            "/api/v1/app/acme/msg",
            json!({"eventType": "a.b", "payload": {"when": "later"}, "deliverAt": at(chrono::Duration::seconds(3))}),
        )
        .await;
    let now = app.send("acme", "a.b", json!({"when": "now"})).await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    // Only the unscheduled one, for as long as the scheduled one is not due.
    while posted.elapsed() < Duration::from_millis(2500) {
        let got = receiver.received();
        assert_eq!(got.len(), 1, "the scheduled message went early");
        assert_eq!(
            got[0].header("webhook-id"),
            now["id"].as_str().map(str::to_owned)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let arrived = posted.elapsed();
    assert_eq!(
        got[1].header("webhook-id"),
        later["id"].as_str().map(str::to_owned)
    );
    assert!(
        arrived >= Duration::from_millis(2900),
        "delivered after {arrived:?}, before its time"
    );
}

#[tokio::test]
async fn a_deliver_at_that_is_not_a_time_or_too_far_ahead_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    for bad in [json!("tomorrow"), json!(at(chrono::Duration::hours(25)))] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/app/acme/msg",
                Some(json!({"eventType": "a.b", "payload": {}, "deliverAt": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "deliverAt"]));
    }
    // A time already past is delivered at once, as Svix does.
    let msg = app
        .post(
            "/api/v1/app/acme/msg",
            json!({"eventType": "a.b", "payload": {}, "deliverAt": at(chrono::Duration::minutes(-5))}),
        )
        .await;
    assert!(msg["id"].is_string());
    assert_eq!(
        app.get("/api/v1/app/acme/msg").await["data"]
            .as_array()
            .expect("data")
            .len(),
        1,
        "only the valid message was stored"
    );
}
