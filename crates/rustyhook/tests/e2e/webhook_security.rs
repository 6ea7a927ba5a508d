//! Inbound webhooks under attack (issue 13): methods, listeners, replays, absurd timestamps, a
//! request refused before its body is read, and a bounded backlog of runs.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;

use crate::handlers::{lines, spawn, wait_file, with_handlers};
use crate::harness::TestApp;
use crate::triggers::free_port;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = app.client.request(method, url).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.expect("body"))
}

async fn post(app: &TestApp, id: &str, headers: &[(&str, &str)], body: &str) -> StatusCode {
    let url = format!("{}/hooks/{id}", app.base);
    send(app, reqwest::Method::POST, &url, headers, body)
        .await
        .0
}

async fn runs(app: &TestApp, handler: &str) -> usize {
    let listed = app.get(&format!("/api/v1/handler/{handler}/run")).await;
    listed["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_webhook_runs_only_for_its_methods_and_answers_others_405() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Deploy
    shell: 'echo "$RUSTYHOOK_HTTP_METHOD" >> {dir}/deploy'
  - type: Webhook
    name: Status
    options: {methods: [get, POST]}
    shell: 'echo "$RUSTYHOOK_HTTP_METHOD" >> {dir}/status'
"#,
    )
    .await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let url = format!("{}/hooks/deploy", app.base);
        let (status, headers, _) = send(&app, method.clone(), &url, &[], "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(headers["allow"], "POST");
    }
    assert_eq!(post(&app, "deploy", &[], "{}").await, StatusCode::ACCEPTED);
    let url = format!("{}/hooks/status", app.base);
    let (status, _, _) = send(&app, reqwest::Method::GET, &url, &[], "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        wait_file(&dir.path().join("status"), |t| !t.is_empty()).await,
        "GET\n"
    );
    assert_eq!(
        wait_file(&dir.path().join("deploy"), |t| !t.is_empty()).await,
        "POST\n"
    );
    // Runs are stored before their request is answered: the count is final.
    assert_eq!(
        runs(&app, "deploy").await,
        1,
        "a refused method queued a run"
    );
}

#[tokio::test]
async fn a_handler_on_its_own_port_is_not_on_the_main_listener_unless_it_says_so() {
    let (own, shared) = (free_port(), free_port());
    let (app, _dir) = spawn(&format!(
        r#"
handlers:
  - type: Webhook
    name: Private
    options: {{port: {own}, path: /private}}
    shell: "true"
  - type: Webhook
    name: Both
    options: {{port: {shared}, path: /both, main_listener: true}}
    shell: "true"
"#
    ))
    .await;
    assert_eq!(
        post(&app, "private", &[], "{}").await,
        StatusCode::NOT_FOUND
    );
    let url = format!("http://127.0.0.1:{own}/private");
    let (status, _, _) = send(&app, reqwest::Method::POST, &url, &[], "{}").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(post(&app, "both", &[], "{}").await, StatusCode::ACCEPTED);
    assert_eq!(runs(&app, "private").await, 1);
}

