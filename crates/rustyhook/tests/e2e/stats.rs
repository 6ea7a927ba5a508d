//! Stats over time (`/api/v1/stats/...`): the series count exactly the attempts a real receiver
//! got, the dead letters and the deliveries created, with latency percentiles; bad windows are
//! refused naming the parameter; an app token reads only its own app's stats.

use reqwest::{Method, StatusCode};
use rustyhook_core::time::{now_millis, to_rfc3339};
use serde_json::{Value, json};

use std::time::Duration;

use rustyhook_core::retry::RetryPolicy;

use crate::harness::{TestApp, settings};
use crate::receiver::{Receiver, Reply};
use crate::wait::{eventually, until};

/// How long a test waits for the server to do something.
const WAIT: Duration = Duration::from_secs(10);

/// The window a test's stats are read over: from a minute before it started to now.
fn window_since(started: i64) -> String {
    to_rfc3339(started - 60_000)
}

fn count(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} is a count: {v}"))
}

/// A chart's view of a series: every point's counts of `field` added up.
fn summed(series: &Value, field: &str) -> i64 {
    series["data"]
        .as_array()
        .expect("a list of points")
        .iter()
        .map(|p| count(p, field))
        .sum()
}

#[tokio::test]
async fn series_count_the_attempts_a_receiver_got_and_the_dead_letters() {
    let started = now_millis();
    let good = Receiver::start().await;
    let bad = Receiver::start().await;
    bad.set_default(Reply::status(500));
    let app = TestApp::spawn().await;
    let shop_id = app.create_app("shop").await["id"].clone();
    let good_ep = app
        .create_endpoint("shop", json!({"url": good.url("/ok")}))
        .await;
    let bad_ep = app
        .create_endpoint("shop", json!({"url": bad.url("/no")}))
        .await;
    let good_id = good_ep["id"].as_str().expect("id");
    let bad_id = bad_ep["id"].as_str().expect("id");
    for i in 0..6 {
        app.send("shop", "order.paid", json!({"i": i})).await;
    }
    app.settled("shop", good_id).await;
    let dead = app.settled("shop", bad_id).await;
    assert_eq!(dead["fail"], 6, "{dead}");
    let (ok, failed) = (good.received().len() as i64, bad.received().len() as i64);
    // Three attempts each (the test schedule retries twice) before they die.
    assert_eq!((ok, failed), (6, 18));

    let since = window_since(started);
    // Each attempt was counted in the transaction that recorded it: settled means counted.
    for bucket in ["minute", "hour"] {
        let q = format!("since={since}&bucket={bucket}");
        let shop = app.get(&format!("/api/v1/stats/app/shop?{q}")).await;
        let total = &shop["total"];
        assert_eq!(shop["bucket"], bucket);
        assert_eq!(count(total, "succeeded"), ok, "{shop}");
        assert_eq!(count(total, "failedStatus"), failed, "{shop}");
        assert_eq!(count(total, "attempts"), ok + failed);
        assert_eq!((count(total, "created"), count(total, "dead")), (12, 6));
        assert_eq!(summed(&shop, "attempts"), ok + failed, "{shop}");
        let rate = total["successRate"].as_f64().expect("a rate");
        assert!((rate - 6.0 / 24.0).abs() < 1e-9, "{rate}");
        let p = |name: &str| total[name].as_f64().expect("a percentile");
        let (p50, p95, p99) = (p("p50Ms"), p("p95Ms"), p("p99Ms"));
        assert!(
            0.0 <= p50 && p50 <= p95 && p95 <= p99 && p99 <= 2_000.0,
            "{p50} {p95} {p99}"
        );

        let good_series = app
            .get(&format!("/api/v1/stats/app/shop/endpoint/{good_id}?{q}"))
            .await;
        let t = &good_series["total"];
        assert_eq!(
            (
                count(t, "succeeded"),
                count(t, "attempts"),
                count(t, "dead")
            ),
            (ok, ok, 0)
        );
        // By uid or id alike, and the bad endpoint's failures are its own.
        let bad_series = app
            .get(&format!("/api/v1/stats/app/shop/endpoint/{bad_id}?{q}"))
            .await;
        let t = &bad_series["total"];
        assert_eq!(
            (
                count(t, "failedStatus"),
                count(t, "created"),
                count(t, "dead")
            ),
            (failed, 6, 6)
        );
        let server = app.get(&format!("/api/v1/stats/server?{q}")).await;
        assert_eq!(count(&server["total"], "attempts"), ok + failed);
    }

    // A chart gets every minute of the window, empty ones as zeros, oldest first.
    let series = app
        .get(&format!("/api/v1/stats/server?since={since}"))
        .await;
    let points = series["data"].as_array().expect("points");
    let spans = (now_millis() - (started - 60_000)) / 60_000;
    assert!(points.len() as i64 >= spans && points.len() as i64 <= spans + 2);
    assert!(
        points
            .windows(2)
            .all(|w| w[0]["start"].as_str() < w[1]["start"].as_str())
    );
    assert!(
        points
            .iter()
            .any(|p| p["attempts"] == 0 && p["p50Ms"].is_null())
    );

    let summary = app
        .get(&format!("/api/v1/stats/summary?since={since}"))
        .await;
    assert_eq!(
        count(&summary["total"], "attempts"),
        ok + failed,
        "{summary}"
    );
    assert_eq!(count(&summary["total"], "dead"), 6);
    assert_eq!(summary["queueDepth"], 0);
    assert!(summary["oldestPendingMs"].is_null(), "{summary}");
    let top = summary["topApps"].as_array().expect("a top list");
    assert_eq!(top.len(), 1, "{summary}");
    assert_eq!(top[0]["id"], shop_id);
    assert_eq!(count(&top[0], "attempts"), ok + failed);
}

