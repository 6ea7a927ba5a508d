//! Svix's background tasks and replay-missing (issue 15): the exact requests Svix's SDKs send.
//! A recover and a replay each answer `202` with a task that `GET /api/v1/background-task/{id}`
//! then serves with what it did; a replay sends an endpoint what it never got, once; a token
//! limited to one app sees only that app's tasks.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::receiver::Receiver;

const SINCE_EVER: &str = "2000-01-01T00:00:00Z";

/// POSTs a recover or replay-missing to `path` and checks the `RecoverOut`/`ReplayOut` it answers.
async fn bulk(app: &TestApp, path: &str, body: Value, task: &str) -> Value {
    let (status, out) = app.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{out}");
    assert_eq!(out["task"], task, "{out}");
    assert_eq!(
        out["status"], "finished",
        "it ran within the request: {out}"
    );
    assert!(
        out["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("qtask_")),
        "{out}"
    );
    assert!(out["updatedAt"].is_string(), "{out}");
    assert!(
        out.get("data").is_none(),
        "RecoverOut and ReplayOut carry no data: {out}"
    );
    out
}

async fn task(app: &TestApp, id: &Value) -> Value {
    app.get(&format!(
        "/api/v1/background-task/{}",
        id.as_str().expect("id")
    ))
    .await
}

fn ids(list: &Value) -> Vec<Value> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_recover_s_task_is_fetched_by_id_and_listed_by_status_and_type() {
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": "https://example.com/hook"}))
        .await;
    let path = format!(
        "/api/v1/app/acme/endpoint/{}/recover",
        ep["id"].as_str().expect("id")
    );
    let out = bulk(
        &app,
        &path,
        json!({"since": SINCE_EVER}),
        "endpoint.recover",
    )
    .await;

    let fetched = task(&app, &out["id"]).await;
    assert_eq!(fetched["id"], out["id"]);
    assert_eq!(fetched["status"], "finished");
    assert_eq!(fetched["task"], "endpoint.recover");
    assert_eq!(fetched["updatedAt"], out["updatedAt"]);
    assert_eq!(fetched["data"], json!({"recovered": 0, "messagesSent": 0}));

    let listed = app.get("/api/v1/background-task").await;
    assert_eq!(ids(&listed), [out["id"].clone()], "{listed}");
    assert_eq!(listed["done"], true);
    for query in [
        "status=finished",
        "task=endpoint.recover",
        "limit=1&order=ascending",
    ] {
        let l = app.get(&format!("/api/v1/background-task?{query}")).await;
        assert_eq!(ids(&l), [out["id"].clone()], "{query}: {l}");
    }
    for query in [
        "status=running",
        "task=endpoint.replay",
        "task=message.broadcast",
    ] {
        let l = app.get(&format!("/api/v1/background-task?{query}")).await;
        assert_eq!(ids(&l), Vec::<Value>::new(), "{query}: {l}");
    }
    for query in ["status=done", "task=endpoint.nothing", "iterator=msg_x"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/background-task?{query}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
    }
    let (status, body) = app
        .call(Method::GET, "/api/v1/background-task/qtask_missing", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn replay_missing_sends_an_endpoint_what_it_never_got_once() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    let paid = app.send("acme", "invoice.paid", json!({"n": 1})).await;
    app.send("acme", "user.signup", json!({"n": 2})).await;
    let ep = app
        .create_endpoint(
            "acme",
            json!({"url": receiver.url("/late"), "filterTypes": ["invoice.paid"]}),
        )
        .await;
    let path = format!(
        "/api/v1/app/acme/endpoint/{}/replay-missing",
        ep["id"].as_str().expect("id")
    );

    let before = bulk(
        &app,
        &path,
        json!({"since": SINCE_EVER, "until": "2001-01-01T00:00:00Z"}),
        "endpoint.replay",
    )
    .await;
    assert_eq!(
        task(&app, &before["id"]).await["data"]["replayed"],
        0,
        "outside the window"
    );

    let out = bulk(&app, &path, json!({"since": SINCE_EVER}), "endpoint.replay").await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        got[0].header("webhook-id").as_deref(),
        paid["id"].as_str(),
        "only the message of the type it takes"
    );
    let fetched = task(&app, &out["id"]).await;
    assert_eq!(fetched["data"], json!({"replayed": 1, "messagesSent": 1}));
    let msg_id = paid["id"].as_str().expect("id");
    let attempts = app
        .wait_attempts("acme", msg_id, Duration::from_secs(10), |a| !a.is_empty())
        .await;
    assert_eq!(
        attempts[0]["triggerType"], 1,
        "a replayed attempt is manual"
    );

    let again = bulk(&app, &path, json!({"since": SINCE_EVER}), "endpoint.replay").await;
    assert_eq!(task(&app, &again["id"]).await["data"]["replayed"], 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "nothing was sent twice");

    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/app/acme/endpoint/ep_missing/replay-missing",
            Some(json!({"since": SINCE_EVER})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .call(Method::POST, &path, Some(json!({"since": "yesterday"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_token_limited_to_one_app_reads_only_that_app_s_tasks() {
    let app = TestApp::spawn().await;
    let mut recovered = Vec::new();
    for uid in ["acme", "other"] {
        app.create_app(uid).await;
        let ep = app
            .create_endpoint(uid, json!({"url": "https://example.com/hook"}))
            .await;
        let path = format!(
            "/api/v1/app/{uid}/endpoint/{}/recover",
            ep["id"].as_str().expect("id")
        );
        recovered.push(
            bulk(
                &app,
                &path,
                json!({"since": SINCE_EVER}),
                "endpoint.recover",
            )
            .await,
        );
    }
    let (own, others) = (&recovered[0]["id"], &recovered[1]["id"]);
    let portal = app
        .post("/api/v1/auth/app-portal-access/acme", json!({}))
        .await;
    let token = portal["token"].as_str().expect("token");

    let (status, listed) = app
        .call_as(token, Method::GET, "/api/v1/background-task", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        ids(&listed),
        std::slice::from_ref(own),
        "only its app's task"
    );
    for (id, expected) in [(own, StatusCode::OK), (others, StatusCode::NOT_FOUND)] {
        let path = format!("/api/v1/background-task/{}", id.as_str().expect("id"));
        let (status, body) = app.call_as(token, Method::GET, &path, None).await;
        assert_eq!(status, expected, "{path}: {body}");
    }

    let all = app.get("/api/v1/background-task").await;
    assert_eq!(
        ids(&all),
        [others.clone(), own.clone()],
        "admin sees all, newest first"
    );
}
