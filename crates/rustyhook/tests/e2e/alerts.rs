//! Alert rules and alerts: rules made through the API or the config (read-only through the
//! API), checked field by field; each rule kind fires once and resolves once, arriving as a
//! signed operational webhook and listed with its history.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustyhook_core::alert::RuleSpec;
use serde_json::{Value, json};

use crate::harness::{TestApp, settings};
use crate::wait::until;

/// How long a test waits for an alert to fire or resolve: a few evaluations, and the minute
/// buckets a window counts rolling over.
const WAIT: Duration = Duration::from_secs(20);

const RULES: &str = "/api/v1/alert/rule";

fn config_rule(yaml: &str) -> RuleSpec {
    serde_norway::from_str(yaml).expect("a valid rule")
}

/// The field names of a 422's problems.
fn fields(body: &Value) -> Vec<String> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a 422 body: {body}"))
        .iter()
        .map(|d| d["loc"][1].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn token(app: &TestApp, body: Value) -> String {
    let (status, out) = app
        .call(Method::POST, "/api/v1/token", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body} -> {out}");
    out["token"].as_str().expect("the secret").to_owned()
}

#[tokio::test]
async fn rules_are_checked_by_field_and_config_rules_are_read_only() {
    let mut s = settings();
    s.alerts = vec![config_rule("name: nodes\nkind: node_gone\nthreshold: 60\n")];
    let app = TestApp::spawn_with(s).await;
    app.create_app("shop").await;
    let ep = app
        .create_endpoint(
            "shop",
            json!({"url": "http://127.0.0.1:9/hook", "uid": "main"}),
        )
        .await;
    let (status, rule) = app
        .call(
            Method::POST,
            RULES,
            Some(
                json!({"name": "shop failing", "kind": "failure_rate", "threshold": 50,
                "app": "shop", "endpoint": "main"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert!(
        rule["id"].as_str().expect("id").starts_with("alr_"),
        "{rule}"
    );
    assert_eq!(rule["window"], "5m");
    assert_eq!(rule["minAttempts"], 10);
    assert_eq!(rule["origin"], "api");
    assert_eq!(rule["firing"], 0);
    assert_eq!(rule["disabled"], false);
    assert_eq!(
        rule["endpoint"], ep["id"],
        "the uid is kept as the endpoint's id"
    );
    let bad = [
        (json!({"name": "x", "kind": "lag", "threshold": 1}), "kind"),
        (
            json!({"name": "x", "kind": "failure_rate", "threshold": 150}),
            "threshold",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "window": "90s"}),
            "window",
        ),
        (
            json!({"name": "", "kind": "dead_letters", "threshold": 1}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "node_gone", "threshold": 1, "source": "s"}),
            "source",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "endpoint": "nope"}),
            "endpoint",
        ),
        (
            json!({"name": "x", "kind": "failure_rate", "threshold": 1, "minAttempts": 0}),
            "minAttempts",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "handler": "none"}),
            "handler",
        ),
    ];
    for (body, field) in bad {
        let (status, out) = app.call(Method::POST, RULES, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {out}");
        assert!(fields(&out).iter().any(|f| f == field), "{body} -> {out}");
    }
    let (status, _) = app
        .call(
            Method::POST,
            RULES,
            Some(json!({"name": "shop failing", "kind": "dead_letters", "threshold": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the name is taken");
    let listed = app.get(RULES).await;
    let rules = listed["data"].as_array().expect("data");
    assert_eq!(rules.len(), 2, "nothing bad was stored: {listed}");
    let from_config = rules
        .iter()
        .find(|r| r["origin"] == "config")
        .expect("the config's rule");
    assert_eq!(from_config["name"], "nodes");
    let path = format!("{RULES}/{}", from_config["id"].as_str().expect("id"));
    let body = json!({"name": "nodes", "kind": "node_gone", "threshold": 5});
    for (method, body) in [(Method::PUT, Some(body)), (Method::DELETE, None)] {
        let (status, out) = app.call(method, &path, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{out}");
        assert_eq!(out["code"], "config_rule", "{out}");
    }
    assert_eq!(app.get(&path).await["threshold"], 60.0);
    let path = format!("{RULES}/{}", rule["id"].as_str().expect("id"));
    let (status, updated) = app
        .call(
            Method::PUT,
            &path,
            Some(
                json!({"name": "shop dead", "kind": "dead_letters", "threshold": 3,
                "window": "1h", "disabled": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["window"], "1h");
    assert_eq!(updated["endpoint"], Value::Null);
    assert_eq!(updated["createdAt"], rule["createdAt"]);
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn read_only_tokens_read_alerts_and_app_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let reader = token(&app, json!({"name": "dash", "role": "read-only"})).await;
    let tenant = token(&app, json!({"name": "t", "role": "app", "appId": "shop"})).await;
    let rule = json!({"name": "dead", "kind": "dead_letters", "threshold": 1});
    for path in [RULES, "/api/v1/alert", "/api/v1/node"] {
        let (status, out) = app.call_as(&reader, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {out}");
        let (status, _) = app.call_as(&tenant, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = app
        .call_as(&reader, Method::POST, RULES, Some(rule.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call_as(&tenant, Method::POST, RULES, Some(rule)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(RULES).await["data"], json!([]));
    let (status, out) = app
        .call(Method::GET, "/api/v1/alert?status=burning", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    let nodes = until("this node in the node list", WAIT, async || {
        let nodes = app.get("/api/v1/node").await;
        if nodes["data"].as_array().is_some_and(|d| !d.is_empty()) {
            Ok(nodes)
        } else {
            Err(nodes.to_string())
        }
    })
    .await;
    let node = &nodes["data"][0];
    assert_eq!(nodes["data"].as_array().map(Vec::len), Some(1), "{nodes}");
    assert_eq!(node["alive"], true, "{nodes}");
    assert_eq!(node["leader"], true, "{nodes}");
    assert_eq!(node["role"], "all", "{nodes}");
}
