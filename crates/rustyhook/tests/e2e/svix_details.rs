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

/// The `msg` of the first validation problem in a 422 answer, and its location.
fn problem(body: &Value) -> (String, Value) {
    let item = &body["detail"][0];
    (
        item["msg"].as_str().unwrap_or_default().to_owned(),
        item["loc"].clone(),
    )
}

/// One text field of each item of a list answer, in order.
fn field_of_each(list: &Value, field: &str) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// An app `acme` with one endpoint that answers 200, and one message attempted once.
async fn one_attempt(app: &TestApp, receiver: &Receiver) -> (String, String, String) {
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/")}))
        .await;
    let msg = app.send("acme", "a.b", json!({"secret": 1})).await;
    let msg_id = msg["id"].as_str().expect("id").to_owned();
    let attempts = app
        .wait_attempts("acme", &msg_id, WAIT, |a| !a.is_empty())
        .await;
    let attempt_id = attempts[0]["id"].as_str().expect("id").to_owned();
    (
        ep["id"].as_str().expect("id").to_owned(),
        msg_id,
        attempt_id,
    )
}

#[tokio::test]
async fn expunged_content_reads_as_svix_shows_it() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (_, msg_id, attempt_id) = one_attempt(&app, &receiver).await;
    let msg_path = format!("/api/v1/app/acme/msg/{msg_id}");
    let attempt_path = format!("{msg_path}/attempt/{attempt_id}");
    let (status, _) = app
        .call(Method::DELETE, &format!("{msg_path}/content"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(Method::DELETE, &format!("{attempt_path}/content"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&msg_path).await["payload"],
        json!({"expired": true})
    );
    assert_eq!(app.get(&attempt_path).await["response"], "EXPUNGED");
}

#[tokio::test]
async fn rate_limit_and_throttle_rate_together_are_accepted_when_equal_and_refused_when_not() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/api/v1/app",
            json!({"name": "Acme", "uid": "acme", "rateLimit": 5, "throttleRate": 5}),
        )
        .await;
    assert_eq!(created["throttleRate"], 5);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com/", "rateLimit": 5, "throttleRate": 7})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (msg, _) = problem(&body);
    assert!(
        msg.contains("rateLimit") && msg.contains("throttleRate"),
        "{msg}"
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/app/acme",
            Some(json!({"rateLimit": 1, "throttleRate": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.get("/api/v1/app/acme").await["rateLimit"], 5);
}

#[tokio::test]
async fn limit_zero_and_a_foreign_iterator_are_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    app.create_app("a1").await;
    app.create_app("a2").await;
    let (status, body) = app.call(Method::GET, "/api/v1/app?limit=0", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem(&body).1, json!(["query", "limit"]));
    for path in [
        "/api/v1/app?iterator=garbage",
        "/api/v1/app/a1/msg?iterator=app_not_a_message",
        "/api/v1/event-type?iterator=-%20",
    ] {
        let (status, body) = app.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(problem(&body).1, json!(["query", "iterator"]), "{path}");
    }
    let first = app.get("/api/v1/app?limit=1").await;
    let next = first["iterator"].as_str().expect("iterator");
    let second = app
        .get(&format!("/api/v1/app?limit=1&iterator={next}"))
        .await;
    assert_eq!(second["data"][0]["uid"], "a2");
}

#[tokio::test]
async fn with_msg_includes_each_attempts_message() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (ep_id, msg_id, _) = one_attempt(&app, &receiver).await;
    // What `svix.message_attempt.list_by_endpoint(..., with_msg=True)` sends.
    let path = format!("/api/v1/app/acme/attempt/endpoint/{ep_id}?with_content=true&with_msg=true");
    let listed = app.get(&path).await;
    assert_eq!(listed["data"][0]["msg"]["id"], msg_id.as_str());
    assert_eq!(listed["data"][0]["msg"]["payload"], json!({"secret": 1}));
    let by_msg = app
        .get(&format!(
            "/api/v1/app/acme/attempt/msg/{msg_id}?with_msg=true"
        ))
        .await;
    assert_eq!(by_msg["data"][0]["msg"]["eventType"], "a.b");
    let plain = app
        .get(&format!(
            "/api/v1/app/acme/attempt/endpoint/{ep_id}?with_msg=false"
        ))
        .await;
    assert!(plain["data"][0].get("msg").is_none(), "{plain}");
}

#[tokio::test]
async fn exclude_apps_with_no_endpoints_lists_only_apps_that_have_one() {
    let app = TestApp::spawn().await;
    app.create_app("empty").await;
    app.create_app("busy").await;
    app.create_endpoint("busy", json!({"url": "https://example.com/"}))
        .await;
    let uids = |v: Value| field_of_each(&v, "uid");
    let only = app
        .get("/api/v1/app?exclude_apps_with_no_endpoints=true")
        .await;
    assert_eq!(uids(only), ["busy"]);
    let all = app
        .get("/api/v1/app?exclude_apps_with_no_endpoints=false")
        .await;
    assert_eq!(uids(all), ["empty", "busy"]);
}

#[tokio::test]
async fn message_tags_are_stored_returned_and_filter_the_message_list() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let mut ids = Vec::new();
    for tags in [json!(["vip", "eu"]), json!(["eu", "eu"]), json!(null)] {
        // What `svix.message.create(app, MessageIn(..., tags=[...]))` sends.
        let msg = app
            .post(
                "/api/v1/app/acme/msg",
                json!({"eventType": "a.b", "payload": {}, "tags": tags}),
            )
            .await;
        ids.push(msg["id"].as_str().expect("id").to_owned());
    }
    let first = app.get(&format!("/api/v1/app/acme/msg/{}", ids[0])).await;
    assert_eq!(first["tags"], json!(["vip", "eu"]));
    let second = app.get(&format!("/api/v1/app/acme/msg/{}", ids[1])).await;
    assert_eq!(second["tags"], json!(["eu"]), "each tag once");
    let listed_ids = |v: Value| field_of_each(&v, "id");
    let vip = app.get("/api/v1/app/acme/msg?tag=vip").await;
    assert_eq!(listed_ids(vip), [ids[0].clone()]);
    let eu = app.get("/api/v1/app/acme/msg?tag=eu").await;
    assert_eq!(listed_ids(eu), [ids[1].clone(), ids[0].clone()]);
    let any = app.get("/api/v1/app/acme/msg?tag=vip&tag=none").await;
    assert_eq!(listed_ids(any), [ids[0].clone()]);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/app/acme/msg",
            Some(json!({"eventType": "a.b", "payload": {}, "tags": ["a,b"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem(&body).1, json!(["body", "tags"]));
}
