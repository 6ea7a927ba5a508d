//! The dashboard in a real browser: the real binary (with a handler configured) and a real
//! receiver on port 0, then Playwright (`web/e2e`, run by Node) drives Debian's headless
//! Chromium through it: sign in, make an app and an endpoint through the forms, see messages
//! and their attempts, run a handler, and the limits of app-portal and read-only tokens; then
//! operate it (`web/e2e/operate.spec.ts`): the overview, the live feed, pausing and resuming,
//! and a Redis source with messages it stored and rejected; and (`web/e2e/recover.spec.ts`) an
//! endpoint failing until its messages are dead, fixed through its form and recovered from the
//! dead letters page, each arriving once.
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
        // A short retry schedule, so that recover.spec.ts sees messages die within seconds.
        format!(
            "retry:\n  schedule: [200ms, 300ms]\n\
             handlers:\n  - type: Webhook\n    name: greet\n    shell: 'echo \"hello $(cat)\"'\n\
             sources:\n  - {{name: {SOURCE}, type: redis, url: \"{REDIS}\", stream: {stream}, app: broker}}\n"
        ),
    )
    .expect("config");
    let receiver = Receiver::start().await;
    let ops = Receiver::start().await;
    let tally = serve_tally(ops.clone()).await;
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let port = free_port();
    let server = start(dir.path(), port, &[("RUSTYHOOK_ADMIN_TOKEN", TOKEN)]);
    wait_healthy(&server.base).await;
    feed_the_source(&server.base, &mut redis, &stream).await;

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
    // What the operating tests delivered arrived once each, held or not.
    let ids = ops
        .received()
        .iter()
        .map(|r| r.header("webhook-id").expect("a webhook-id"))
        .collect::<Vec<_>>();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert!(!ids.is_empty(), "the operating tests delivered something");
    assert_eq!(distinct.len(), ids.len(), "no message was delivered twice");
    // recover.spec.ts's messages: each recovered once, so each arrived exactly once.
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
        failing.received().len() >= 9,
        "each message was tried three times before it died"
    );
    drop(server);
    let _: () = redis::AsyncCommands::del(&mut redis, &stream)
        .await
        .expect("del");
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
