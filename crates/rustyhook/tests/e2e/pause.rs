//! Pause and resume: while the server, an app, an endpoint, a handler or a source is paused,
//! messages and runs are accepted and wait — through a restart — and on resume every one goes
//! out once, oldest first, at the endpoint's rate limit. The API refuses what it cannot pause
//! and lets read-only tokens only look; the CLI does the same through the API.

use std::process::Output;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::handlers::{spawn, wait_file};
use crate::harness::{TOKEN, TestApp, settings};
use crate::receiver::Receiver;
use crate::wait::{eventually, throughout};

/// How long a test watches for a delivery a pause must hold back: several polls and several
/// of the node's re-reads of the pauses.
const HELD: Duration = Duration::from_millis(1_500);
/// How long deliveries may take to arrive once resumed.
const ARRIVE: Duration = Duration::from_secs(15);

/// Posts `n` numbered messages to `app`, each accepted with a 202.
async fn send_numbered(app: &TestApp, app_id: &str, n: usize) {
    for i in 0..n {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/app/{app_id}/msg"),
                Some(json!({"eventType": "order.paid", "payload": {"i": i}})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "message {i}: {body}");
    }
}

/// Calls a pause route and expects a 200 with the state.
async fn pause_call(app: &TestApp, method: Method, path: &str) -> Value {
    let body = (method == Method::POST).then(|| json!({"reason": "maintenance"}));
    let (status, out) = app.call(method.clone(), path, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {path}: {out}");
    out
}

#[tokio::test]
async fn a_paused_endpoint_keeps_its_messages_through_a_restart_and_gets_each_once_in_order_at_its_rate()
 {
    const N: usize = 12;
    let receiver = Receiver::start().await;
    let first = TestApp::spawn().await;
    first.create_app("shop").await;
    // One at a time, four a second: the order they are sent in is the order they arrive in.
    let endpoint = first
        .create_endpoint(
            "shop",
            json!({"url": receiver.url("/hook"), "rateLimit": 4, "maxInFlight": 1}),
        )
        .await;
    let id = endpoint["id"].as_str().expect("endpoint id").to_owned();
    let path = format!("/api/v1/pause/endpoint/{id}");
    let paused = pause_call(&first, Method::POST, &path).await;
    assert_eq!(
        (paused["paused"].clone(), paused["reason"].clone()),
        (json!(true), json!("maintenance"))
    );
    send_numbered(&first, "shop", N).await;
    throughout("nothing reaches a paused endpoint", HELD, async || {
        receiver.received().is_empty()
    })
    .await;
    let state = first.get(&path).await;
    assert_eq!(state["waiting"]["count"], N, "{state}");

    let (dir, db) = first.shut_down().await;
    let second = TestApp::spawn_on(settings(), dir, db).await;
    throughout(
        "nothing reaches the endpoint after a restart either",
        HELD,
        async || receiver.received().is_empty(),
    )
    .await;
    let listed = second.get("/api/v1/pause").await;
    assert_eq!(listed["data"][0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed["data"][0]["waiting"]["count"], N, "{listed}");

    let resumed = pause_call(&second, Method::DELETE, &path).await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    let got = receiver.wait_for(N, ARRIVE).await;
    second.settled("shop", &id).await;
    let got_all = receiver.received();
    let order: Vec<i64> = got_all
        .iter()
        .map(|r| r.json()["i"].as_i64().expect("numbered"))
        .collect();
    assert_eq!(
        order,
        (0..N as i64).collect::<Vec<_>>(),
        "each once, in order"
    );
    // Four at once (the burst), then one every 250 ms: at least two seconds for twelve.
    let span = got[N - 1].at.duration_since(got[0].at);
    assert!(
        span >= Duration::from_millis(1_700),
        "{N} messages at four a second all arrived within {span:?}"
    );
    let state = second.get(&path).await;
    assert_eq!(
        (state["paused"].clone(), state["waiting"]["count"].clone()),
        (json!(false), json!(0))
    );
}

/// A server with a webhook handler `note` that appends what it is sent to `{dir}/notes`, and
/// an app `shop` whose one endpoint is the returned receiver.
async fn spawn_with_note() -> (TestApp, tempfile::TempDir, Receiver) {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Note
    options: {type: http, path: /note}
    shell: 'cat >> {dir}/notes; echo >> {dir}/notes'
"#,
    )
    .await;
    let receiver = Receiver::start().await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;
    (app, dir, receiver)
}

/// Sends `text` to the `note` handler's webhook, which accepts it (a run is queued).
async fn note(app: &TestApp, text: &str) {
    let hooked = app
        .client
        .post(format!("{}/hooks/note", app.base))
        .body(text.to_owned())
        .send()
        .await
        .expect("hook request");
    assert!(hooked.status().is_success(), "{}", hooked.status());
}

#[tokio::test]
async fn a_paused_server_holds_every_delivery_and_handler_run_until_resumed() {
    let (app, dir, receiver) = spawn_with_note().await;
    pause_call(&app, Method::POST, "/api/v1/pause/server").await;
    send_numbered(&app, "shop", 2).await;
    note(&app, "hello").await;
    let notes = dir.path().join("notes");
    throughout("nothing runs or is sent while paused", HELD, async || {
        receiver.received().is_empty() && !notes.exists()
    })
    .await;
    let state = app.get("/api/v1/pause/server").await;
    assert_eq!(
        state["waiting"]["count"], 3,
        "two deliveries and a run: {state}"
    );

    pause_call(&app, Method::DELETE, "/api/v1/pause/server").await;
    receiver.wait_for_numbered(2, ARRIVE).await;
    wait_file(&notes, |t| t.contains("hello")).await;
    app.settled_app("shop").await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(app.settled_runs("note").await.len(), 1);
}

#[tokio::test]
async fn a_paused_handler_queues_its_triggered_runs_and_runs_each_once_resumed() {
    let (app, dir, receiver) = spawn_with_note().await;
    pause_call(&app, Method::POST, "/api/v1/pause/handler/note").await;
    assert_eq!(app.get("/api/v1/handler/note").await["paused"], true);
    for word in ["one", "two", "three"] {
        note(&app, word).await;
    }
    // Only the handler is paused: an app's messages still go out.
    send_numbered(&app, "shop", 1).await;
    receiver.wait_for_numbered(1, ARRIVE).await;
    let notes = dir.path().join("notes");
    throughout("a paused handler runs nothing", HELD, async || {
        !notes.exists()
    })
    .await;
    let runs = app.get("/api/v1/handler/note/run").await;
    let runs = runs["data"].as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["status"] == "pending"), "{runs:?}");
    assert_eq!(
        app.get("/api/v1/pause/handler/note").await["waiting"]["count"],
        3
    );

    pause_call(&app, Method::DELETE, "/api/v1/pause/handler/note").await;
    assert_eq!(app.get("/api/v1/handler").await["data"][0]["paused"], false);
    let text = wait_file(&notes, |t| t.lines().count() == 3).await;
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["one", "three", "two"]);
    assert_eq!(app.settled_runs("note").await.len(), 3);
}