#[tokio::test]
async fn the_queue_waiting_shows_in_the_summary_and_the_sampled_series() {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(503));
    let mut s = settings();
    // A failed attempt waits an hour for its retry: in the queue meanwhile.
    s.retry.schedule = RetryPolicy::parse_list("1h").expect("valid");
    let app = TestApp::spawn_with(s).await;
    app.create_app("slow").await;
    app.create_endpoint("slow", json!({"url": receiver.url("/later")}))
        .await;
    // The leader samples the queue when it starts, before anything is sent.
    eventually("the start's queue sample", WAIT, async || {
        let server = app.get("/api/v1/stats/server").await;
        server["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p["queueDepth"] == 0))
    })
    .await;
    let started = now_millis();
    for i in 0..2 {
        app.send("slow", "a.b", json!({"i": i})).await;
    }
    receiver.wait_for(2, WAIT).await;
    // Received is not yet recorded: wait for both failed attempts to be counted.
    let path = format!("/api/v1/stats/app/slow?since={}", window_since(started));
    let slow = until("both failed attempts to be counted", WAIT, async || {
        let slow = app.get(&path).await;
        if slow["total"]["failedStatus"] == 2 {
            Ok(slow)
        } else {
            Err(slow)
        }
    })
    .await;
    let t = &slow["total"];
    assert_eq!((count(t, "created"), count(t, "dead")), (2, 0), "{slow}");
    // Both now wait an hour for their retry: in the queue.
    let summary = app.get("/api/v1/stats/summary").await;
    assert_eq!(summary["queueDepth"], 2, "{summary}");
    let oldest = count(&summary, "oldestPendingMs");
    assert!(
        (0..=now_millis() - started + 1_000).contains(&oldest),
        "{summary}"
    );
}

