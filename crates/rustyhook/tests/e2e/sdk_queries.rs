//! The exact query strings and paths Svix's current SDKs send (Python 2.9, JavaScript 2.5):
//! booleans as text, lists joined with commas, and errors in JSON on every path.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(10);

/// An app with one endpoint, and three messages of three types, each attempted once.
async fn delivered(app: &TestApp, receiver: &Receiver) -> (String, Vec<String>) {
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let mut ids = Vec::new();
    for t in ["a.b", "c.d", "e.f"] {
        let msg = app.send("acme", t, json!({"t": t})).await;
        let id = msg["id"].as_str().expect("id").to_owned();
        app.wait_attempts("acme", &id, WAIT, |a| !a.is_empty())
            .await;
        ids.push(id);
    }
    (ep["id"].as_str().expect("id").to_owned(), ids)
}

fn types(list: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m[field].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn list_attempted_messages_takes_with_content_as_text_and_an_event_type_filter() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (ep, _) = delivered(&app, &receiver).await;
    let base = format!("/api/v1/app/acme/endpoint/{ep}/msg");
    let all = app.get(&format!("{base}?with_content=false")).await;
    assert_eq!(all["data"].as_array().expect("data").len(), 3);
    assert!(
        all["data"][0]
            .get("payload")
            .is_none_or(|p| p.is_null() || p == &json!({})),
        "without content: {all}"
    );
    let one = app
        .get(&format!("{base}?with_content=true&event_types=a.b"))
        .await;
    assert_eq!(types(&one, "eventType"), ["a.b"]);
    assert_eq!(one["data"][0]["payload"], json!({"t": "a.b"}));
    let (status, body) = app
        .call(Method::GET, &format!("{base}?with_content=maybe"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"][0], "query");
    assert!(
        body["detail"][0]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("\"maybe\" is not a boolean")),
        "{body}"
    );
}

#[tokio::test]
async fn lists_in_query_strings_are_taken_joined_with_commas_or_repeated() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (ep, ids) = delivered(&app, &receiver).await;
    let msgs = app.get("/api/v1/app/acme/msg?event_types=a.b,c.d").await;
    assert_eq!(types(&msgs, "eventType"), ["a.b", "c.d"]);
    let msgs = app
        .get("/api/v1/app/acme/msg?event_types=a.b&event_types=e.f")
        .await;
    assert_eq!(types(&msgs, "eventType"), ["a.b", "e.f"]);
    let attempts = app
        .get(&format!(
            "/api/v1/app/acme/attempt/endpoint/{ep}?event_types=c.d,e.f&with_content=false"
        ))
        .await;
    assert_eq!(attempts["data"].as_array().expect("data").len(), 2);
    let attempts = app
        .get(&format!(
            "/api/v1/app/acme/attempt/msg/{}?event_types=a.b,c.d",
            ids[0]
        ))
        .await;
    assert_eq!(attempts["data"].as_array().expect("data").len(), 1);
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/app/acme/msg?event_types=a.b,not%20a%20name",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let types = app
        .get("/api/v1/event-type?include_archived=false&with_content=true")
        .await;
    assert!(types["data"].is_array());
}

#[tokio::test]
async fn unserved_paths_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    let (status, body) = app.call(Method::GET, "/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/api/v1/no-such-thing"))
    );
    let (status, body) = app.call(Method::PATCH, "/api/v1/health", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed", "{body}");
    let (status, body) = app
        .call(Method::PUT, "/api/v1/app/acme/msg", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["code"], "method_not_allowed", "{body}");
}

#[tokio::test]
async fn the_api_reference_page_is_served_without_a_token_and_reads_the_document_with_one() {
    let app = TestApp::spawn().await;
    let page = reqwest::get(format!("{}/api/docs?app=app_x", app.base))
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    let html = page.text().await.expect("text");
    assert!(html.contains("rustyhook API reference"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing is loaded from elsewhere"
    );
    let doc = app.get("/api/v1/openapi.json").await;
    assert!(doc["paths"].as_object().is_some_and(|p| p.len() > 20));
}
