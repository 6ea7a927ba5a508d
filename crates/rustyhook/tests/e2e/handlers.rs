//! Handlers driven for real: HTTP requests to the listener, cron ticks at second resolution,
//! files in a temp dir, a plugin process. Each test asserts what the commands wrote.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, settings};
use crate::receiver::Receiver;
use crate::wait::{eventually, until};

/// How long a test waits for a handler's command to get somewhere.
const WAIT: Duration = Duration::from_secs(15);

/// A server running the handlers in `yaml`, with `{dir}` replaced by a fresh temp dir.
pub async fn spawn(yaml: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (
        TestApp::spawn_with(with_handlers(yaml, dir.path())).await,
        dir,
    )
}

/// Test settings running the handlers (and sources) in `yaml`, with `{dir}` replaced by `dir`.
pub fn with_handlers(yaml: &str, dir: &Path) -> rustyhook_core::settings::Settings {
    let yaml = yaml.replace("{dir}", &dir.display().to_string());
    let parsed = rustyhook::config::parse(&yaml, "test.yaml").expect("valid handlers");
    let mut s = settings();
    s.handlers = parsed.handlers;
    s.sources = parsed.sources;
    s
}

/// Waits until `path` exists and `done` holds for its text.
pub async fn wait_file(path: &Path, done: impl Fn(&str) -> bool) -> String {
    until(
        &format!("{} to get there", path.display()),
        WAIT,
        async || match std::fs::read_to_string(path) {
            Ok(text) if done(&text) => Ok(text),
            seen => Err(seen.ok()),
        },
    )
    .await
}

async fn hook(
    app: &TestApp,
    id: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String) {
    let mut req = app
        .client
        .post(format!("{}/hooks/{id}", app.base))
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("hook request");
    (resp.status(), resp.text().await.expect("body"))
}

/// Waits until the run reaches `status`.
async fn wait_run(app: &TestApp, handler: &str, run: &str, status: &str) -> Value {
    let path = format!("/api/v1/handler/{handler}/run/{run}");
    until(&format!("run {run} to be {status}"), WAIT, async || {
        let r = app.get(&path).await;
        if r["status"] == status { Ok(r) } else { Err(r) }
    })
    .await
}

pub fn lines(p: &PathBuf) -> usize {
    std::fs::read_to_string(p).map_or(0, |t| t.lines().count())
}

#[tokio::test]
async fn a_webhook_runs_its_command_with_the_event_once_authorised() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Deploy
    options: {type: http, path: /deploy, auth_token: secret-token}
    shell: 'printf "%s %s %s " "$RUSTYHOOK_HTTP_METHOD" "$RUSTYHOOK_HANDLER" "$RUSTYHOOK_HEADER_X_COLOR" > {dir}/out; cat >> {dir}/out'