#[tokio::test]
async fn bad_windows_and_unknown_scopes_are_refused_naming_what_is_wrong() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let now = now_millis();
    let cases = [
        ("/api/v1/stats/server?bucket=day", "bucket"),
        ("/api/v1/stats/server?since=yesterday", "since"),
        ("/api/v1/stats/server?until=2026-13-01T00:00:00Z", "until"),
        (
            &*format!(
                "/api/v1/stats/server?since={}&until={}",
                to_rfc3339(now),
                to_rfc3339(now - 60_000)
            ),
            "since",
        ),
        (
            // Two days of minutes: more points than a series answers.
            &*format!(
                "/api/v1/stats/app/shop?since={}&bucket=minute",
                to_rfc3339(now - 2 * 86_400_000)
            ),
            "since",
        ),
        ("/api/v1/stats/summary?bucket=week", "bucket"),
    ];
    for (path, param) in cases {
        let (status, body) = app.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", param]),
            "{path}: {body}"
        );
    }
    // The same two days in hours is fine.
    let hours = app
        .get(&format!(
            "/api/v1/stats/app/shop?since={}&bucket=hour",
            to_rfc3339(now - 2 * 86_400_000)
        ))
        .await;
    assert!(
        hours["data"]
            .as_array()
            .is_some_and(|d| (48..=50).contains(&d.len()))
    );
    for path in [
        "/api/v1/stats/app/nowhere",
        "/api/v1/stats/app/shop/endpoint/ep_nowhere",
        "/api/v1/stats/handler/nobody",
        "/api/v1/stats/source/nothing",
    ] {
        let (status, body) = app.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

#[tokio::test]
async fn an_app_token_reads_its_own_apps_stats_and_nothing_else() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    app.create_app("acme").await;
    app.create_app("other").await;
    let mine = app
        .create_endpoint("acme", json!({"url": receiver.url("/a")}))
        .await;
    let theirs = app
        .create_endpoint("other", json!({"url": receiver.url("/o")}))
        .await;
    let (status, made) = app
        .call(
            Method::POST,
            "/api/v1/token",
            Some(json!({"name": "acme dash", "role": "app", "appId": "acme"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().expect("the secret");
    let mine_id = mine["id"].as_str().expect("id");
    let theirs_id = theirs["id"].as_str().expect("id");
    for path in [
        "/api/v1/stats/app/acme".to_owned(),
        format!("/api/v1/stats/app/acme/endpoint/{mine_id}"),
    ] {
        let (status, body) = app.call_as(token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for (path, expected) in [
        ("/api/v1/stats/app/other".to_owned(), StatusCode::NOT_FOUND),
        (
            format!("/api/v1/stats/app/acme/endpoint/{theirs_id}"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/stats/app/other/endpoint/{theirs_id}"),
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/stats/server".to_owned(), StatusCode::FORBIDDEN),
        ("/api/v1/stats/summary".to_owned(), StatusCode::FORBIDDEN),
    ] {
        let (status, body) = app.call_as(token, Method::GET, &path, None).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_handlers_series_counts_the_commands_it_ran_and_its_dead_runs() {
    let started = now_millis();
    let (app, dir) = crate::handlers::spawn(
        r#"
handlers:
  - type: Custom
    name: Good
    shell: 'echo ran >> {dir}/good'
  - type: Custom
    name: Bad
    retry: {max_retries: 1, delay_ms: 100}
    shell: 'echo ran >> {dir}/bad; exit 3'
"#,
    )
    .await;
    for handler in ["good", "good", "bad"] {
        app.post(&format!("/api/v1/handler/{handler}/run"), json!({}))
            .await;
    }
    app.settled_runs("good").await;
    let bad_runs = app.settled_runs("bad").await;
    assert!(
        bad_runs.iter().all(|r| r["status"] == "dead"),
        "{bad_runs:?}"
    );
    let lines = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .map(|t| t.lines().count() as i64)
            .unwrap_or(0)
    };
    let (good_ran, bad_ran) = (lines("good"), lines("bad"));
    assert_eq!((good_ran, bad_ran), (2, 2));
    let q = format!("since={}", window_since(started));
    let good = app.get(&format!("/api/v1/stats/handler/good?{q}")).await;
    let t = &good["total"];
    assert_eq!(
        (
            count(t, "succeeded"),
            count(t, "attempts"),
            count(t, "created")
        ),
        (good_ran, good_ran, 2),
        "{good}"
    );
    assert!(t["p50Ms"].as_f64().is_some(), "{good}");
    let bad = app.get(&format!("/api/v1/stats/handler/bad?{q}")).await;
    let t = &bad["total"];
    assert_eq!(
        (
            count(t, "failedStatus"),
            count(t, "dead"),
            count(t, "created")
        ),
        (bad_ran, 1, 1),
        "{bad}"
    );
}
