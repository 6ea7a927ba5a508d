//! Handler lanes: a handler's runs queue, retry and die like an endpoint's deliveries. Its
//! `concurrency` bounds the runs in flight, `run_rate` the runs started per second, a run
//! that fails its last retry is a dead letter (listed with `?status=dead`) that a recover
//! brings back, and a slow handler holds up only its own lane.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::handlers::{spawn, wait_file};
use crate::harness::TestApp;
use crate::wait::until;

/// Starts a run of `handler` through the API and returns its id.
async fn start(app: &TestApp, handler: &str) -> String {
    let run = app
        .post(&format!("/api/v1/handler/{handler}/run"), json!({}))
        .await;
    run["id"].as_str().expect("a run id").to_owned()
}

/// Polls run `path` until its status is `status`, and returns it.
async fn wait_status(app: &TestApp, path: &str, status: &str) -> Value {
    until(
        &format!("{path} to be {status}"),
        Duration::from_secs(20),
        async || {
            let run = app.get(path).await;
            if run["status"] == status {
                Ok(run)
            } else {
                Err(run)
            }
        },
    )
    .await
}

/// The most `+` lines not yet matched by a `-` line, reading `log` in order: how many runs
/// were inside their command at once.
fn most_at_once(log: &str) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for line in log.lines() {
        match line {
            "+" => now += 1,
            "-" => now = now.saturating_sub(1),
            _ => {}
        }
        most = most.max(now);
    }
    most
}

#[tokio::test]
async fn a_handlers_concurrency_bounds_its_runs_in_flight_and_a_slow_handler_delays_no_other() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Pair
    concurrency: 2
    shell: 'echo + >> {dir}/pair; sleep 0.4; echo - >> {dir}/pair'
  - type: Custom
    name: Slow
    shell: 'sleep 3; echo done >> {dir}/slow'
  - type: Custom
    name: Quick
    shell: 'echo done >> {dir}/quick'
"#,
    )
    .await;
    for _ in 0..6 {
        start(&app, "pair").await;
    }
    start(&app, "slow").await;
    start(&app, "slow").await;
    let began = Instant::now();
    start(&app, "quick").await;
    wait_file(&dir.path().join("quick"), |t| t.contains("done")).await;
    assert!(
        !dir.path().join("slow").exists() && began.elapsed() < Duration::from_secs(3),
        "the quick handler waited behind the slow one ({:?})",
        began.elapsed()
    );
    let log = wait_file(&dir.path().join("pair"), |t| {
        t.lines().filter(|l| *l == "-").count() == 6
    })
    .await;
    assert_eq!(
        most_at_once(&log),
        2,
        "concurrency: 2 runs two at once, never more: {log:?}"
    );
}

#[tokio::test]
async fn a_handlers_run_rate_spaces_the_starts_of_its_runs() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Paced
    concurrency: 8
    run_rate: 2
    shell: 'date +%s%N >> {dir}/starts'
"#,
    )
    .await;
    for _ in 0..6 {
        start(&app, "paced").await;
    }
    let text = wait_file(&dir.path().join("starts"), |t| t.lines().count() == 6).await;
    let starts: Vec<u128> = text
        .lines()
        .map(|l| l.trim().parse().expect("nanoseconds"))
        .collect();
    let span = Duration::from_nanos(
        (starts.iter().max().expect("six") - starts.iter().min().expect("six")) as u64,
    );
    // Two per second with a burst of two: starts at 0, 0, 0.5, 1, 1.5 and 2 s.
    assert!(
        span >= Duration::from_millis(1_700),
        "six runs at two per second took only {span:?} to start"
    );
}

#[tokio::test]
async fn a_run_that_fails_its_last_retry_is_a_dead_letter_until_recovered() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Flaky
    retry: {max_retries: 1, delay_ms: 100}
    shell: 'test -f {dir}/fixed'
"#,
    )
    .await;
    let since = rustyhook_core::time::to_rfc3339(rustyhook_core::time::now_millis() - 60_000);
    let id = start(&app, "flaky").await;
    let run_path = format!("/api/v1/handler/flaky/run/{id}");
    let run = wait_status(&app, &run_path, "dead").await;
    assert_eq!(run["attempts"], 2, "one try and one retry: {run}");
    let dead = app.get("/api/v1/handler/flaky/run?status=dead").await;
    assert_eq!(dead["data"][0]["id"], id.as_str(), "{dead}");
    let (status, body) = app
        .call(Method::GET, "/api/v1/handler/flaky/run?status=lost", None)
        .await;
    assert_eq!(status, 422, "{body}");

    std::fs::write(dir.path().join("fixed"), "").expect("fix the cause");
    let recovered = app
        .post("/api/v1/handler/flaky/recover", json!({"since": since}))
        .await;
    assert_eq!(recovered["recovered"], 1, "{recovered}");
    let run = wait_status(&app, &run_path, "succeeded").await;
    assert_eq!(run["attempts"], 3, "{run}");
    let attempts = app.get(&format!("{run_path}/attempt")).await;
    let outcomes: Vec<&str> = attempts["data"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["E_EXIT_CODE", "E_EXIT_CODE", "OK"]);
    let dead = app.get("/api/v1/handler/flaky/run?status=dead").await;
    assert_eq!(dead["data"], json!([]), "{dead}");
}