"#,
    )
    .await;
    let out = dir.path().join("out");
    let (status, _) = hook(&app, "deploy", &[], "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hook(&app, "deploy", &[("x-auth-token", "wrong")], "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A run is stored before its request is answered: none means the command never runs.
    assert_eq!(app.settled_runs("deploy").await, Vec::<Value>::new());
    assert!(!out.exists(), "a refused request ran the command");
    let (status, body) = hook(
        &app,
        "deploy",
        &[("x-auth-token", "secret-token"), ("x-color", "blue")],
        r#"{"ref":"main"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run_id = serde_json::from_str::<Value>(&body).expect("json")["runId"]
        .as_str()
        .expect("run id")
        .to_owned();
    let text = wait_file(&out, |t| t.ends_with('}')).await;
    assert_eq!(text, r#"POST deploy blue {"ref":"main"}"#);
    let run = wait_run(&app, "deploy", &run_id, "succeeded").await;
    assert_eq!(run["exitCode"], 0);
    assert_eq!(run["triggeredBy"], "webhook");
    let attempts = app
        .get(&format!("/api/v1/handler/deploy/run/{run_id}/attempt"))
        .await;
    assert_eq!(attempts["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(attempts["data"][0]["outcome"], "OK");
}

#[tokio::test]
async fn signed_webhooks_are_verified_and_wait_mode_returns_the_output() {
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: github
    options: {hmac_secret: s3cret}
    shell: "true"
  - type: Webhook
    name: svix
    options: {signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", response: wait}
    shell: 'echo "got $(cat)"; exit 3'
"#,
    )
    .await;
    let body = r#"{"action":"opened"}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(body.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (status, _) = hook(&app, "github", &[("x-hub-signature-256", &sig)], body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = hook(&app, "github", &[("x-hub-signature-256", &sig)], "tampered").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let wh =
        standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let ts = chrono::Utc::now().timestamp();
    let signature = wh.sign("msg_1", ts, b"ping").expect("sign");
    let ts = ts.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let (status, text) = hook(&app, "svix", &headers, "ping").await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "exit 3 maps to 500"
    );
    assert_eq!(text.trim(), "got ping");
    let (status, _) = hook(&app, "svix", &headers, "pong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_failing_run_is_retried_then_on_failure_runs_and_the_api_shows_it() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: flaky
    shell: 'echo try >> {dir}/attempts; exit 1'
    retry: {max_retries: 2, delay_ms: 50, backoff_multiplier: 2.0}
    on_failure:
      shell: 'echo "$RUSTYHOOK_PREVIOUS_EXIT_CODE" > {dir}/rolled-back'
"#,
    )
    .await;
    let run = app
        .post("/api/v1/handler/flaky/run", json!({"payload": "x"}))
        .await;
    let id = run["id"].as_str().expect("id");
    let code = wait_file(&dir.path().join("rolled-back"), |t| !t.is_empty()).await;
    assert_eq!(code.trim(), "1");
    assert_eq!(lines(&dir.path().join("attempts")), 3);
    let run = wait_run(&app, "flaky", id, "dead").await;
    assert_eq!(run["attempts"], 3);
    let runs = app.get("/api/v1/handler/flaky/run").await;
    let steps: Vec<&str> = runs["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert_eq!(steps, ["on_failure", "main"]);
    // A re-run goes through the same command again.
    let again = app
        .post(&format!("/api/v1/handler/flaky/run/{id}/rerun"), json!({}))
        .await;
    assert_eq!(again["parentId"], id);
    wait_file(&dir.path().join("attempts"), |t| t.lines().count() >= 4).await;
}

#[tokio::test]
async fn forward_to_and_on_success_chain_handlers_with_the_output() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Watch Logs
    id: log-watcher
    shell: 'echo parsed-$(cat)'
    forward_to: ["Process Logs", "alert-checker"]
    on_success:
      shell: 'touch {dir}/notified'
  - type: Custom
    name: Process Logs
    id: log-processor
    shell: 'printf "%s|%s" "$RUSTYHOOK_PREVIOUS_OUTPUT" "$(cat)" > {dir}/processed'
"#,
    )
    .await;
    app.post(
        "/api/v1/handler/log-watcher/run",
        json!({"payload": "line"}),
    )
    .await;
    let text = wait_file(&dir.path().join("processed"), |t| t.contains('|')).await;
    assert_eq!(text, "parsed-line\n|line");
    wait_file(&dir.path().join("notified"), |_| true).await;
}

#[tokio::test]
async fn a_run_waits_for_its_dependencies_and_exports_reach_later_runs() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Compile Assets
    id: asset-compiler
    shell: 'sleep 1; touch {dir}/assets-done; echo BUILD_TAG=v42'
    exports: [BUILD_TAG, MESSAGE_ID]
  - type: Custom
    name: Build Application
    depends_on: ["asset-compiler"]
    shell: 'test -e {dir}/assets-done && echo "$BUILD_TAG $MESSAGE_ID" > {dir}/built'
"#,
    )
    .await;
    let first = app
        .post("/api/v1/handler/asset-compiler/run", json!({}))
        .await;
    app.post("/api/v1/handler/build-application/run", json!({}))
        .await;
    let text = wait_file(&dir.path().join("built"), |t| t.ends_with('\n')).await;
    let event_id = first["event"]["id"].as_str().expect("event id");
    assert_eq!(text.trim(), format!("v42 {event_id}"));
}

