//! API tokens with roles, and the audit log of writes (issue 13, "Beyond the findings"):
//! against the real server, on SQLite and again on PostgreSQL.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{self, TestApp};
use crate::wait::until;

/// How long a test waits for the server to record something.
const WAIT: Duration = Duration::from_secs(10);

/// Makes a token with the admin token; returns its id and secret.
async fn make_token(app: &TestApp, body: Value) -> (String, String) {
    let (status, out) = app
        .call(Method::POST, "/api/v1/token", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body} -> {out}");
    let secret = out["token"].as_str().expect("the secret, once").to_owned();
    (out["id"].as_str().expect("id").to_owned(), secret)
}

/// Polls the audit log (as admin) until an entry matches, or panics.
async fn wait_audit(app: &TestApp, query: &str, found: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/v1/audit?{query}");
    until("a matching audit entry", WAIT, async || {
        let page = app.get(&path).await;
        match page["data"]
            .as_array()
            .and_then(|d| d.iter().find(|e| found(e)))
        {
            Some(e) => Ok(e.clone()),
            None => Err(page),
        }
    })
    .await
}

#[tokio::test]
async fn a_read_only_token_reads_everything_and_every_write_gets_403_changing_nothing() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let (_, token) = make_token(&app, json!({"name": "dash", "role": "read-only"})).await;
    for path in [
        "/api/v1/app",
        "/api/v1/app/acme",
        "/api/v1/app/acme/endpoint",
    ] {
        let (status, body) = app.call_as(&token, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    }
    let writes = [
        (
            Method::POST,
            "/api/v1/app",
            json!({"name": "x", "uid": "x"}),
        ),
        (Method::PUT, "/api/v1/app/acme", json!({"name": "renamed"})),
        (Method::DELETE, "/api/v1/app/acme", Value::Null),
        (
            Method::POST,
            "/api/v1/app/acme/msg",
            json!({"eventType": "a.b", "payload": {}}),
        ),
    ];
    for (method, path, body) in writes {
        let (status, out) = app.call_as(&token, method.clone(), path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {out}");
        assert_eq!(out["code"], "forbidden", "{out}");
        assert!(
            out["detail"]
                .as_str()
                .is_some_and(|d| d.contains("read-only"))
        );
    }
    let apps = app.get("/api/v1/app").await;
    assert_eq!(apps["data"].as_array().map(Vec::len), Some(1), "{apps}");
    assert_eq!(apps["data"][0]["name"], "acme");
    let msgs = app.get("/api/v1/app/acme/msg").await;
    assert_eq!(msgs["data"], json!([]));
}

#[tokio::test]
async fn an_app_token_reaches_every_route_of_its_app_and_nothing_else() {
    let app = TestApp::spawn().await;
    let acme = app.create_app("acme").await;
    app.create_app("other").await;
    let (_, token) = make_token(
        &app,
        json!({"name": "acme portal", "role": "app", "appId": "acme"}),
    )
    .await;
    let (status, listed) = app.call_as(&token, Method::GET, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["data"][0]["id"], acme["id"]);
    // Its own app, by uid and by id: reads and writes work.
    let (status, ep) = app
        .call_as(
            &token,
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let by_id = format!("/api/v1/app/{}/endpoint", acme["id"].as_str().expect("id"));
    let (status, eps) = app.call_as(&token, Method::GET, &by_id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(eps["data"].as_array().map(Vec::len), Some(1));
    let (status, msg) = app
        .call_as(
            &token,
            Method::POST,
            "/api/v1/app/acme/msg",
            Some(json!({"eventType": "a.b", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
    // Another app's routes, existing or not, are not found; global routes are forbidden (but
    // the event-type catalog may be read: see dashboard.rs).
    for path in [
        "/api/v1/app/other",
        "/api/v1/app/other/endpoint",
        "/api/v1/app/nowhere/msg",
    ] {
        let (status, out) = app.call_as(&token, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {out}");
    }
    for (method, path) in [
        (Method::POST, "/api/v1/event-type"),
        (Method::GET, "/api/v1/handler"),
        (Method::POST, "/api/v1/app"),
        (Method::DELETE, "/api/v1/app/acme"),
        (Method::GET, "/api/v1/token"),
    ] {
        let (status, out) = app.call_as(&token, method.clone(), path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {out}");
        assert_eq!(out["code"], "forbidden");
    }
    let (status, _) = app
        .call_as(
            &token,
            Method::POST,
            "/api/v1/app/other/endpoint",
            Some(json!({"url": "https://example.com/x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let others = app.get("/api/v1/app/other/endpoint").await;
    assert_eq!(
        others["data"],
        json!([]),
        "nothing was made in the other app"
    );
}

#[tokio::test]
async fn a_revoked_token_gets_401_at_once() {
    let app = TestApp::spawn().await;
    let (id, token) = make_token(&app, json!({"name": "ci", "role": "admin"})).await;
    let (status, _) = app.call_as(&token, Method::GET, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/token/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, out) = app.call_as(&token, Method::GET, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{out}");
    assert_eq!(out["code"], "authentication_failed");
    let listed = app.get(&format!("/api/v1/token/{id}")).await;
    assert!(listed["revokedAt"].is_string(), "{listed}");
    assert!(
        listed.get("token").is_none(),
        "the secret is never shown again"
    );
    let (status, _) = app
        .call(Method::DELETE, "/api/v1/token/tok_missing", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let app = TestApp::spawn().await;
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let (_, token) = make_token(
        &app,
        json!({"name": "brief", "role": "read-only", "expiresAt": soon.to_rfc3339()}),
    )
    .await;
    let (status, _) = app.call_as(&token, Method::GET, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::OK);
    until("the expired token to get 401", WAIT, async || {
        let (status, out) = app.call_as(&token, Method::GET, "/api/v1/app", None).await;
        if status == StatusCode::UNAUTHORIZED {
            Ok(())
        } else {
            Err((status, out))
        }
    })
    .await;
}

#[tokio::test]
async fn only_admins_manage_tokens_and_a_token_s_last_use_is_recorded() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let (_, read) = make_token(&app, json!({"name": "r", "role": "read-only"})).await;
    let (admin_id, admin) = make_token(&app, json!({"name": "a", "role": "admin"})).await;
    let body = json!({"name": "x", "role": "admin"});
    let (status, out) = app
        .call_as(&read, Method::POST, "/api/v1/token", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{out}");
    let (status, out) = app.call_as(&read, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{out}");
    let (status, out) = app
        .call_as(&admin, Method::POST, "/api/v1/token", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let path = format!("/api/v1/token/{admin_id}");
    until("the token's last use to be recorded", WAIT, async || {
        let t = app.get(&path).await;
        if t["lastUsedAt"].is_string() {
            Ok(())
        } else {
            Err(t)
        }
    })
    .await;
    let listed = app.get("/api/v1/token").await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(3), "{listed}");
    assert!(
        listed["data"]
            .as_array()
            .is_some_and(|d| d.iter().all(|t| t.get("token").is_none()))
    );
}

#[tokio::test]
async fn bad_input_to_the_token_routes_gets_a_clear_422() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let cases = [
        (json!({"name": "t", "role": "root"}), "role"),
        (json!({"name": "t", "role": "app"}), "appId"),
        (
            json!({"name": "t", "role": "admin", "appId": "acme"}),
            "appId",
        ),
        (
            json!({"name": "t", "role": "app", "appId": "nowhere"}),
            "appId",
        ),
        (
            json!({"name": "t", "role": "read-only", "readOnly": true}),
            "readOnly",
        ),
        (json!({"name": "", "role": "admin"}), "name"),
        (
            json!({"name": "t", "role": "admin", "expiresAt": "2001-01-01T00:00:00Z"}),
            "expiresAt",
        ),
        (
            json!({"name": "t", "role": "admin", "expiresAt": "tomorrow"}),
            "expiresAt",
        ),
        (
            json!({"name": "t", "role": "admin", "scope": "all"}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let (status, out) = app
            .call(Method::POST, "/api/v1/token", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {out}");
        let text = out["detail"].to_string();
        assert!(
            text.contains(field),
            "{body}: the error names {field}: {out}"
        );
    }
    let listed = app.get("/api/v1/token").await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn the_audit_log_lists_a_write_with_its_token_route_and_address() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let (id, token) = make_token(
        &app,
        json!({"name": "portal", "role": "app", "appId": "acme"}),
    )
    .await;
    let (status, ep) = app
        .call_as(
            &token,
            Method::POST,
            "/api/v1/app/acme/endpoint",
            Some(json!({"url": "https://example.com/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let entry = wait_audit(&app, &format!("actor={id}"), |e| e["method"] == "POST").await;
    assert_eq!(entry["route"], "/api/v1/app/{app_id}/endpoint", "{entry}");
    assert_eq!(entry["resource"], json!({"app_id": "acme"}));
    assert_eq!(entry["address"], "127.0.0.1");
    assert_eq!(entry["status"], 201);
    assert!(entry["timestamp"].is_string());
    // The admin's own writes are there too, the token's creation first among them.
    wait_audit(&app, "actor=admin&method=post", |e| {
        e["route"] == "/api/v1/token"
    })
    .await;
    // Message creation (the hot path) and refused writes are not audited.
    app.send("acme", "a.b", json!({})).await;
    let (status, _) = app
        .call(Method::POST, "/api/v1/app", Some(json!({"name": ""})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.post("/api/v1/app", json!({"name": "marker", "uid": "marker"}))
        .await;
    // Wait for marker's entry, the last write: acme's, also on this route, is there already.
    let app_writes = |all: &Value| {
        all["data"].as_array().map_or(0, |d| {
            d.iter().filter(|e| e["route"] == "/api/v1/app").count()
        })
    };
    let all = until("marker's audit entry", WAIT, async || {
        let all = app.get("/api/v1/audit?limit=250").await;
        if app_writes(&all) >= 2 {
            Ok(all)
        } else {
            Err(all)
        }
    })
    .await;
    let routes: Vec<&str> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["route"].as_str())
        .collect();
    assert_eq!(
        routes.iter().filter(|r| **r == "/api/v1/app").count(),
        2,
        "acme and marker, not the refused one: {routes:?}"
    );
    assert!(!routes.contains(&"/api/v1/app/{app_id}/msg"), "{routes:?}");
    assert_eq!(all["done"], true);
}

#[tokio::test]
async fn the_audit_log_takes_the_address_from_a_trusted_proxy_only() {
    let mut s = harness::settings();
    s.auth.trust_forwarded_for = true;
    let app = TestApp::spawn_with(s).await;
    let (status, _) = app
        .call_with(
            Method::POST,
            "/api/v1/app",
            Some(json!({"name": "acme", "uid": "acme"})),
            &[("x-forwarded-for", "198.51.100.1, 203.0.113.5")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let entry = wait_audit(&app, "actor=admin", |e| e["route"] == "/api/v1/app").await;
    assert_eq!(entry["address"], "203.0.113.5", "{entry}");

    let plain = TestApp::spawn().await;
    plain
        .call_with(
            Method::POST,
            "/api/v1/app",
            Some(json!({"name": "acme", "uid": "acme"})),
            &[("x-forwarded-for", "198.51.100.1")],
        )
        .await;
    let entry = wait_audit(&plain, "", |e| e["route"] == "/api/v1/app").await;
    assert_eq!(entry["address"], "127.0.0.1", "{entry}");
}