#[tokio::test]
async fn pausing_an_app_holds_its_endpoints_only_and_pausing_twice_keeps_the_first_pause() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    for uid in ["shop", "blog"] {
        app.create_app(uid).await;
        app.create_endpoint(uid, json!({"url": receiver.url(&format!("/{uid}"))}))
            .await;
    }
    let first = pause_call(&app, Method::POST, "/api/v1/pause/app/shop").await;
    let again = pause_call(&app, Method::POST, "/api/v1/pause/app/shop").await;
    assert_eq!(first["pausedAt"], again["pausedAt"], "{first} {again}");
    assert_eq!(
        app.get("/api/v1/pause").await["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    send_numbered(&app, "shop", 2).await;
    send_numbered(&app, "blog", 2).await;
    app.settled_app("blog").await;
    throughout("the paused app gets nothing", HELD, async || {
        receiver.received().len() == 2
    })
    .await;
    pause_call(&app, Method::DELETE, "/api/v1/pause/app/shop").await;
    // Resuming twice changes nothing.
    let again = pause_call(&app, Method::DELETE, "/api/v1/pause/app/shop").await;
    assert_eq!(again["paused"], false);
    app.settled_app("shop").await;
    assert_eq!(receiver.received().len(), 4);
}

#[tokio::test]
async fn pause_requests_are_validated_and_read_only_tokens_may_only_look() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let cases = [
        (
            "/api/v1/pause/galaxy",
            StatusCode::UNPROCESSABLE_ENTITY,
            "scope",
        ),
        (
            "/api/v1/pause/server/x",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "/api/v1/pause/endpoint",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "/api/v1/pause/endpoint/ep_nope",
            StatusCode::NOT_FOUND,
            "endpoint",
        ),
        (
            "/api/v1/pause/app/nope",
            StatusCode::NOT_FOUND,
            "application",
        ),
        (
            "/api/v1/pause/handler/nope",
            StatusCode::NOT_FOUND,
            "handler",
        ),
        ("/api/v1/pause/source/nope", StatusCode::NOT_FOUND, "source"),
    ];
    for (path, status, names) in cases {
        let (got, body) = app.call(Method::POST, path, None).await;
        assert_eq!(got, status, "POST {path}: {body}");
        assert!(body.to_string().contains(names), "POST {path}: {body}");
    }
    let long = json!({"reason": "x".repeat(1001)});
    let (got, body) = app
        .call(Method::POST, "/api/v1/pause/app/shop", Some(long))
        .await;
    assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("reason"), "{body}");
    assert!(
        app.get("/api/v1/pause").await["data"]
            .as_array()
            .expect("list")
            .is_empty()
    );

    let made = app
        .post(
            "/api/v1/token",
            json!({"name": "viewer", "role": "read-only"}),
        )
        .await;
    let viewer = made["token"].as_str().expect("a token");
    let (got, _) = app
        .call_as(viewer, Method::POST, "/api/v1/pause/server", None)
        .await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    let (got, state) = app
        .call_as(viewer, Method::GET, "/api/v1/pause/server", None)
        .await;
    assert_eq!(
        (got, state["paused"].clone()),
        (StatusCode::OK, json!(false))
    );
}