#[tokio::test]
async fn routes_send_each_changed_file_to_the_first_matching_route() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Filesystem
    name: File Processor
    options: {path: "{dir}/uploads", debounce_ms: 300, exclude: ["*.tmp"]}
    routes:
      - pattern: "*.jpg|*.png"
        shell: 'basename "$FILE" >> {dir}/images'
      - pattern: "*.csv"
        shell: 'basename "$FILE" >> {dir}/csv; exit 1'
        on_error: continue
      - pattern: "temp/*"
        action: ignore
      - pattern: "*"
        shell: 'basename "$FILE" >> {dir}/other'
"#,
    )
    .await;
    let up = dir.path().join("uploads");
    std::fs::create_dir_all(up.join("temp")).expect("dirs");
    // The watcher looks for the folder every 2 s until it exists: write a probe (the last
    // route's) until a run shows that the folder is watched. At most once a second, so that
    // each write gets through the 300 ms debounce.
    let (probe, other) = (up.join("probe.txt"), dir.path().join("other"));
    let mut written: Option<Instant> = None;
    eventually("the watcher to watch the new folder", WAIT, async || {
        if written.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            std::fs::write(&probe, "x").expect("write");
            written = Some(Instant::now());
        }
        std::fs::read_to_string(&other).is_ok_and(|t| t.contains("probe.txt"))
    })
    .await;
    for f in [
        "cat.jpg",
        "dog.png",
        "data.csv",
        "temp/skip.txt",
        "notes.txt",
        "junk.tmp",
    ] {
        std::fs::write(up.join(f), "x").expect("write");
    }
    let images = wait_file(&dir.path().join("images"), |t| t.lines().count() >= 2).await;
    let mut images: Vec<&str> = images.lines().collect();
    images.sort();
    images.dedup();
    assert_eq!(images, ["cat.jpg", "dog.png"]);
    let other = wait_file(&dir.path().join("other"), |t| t.contains("notes.txt")).await;
    assert!(
        !other.contains("skip.txt") && !other.contains("junk.tmp"),
        "{other}"
    );
    wait_file(&dir.path().join("csv"), |t| t.contains("data.csv")).await;
    let _ = app;
}

#[tokio::test]
async fn a_cron_handler_ticks_every_second() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Cron
    name: tick
    options: {cron_expression: "* * * * * *"}
    shell: 'echo "$RUSTYHOOK_CRON_TIME" >> {dir}/ticks'
"#,
    )
    .await;
    let text = wait_file(&dir.path().join("ticks"), |t| t.lines().count() >= 3).await;
    let ticks: Vec<chrono::DateTime<chrono::FixedOffset>> = text
        .lines()
        .map(|l| chrono::DateTime::parse_from_rfc3339(l).expect("a tick time"))
        .collect();
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "a tick ran twice: {text}"
    );
    // Every second; a slow machine may let one go by.
    let span = ticks[2] - ticks[0];
    assert!(
        span <= chrono::Duration::seconds(3),
        "three ticks in {span}: {text}"
    );
    let _ = app;
}