fn github_signature(body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_replayed_signed_delivery_runs_nothing_even_after_a_restart() {
    let files = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        r#"
handlers:
  - type: Webhook
    name: Svix
    options: {{signing_secret: "{SECRET}"}}
    shell: 'cat >> {{dir}}/svix; echo >> {{dir}}/svix'
  - type: Webhook
    name: GitHub
    options: {{hmac_secret: s3cret}}
    shell: 'cat >> {{dir}}/github; echo >> {{dir}}/github'
"#
    );
    let settings = || with_handlers(&yaml, files.path());
    let app = TestApp::spawn_with(settings()).await;
    let wh = standardwebhooks::Webhook::new(SECRET).expect("secret");
    let ts = chrono::Utc::now().timestamp();
    let signature = wh.sign("msg_replay", ts, b"once").expect("sign");
    let ts = ts.to_string();
    let svix = [
        ("webhook-id", "msg_replay"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let sig = github_signature("push");
    let github = |delivery| {
        [
            ("x-hub-signature-256", sig.clone()),
            ("x-github-delivery", delivery),
        ]
    };
    let gh1 = github("d-1".to_owned());
    let gh1: Vec<(&str, &str)> = gh1.iter().map(|(k, v)| (*k, v.as_str())).collect();

    assert_eq!(
        post(&app, "svix", &svix, "once").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(&app, "github", &gh1, "push").await,
        StatusCode::ACCEPTED
    );
    let url = format!("{}/hooks/svix", app.base);
    let (status, _, text) = send(&app, reqwest::Method::POST, &url, &svix, "once").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(post(&app, "github", &gh1, "push").await, StatusCode::OK);
    wait_file(&files.path().join("svix"), |t| t == "once\n").await;
    wait_file(&files.path().join("github"), |t| t == "push\n").await;

    let (dir, db) = app.shut_down().await;
    let app = TestApp::spawn_on(settings(), dir, db).await;
    assert_eq!(post(&app, "svix", &svix, "once").await, StatusCode::OK);
    assert_eq!(post(&app, "github", &gh1, "push").await, StatusCode::OK);
    let gh2 = github("d-2".to_owned());
    let gh2: Vec<(&str, &str)> = gh2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        post(&app, "github", &gh2, "push").await,
        StatusCode::ACCEPTED
    );
    wait_file(&files.path().join("github"), |t| t == "push\npush\n").await;
    // Runs are stored before their request is answered, and every one has finished: the
    // replay queued nothing, so its command cannot run later.
    assert_eq!(app.settled_runs("svix").await.len(), 1, "the replay ran");
    assert_eq!(lines(&files.path().join("svix")), 1, "the replay ran");
}

#[tokio::test]
async fn timestamps_at_the_ends_of_i64_are_refused_without_overflow() {
    let (app, _dir) = spawn(&format!(
        r#"
handlers:
  - type: Webhook
    name: Svix
    options: {{signing_secret: "{SECRET}"}}
    shell: "true"
"#
    ))
    .await;
    let wh = standardwebhooks::Webhook::new(SECRET).expect("secret");
    for ts in [i64::MAX, i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1] {
        let signature = wh.sign("msg_ts", ts, b"x").expect("sign");
        let ts = ts.to_string();
        let headers = [
            ("webhook-id", "msg_ts"),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        assert_eq!(
            post(&app, "svix", &headers, "x").await,
            StatusCode::UNAUTHORIZED,
            "{ts}"
        );
    }
    assert_eq!(runs(&app, "svix").await, 0);
}

#[tokio::test]
async fn an_unauthorised_request_is_refused_before_its_body_is_read() {
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Locked
    options: {auth_token: the-right-token}
    shell: "true"
"#,
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // Announces a body it never sends.
        s.write_all(b"POST /hooks/locked HTTP/1.1\r\nhost: x\r\ncontent-length: 500000\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("client");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
}

#[tokio::test]
async fn past_its_backlog_a_handler_answers_429_with_retry_after_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = with_handlers(
        r#"
handlers:
  - type: Webhook
    name: Slow
    shell: 'sleep 5'
"#,
        dir.path(),
    );
    settings.limits.max_queued_runs_per_handler = 3;
    let app = TestApp::spawn_with(settings).await;
    let body = "x".repeat(100_000);
    let mut answers = Vec::new();
    for _ in 0..6 {
        let url = format!("{}/hooks/slow", app.base);
        let (status, headers, _) = send(&app, reqwest::Method::POST, &url, &[], &body).await;
        answers.push((status, headers.get("retry-after").cloned()));
    }
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses[..3], [StatusCode::ACCEPTED; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    assert!(answers[3].1.is_some(), "a 429 says when to come back");
    assert_eq!(runs(&app, "slow").await, 3);
}

#[tokio::test]
async fn commands_never_run_more_at_once_than_the_server_wide_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = "mkdir {dir}/lock 2>/dev/null || echo overlap >> {dir}/overlap; sleep 0.2; rmdir {dir}/lock; echo done >> {dir}/done";
    let mut settings = with_handlers(
        &format!(
            r#"
handlers:
  - type: Webhook
    name: A
    concurrency: 3
    shell: '{script}'
  - type: Webhook
    name: B
    concurrency: 3
    shell: '{script}'
"#
        ),
        dir.path(),
    );
    settings.limits.max_running_commands = 1;
    let app = TestApp::spawn_with(settings).await;
    let start = Instant::now();
    for id in ["a", "b", "a", "b", "a", "b"] {
        assert_eq!(post(&app, id, &[], "{}").await, StatusCode::ACCEPTED);
    }
    wait_file(&dir.path().join("done"), |t| t.lines().count() == 6).await;
    assert!(
        start.elapsed() >= Duration::from_millis(1200),
        "ran side by side"
    );
    assert!(
        !dir.path().join("overlap").exists(),
        "two commands ran at once"
    );
}
