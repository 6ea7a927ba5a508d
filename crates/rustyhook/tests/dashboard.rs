//! The dashboard in a real browser: the real binary (with a handler configured) and a real
//! receiver on port 0, then Playwright (`web/e2e`, run by Node) drives Debian's headless
//! Chromium through it: sign in, make an app and an endpoint through the forms, see messages
//! and their attempts, run a handler, and the limits of app-portal and read-only tokens; then
//! operate it (`web/e2e/operate.spec.ts`): the overview, the live feed, pausing and resuming,
//! and a Redis source with messages it stored and rejected; and (`web/e2e/recover.spec.ts`) an
//! endpoint failing until its messages are dead, fixed through its form and recovered from the
//! dead letters page, each arriving once; and (`web/e2e/alerts.spec.ts`) on the Alerts page,
//! make a rule fire against a receiver that answers 500 and resolve, and check that the
//! operational endpoint made there got `alert.fired` and `alert.resolved`.
//!
//! The operating tests deliver to a second receiver whose tally (how many requests, how many
//! distinct `webhook-id`s) a small HTTP server here answers, so a browser test can compare what
//! a page shows with what really arrived.
//!
//! Needs `npm ci` in `web/`, `/usr/bin/chromium` (or `RUSTYHOOK_TEST_CHROMIUM`) and the
//! machine's Redis on 127.0.0.1:6379; `./test.sh` provides all three. Screenshots land in
//! `web/e2e/screenshots/`.

#[path = "support/binary.rs"]
#[allow(dead_code)]
mod binary;
#[path = "e2e/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/wait.rs"]
#[allow(dead_code)]
mod wait;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use binary::{free_port, start, wait_healthy};
use receiver::{Receiver, Reply};

const TOKEN: &str = "rh_admin_dashboard_browser_test_token_0123456789";
const REDIS: &str = "redis://127.0.0.1:6379";
/// The broker source the operating tests read (its stream is named per run).
const SOURCE: &str = "dashboard-orders";

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

fn chromium() -> String {
    let path = std::env::var("RUSTYHOOK_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "no Chromium at {path}: install Debian's (`apt-get install chromium`; ./test.sh does)"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser_against_the_real_binary() {
    let web = web_dir();
    let playwright = web.join("node_modules/.bin/playwright");
    assert!(
        playwright.exists(),
        "{} is missing: run `npm ci` in web/ (./test.sh does)",
        playwright.display()
    );
    let chromium = chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let stream = format!("rustyhook-dashboard-{}", std::process::id());
    let mut redis = redis::Client::open(REDIS)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the machine's Redis on 127.0.0.1:6379 (.ci/services.sh starts it)");
    let _: () = redis::AsyncCommands::del(&mut redis, &stream)
        .await
        .expect("del");
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        // A rule from the config file, which the Alerts page shows and leaves alone. (The retry
        // schedule is support/binary.rs's, 200ms to 2s: recover.spec.ts's messages die within
        // seconds.)
        format!(
            "handlers:\n  - type: Webhook\n    name: greet\n    shell: 'echo \"hello $(cat)\"'\n\
             sources:\n  - {{name: {SOURCE}, type: redis, url: \"{REDIS}\", stream: {stream}, app: broker}}\n\
             alerts:\n  - name: nodes\n    kind: node_gone\n    threshold: 120\n"
        ),
    )
    .expect("config");
    let receiver = Receiver::start().await;
    let ops = Receiver::start().await;
    let tally = serve_tally(ops.clone()).await;
    // Every delivery to this one fails: recover.spec.ts's messages die there, and an alert
    // rule on alerts.spec.ts's endpoint fires.
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let port = free_port();
    // Alert rules measured every second, so the Alerts page sees one fire and resolve soon.
    let env = [
        ("RUSTYHOOK_ADMIN_TOKEN", TOKEN),
        ("RUSTYHOOK_ALERT_INTERVAL", "1s"),
    ];
    let server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    feed_the_source(&server.base, &mut redis, &stream).await;

    // DASHBOARD_SPEC (e.g. `e2e/alerts.spec.ts`) runs one spec while working on it.
    let only = std::env::var("DASHBOARD_SPEC").ok();
    let ran = |name: &str| only.as_deref().is_none_or(|spec| spec.contains(name));
    let (operate_ran, recover_ran, alerts_ran) = (ran("operate"), ran("recover"), ran("alerts"));
    let run = {
        let (base, hook, broken) = (
            server.base.clone(),
            receiver.url("/dashboard"),
            failing.url("/failing"),
        );
        let ops_hook = ops.url("/operate");
        tokio::task::spawn_blocking(move || {
            Command::new(&playwright)
                .arg("test")
                .args(only)
                .current_dir(web_dir())
                .env("DASHBOARD_URL", base)
                .env("DASHBOARD_ADMIN_TOKEN", TOKEN)
                .env("DASHBOARD_RECEIVER_URL", hook)
                .env("DASHBOARD_OPS_RECEIVER_URL", ops_hook)
                .env("DASHBOARD_TALLY_URL", tally)
                .env("DASHBOARD_SOURCE", SOURCE)
                .env("DASHBOARD_FAILING_URL", broken)
                .env("CHROMIUM_PATH", chromium)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .status()
                .expect("playwright starts")
        })
    };
    let status = run.await.expect("the runner finishes");
    assert!(status.success(), "the browser tests failed: {status}");
    // What the pages showed as delivered really arrived, signed.
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert!(
        got.iter().all(|r| r.header("webhook-signature").is_some()),
        "every delivery is signed"
    );
    if operate_ran {
        operate_delivered_once(&ops);
    }
    if recover_ran {
        recovered_once(&receiver, &failing);
    }
    if alerts_ran {
        alerts_reached_the_operational_endpoint(&receiver).await;
    }
    drop(server);
    let _: () = redis::AsyncCommands::del(&mut redis, &stream)
        .await
        .expect("del");
}

