//! Details where rustyhook differs from Svix's server, driven with the exact bodies and queries
//! Svix's SDKs send (issue 15, items 5 and 7): signature header names, expunged content,
//! duplicate rate fields, list parameters, and event type fields.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustyhook_core::signing::HeaderStyle;
use serde_json::{Value, json};

use crate::harness::{TestApp, settings};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(10);

/// The header names the first delivery to `receiver` arrived with: `svix` or `webhook`.
async fn style_received(receiver: &Receiver) -> String {
    let got = receiver.wait_for(1, WAIT).await;
    match (got[0].header("svix-id"), got[0].header("webhook-id")) {
        (Some(_), None) => "svix".to_owned(),
        (None, Some(_)) => "webhook".to_owned(),
        other => format!("both or neither: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_set_to_svix_headers_signs_sdk_created_endpoints_with_svix_names() {
    let mut s = settings();
    s.delivery.header_style = HeaderStyle::Svix;
    let app = TestApp::spawn_with(s).await;
    let (receiver, own) = (Receiver::start().await, Receiver::start().await);
    // What `svix.application.create` and `svix.endpoint.create` send: no headerStyle anywhere.
    app.post("/api/v1/app", json!({"name": "Acme", "uid": "acme"}))
        .await;
    app.create_endpoint("acme", json!({"url": receiver.url("/sdk"), "version": 1}))
        .await;
    app.create_endpoint(
        "acme",
        json!({"url": own.url("/own"), "headerStyle": "standard"}),
    )
    .await;
    let msg = app.send("acme", "invoice.paid", json!({"n": 1})).await;
    assert_eq!(style_received(&receiver).await, "svix");
    assert_eq!(style_received(&own).await, "webhook");
    let sdk = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(sdk.header("svix-id").as_deref(), msg["id"].as_str());
    assert!(
        sdk.header("svix-signature")
            .expect("signed")
            .starts_with("v1,")
    );
}

#[tokio::test]
async fn an_apps_header_style_applies_to_its_endpoints_that_set_none() {
    let app = TestApp::spawn().await;
    let (receiver, own) = (Receiver::start().await, Receiver::start().await);
    let created = app
        .post(
            "/api/v1/app",
            json!({"name": "Acme", "uid": "acme", "headerStyle": "svix"}),
        )
        .await;
    assert_eq!(created["headerStyle"], "svix");
    let inherits = app
        .create_endpoint("acme", json!({"url": receiver.url("/inherits")}))
        .await;
    assert_eq!(inherits["headerStyle"], Value::Null);
    app.create_endpoint(
        "acme",
        json!({"url": own.url("/own"), "headerStyle": "standard"}),
    )
    .await;
    app.send("acme", "a", json!({})).await;
    assert_eq!(style_received(&receiver).await, "svix");
    assert_eq!(style_received(&own).await, "webhook");

    // An SDK's PUT (no headerStyle) keeps the app's style; PATCH with null clears it.
    let (status, put) = app
        .call(
            Method::PUT,
            "/api/v1/app/acme",
            Some(json!({"name": "Acme Inc", "uid": "acme"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["headerStyle"], "svix");
    let (_, patched) = app
        .call(
            Method::PATCH,
            "/api/v1/app/acme",
            Some(json!({"headerStyle": null})),
        )
        .await;
    assert_eq!(patched["headerStyle"], Value::Null);
    let (status, bad) = app
        .call(
            Method::PATCH,
            "/api/v1/app/acme",
            Some(json!({"headerStyle": "github"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
}

#[tokio::test]
async fn event_type_group_name_and_feature_flags_are_stored_and_returned() {
    let app = TestApp::spawn().await;
    // What `svix.event_type.create(EventTypeIn(...))` sends.
    let created = app
        .post(
            "/api/v1/event-type",
            json!({
                "name": "invoice.paid",
                "description": "An invoice was paid",
                "archived": false,
                "deprecated": false,
                "featureFlags": ["beta", "alpha", "beta"],
                "groupName": "invoice",
            }),
        )
        .await;
    assert_eq!(created["groupName"], "invoice");
    assert_eq!(created["featureFlags"], json!(["alpha", "beta"]));
    let fetched = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(fetched["groupName"], "invoice");
    assert_eq!(fetched["featureFlags"], json!(["alpha", "beta"]));
    let listed = app.get("/api/v1/event-type").await;
    assert_eq!(listed["data"][0]["groupName"], "invoice");
    let (_, patched) = app
        .call(
            Method::PATCH,
            "/api/v1/event-type/invoice.paid",
            Some(json!({"groupName": "billing", "featureFlags": null})),
        )
        .await;
    assert_eq!(patched["groupName"], "billing");
    assert_eq!(patched["featureFlags"], Value::Null);
    let fetched = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(fetched["groupName"], "billing");
}