#[tokio::test]
async fn a_plugin_s_json_lines_become_runs_and_are_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    let plugin = dir.path().join("fake-kafka");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nread options\necho \"$options\" > {d}/options\necho '{{\"id\":\"m1\",\"type\":\"order\",\"payload\":{{\"n\":1}}}}'\necho 'not json'\necho '{{\"id\":\"m2\",\"payload\":\"two\"}}'\nwhile read ack; do echo \"$ack\" >> {d}/acks; done\n",
            d = dir.path().display()
        ),
    )
    .expect("plugin");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&plugin)
        .status()
        .expect("chmod");
    let (app, out) = spawn(&format!(
        r#"
handlers:
  - type: Plugin
    name: Kafka Consumer
    plugin: "{}"
    options: {{brokers: "localhost:9092", topic: events}}
    shell: 'echo "$RUSTYHOOK_EVENT_ID $RUSTYHOOK_EVENT_TYPE $(cat)" >> {{dir}}/events'
"#,
        plugin.display()
    ))
    .await;
    let events = wait_file(&out.path().join("events"), |t| t.lines().count() >= 2).await;
    assert!(events.contains(r#"m1 order {"n":1}"#), "{events}");
    assert!(events.contains("m2 plugin two"), "{events}");
    let options = wait_file(&dir.path().join("options"), |t| t.contains("topic")).await;
    assert!(
        options.contains(r#""brokers":"localhost:9092""#),
        "{options}"
    );
    let acks = wait_file(&dir.path().join("acks"), |t| t.lines().count() >= 2).await;
    assert!(acks.contains(r#""ack":"m1""#), "{acks}");
    let _ = app;
}

#[tokio::test]
async fn publish_turns_a_webhook_into_a_message_for_an_app() {
    let receiver = Receiver::start().await;
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: inbound
    publish: {app: shop, event_type: order.created}
"#,
    )
    .await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": receiver.url("/in")}))
        .await;
    let (status, _) = hook(&app, "inbound", &[], r#"{"order":7}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["order"], 7);
    assert!(got[0].header("webhook-signature").is_some());
}

#[tokio::test]
async fn a_timed_out_command_is_killed_and_recorded_as_a_timeout() {
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: slow
    shell: sleep 30
    timeout: 1
"#,
    )
    .await;
    let run = app.post("/api/v1/handler/slow/run", json!({})).await;
    let run = wait_run(&app, "slow", run["id"].as_str().expect("id"), "dead").await;
    let attempts = app
        .get(&format!(
            "/api/v1/handler/slow/run/{}/attempt",
            run["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(attempts["data"][0]["outcome"], "E_TIMEOUT");
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/handler/nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sqs_messages_run_the_handler_and_are_deleted_once_queued() {
    use rustyhook_engine::triggers::sqs_client::{SqsClient, SqsConfig, create_queue};
    let endpoint = std::env::var("RUSTYHOOK_TEST_SQS_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let creds = Some(("test".to_owned(), "test".to_owned()));
    let http = reqwest::Client::new();
    let name = format!("rh-{}", std::process::id());
    let url = create_queue(&http, &endpoint, "us-east-1", &name, creds.clone())
        .await
        .unwrap_or_else(|e| {
            panic!("no SQS-compatible server at {endpoint} (start one with .ci/moto.sh): {e}")
        });
    let (app, dir) = spawn(&format!(
        r#"
handlers:
  - type: SQS
    name: Queue Processor
    options:
      type: SQS
      queue_url: "{url}"
      endpoint_url: "{endpoint}"
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      wait_time_seconds: 1
      poll_interval: 1
    shell: 'echo "$MESSAGE_ID $(cat)" >> {{dir}}/processed'
    exports: [MESSAGE_ID]
  - type: Custom
    name: Status Reporter
    shell: 'echo "Last message: $MESSAGE_ID" > {{dir}}/status'
"#
    ))
    .await;
    let client = SqsClient::new(
        SqsConfig {
            queue_url: url.clone(),
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.clone()),
            wait_time_seconds: 1,
            max_messages: 10,
            visibility_timeout: Some(1),
            static_credentials: creds,
        },
        http,
    )
    .expect("client");
    let first = client.send("one").await.expect("send");
    let second = client.send("two").await.expect("send");
    let text = wait_file(&dir.path().join("processed"), |t| t.lines().count() >= 2).await;
    assert!(text.contains(&format!("{first} one")), "{text}");
    assert!(text.contains(&format!("{second} two")), "{text}");
    // The point: deleted once queued, nothing comes back, even after the visibility timeout
    // (1 s from the receive, which came before the runs). No sleep: this receive long-polls
    // for 1 s (`wait_time_seconds`), past that timeout, and returns what comes back.
    assert!(client.receive().await.expect("receive").is_empty());
    // The roadmap's exports: the last message id reaches a later run of another handler.
    app.post("/api/v1/handler/status-reporter/run", json!({}))
        .await;
    let status = wait_file(&dir.path().join("status"), |t| t.ends_with('\n')).await;
    assert!(
        status.contains(&first) || status.contains(&second),
        "{status}"
    );
}