/// What the operating tests delivered arrived once each, held or not.
fn operate_delivered_once(ops: &Receiver) {
    let ids = ops
        .received()
        .iter()
        .map(|r| r.header("webhook-id").expect("a webhook-id"))
        .collect::<Vec<_>>();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert!(!ids.is_empty(), "the operating tests delivered something");
    assert_eq!(distinct.len(), ids.len(), "no message was delivered twice");
}

/// recover.spec.ts's messages: each recovered once, so each arrived exactly once.
fn recovered_once(receiver: &Receiver, failing: &Receiver) {
    let recovered: Vec<i64> = receiver
        .received()
        .iter()
        .filter_map(|r| r.json()["recover"].as_i64())
        .collect();
    let mut distinct = recovered.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        (recovered.len(), distinct),
        (3, vec![0, 1, 2]),
        "each recovered message arrived exactly once"
    );
    assert!(
        failing.received().len() >= 15,
        "each message was tried five times (support/binary.rs's schedule) before it died"
    );
}

/// Serves `GET /` with what `receiver` got so far: `{"count": n, "distinct": n}`, the requests
/// and their distinct `webhook-id`s. Answers its URL.
async fn serve_tally(receiver: Receiver) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let got = receiver.received();
            let distinct: HashSet<String> =
                got.iter().filter_map(|r| r.header("webhook-id")).collect();
            async move {
                axum::Json(serde_json::json!({"count": got.len(), "distinct": distinct.len()}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the tally binds");
    let url = format!("http://{}/", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the tally serves") });
    url
}

/// Gives the source something to show: the app its messages go to, two orders it stores and
/// one message it must reject (its payload is not JSON).
async fn feed_the_source(base: &str, redis: &mut redis::aio::MultiplexedConnection, stream: &str) {
    let made = reqwest::Client::new()
        .post(format!("{base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"name": "Broker orders", "uid": "broker"}))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(made.status(), 201, "the source's app is made");
    for payload in [r#"{"order": 1}"#, r#"{"order": 2}"#, "not json {"] {
        let _: String = redis::AsyncCommands::xadd(
            redis,
            stream,
            "*",
            &[("eventType", "order.placed"), ("payload", payload)],
        )
        .await
        .expect("xadd");
    }
}

/// The alert the Alerts page showed firing, then resolved, reached the operational endpoint
/// made there (told only of alerts), as the AlertOut the page read.
async fn alerts_reached_the_operational_endpoint(receiver: &Receiver) {
    let alerts = wait::until(
        "alert.fired and alert.resolved",
        Duration::from_secs(30),
        async || {
            let events: Vec<serde_json::Value> = receiver
                .received()
                .iter()
                .map(|r| r.json())
                .filter(|e| e["type"].as_str().is_some_and(|t| t.starts_with("alert.")))
                .collect();
            let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
            if types == ["alert.fired", "alert.resolved"] {
                Ok(events)
            } else {
                Err(format!("got {types:?}"))
            }
        },
    )
    .await;
    for e in &alerts {
        assert_eq!(e["data"]["ruleName"], "Alerting Co failing", "{e}");
        assert!(
            e["data"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("alt_")),
            "{e}"
        );
    }
    assert_eq!(
        alerts[0]["data"]["id"], alerts[1]["data"]["id"],
        "one alert fired, then resolved"
    );
    assert_eq!(alerts[1]["data"]["status"], "resolved");
}