/// Runs the `rustyhook` binary with `args`, as an operator would.
async fn cli(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rustyhook"))
            .args(args)
            .env_remove("RUSTYHOOK_TOKEN")
            .env_remove("RUSTYHOOK_URL")
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("the binary finishes")
}

/// A port nothing listens on (taken from the system, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test]
async fn the_cli_pauses_shows_and_resumes_through_the_api_and_says_why_it_cannot() {
    let app = TestApp::spawn().await;
    let remote = ["--url", &app.base, "--token", TOKEN];
    let run = |args: &[&str]| {
        let mut all = words(args);
        all.extend(words(&remote));
        cli(all)
    };
    let out = run(&["pause", "server", "--reason", "deploy"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("server is paused"),
        "{out:?}"
    );
    let out = run(&["status"]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && shown.contains("(deploy); 0 waiting"),
        "{out:?}"
    );
    assert_eq!(app.get("/api/v1/pause/server").await["paused"], true);
    let out = run(&["resume", "server"]).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(app.get("/api/v1/pause/server").await["paused"], false);

    let out = run(&["pause", "handler", "nope"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{out:?}"
    );
    let out = cli(words(&["status", "--url", &app.base, "--token", "wrong"])).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the token"),
        "{out:?}"
    );
    let down = format!("http://127.0.0.1:{}", free_port());
    let out = cli(words(&["status", "--url", &down, "--token", TOKEN])).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not reach"),
        "{out:?}"
    );
    eventually(
        "nothing was left paused",
        Duration::from_secs(1),
        async || app.get("/api/v1/pause").await["data"] == json!([]),
    )
    .await;
}
