//! The dashboard in a real browser: the real binary (with a handler configured) and a real
//! receiver on port 0, then Playwright (`web/e2e`, run by Node) drives Debian's headless
//! Chromium through it: sign in, make an app and an endpoint through the forms, see messages
//! and their attempts, run a handler, and the limits of app-portal and read-only tokens; on the
//! Alerts page, make a rule fire against a receiver that answers 500 and resolve, and check
//! that the operational endpoint made there got `alert.fired` and `alert.resolved`.
//!
//! Needs `npm ci` in `web/` and `/usr/bin/chromium` (or `RUSTYHOOK_TEST_CHROMIUM`); `./test.sh`
//! installs both. Screenshots land in `web/e2e/screenshots/`.

#[path = "support/binary.rs"]
#[allow(dead_code)]
mod binary;
#[path = "e2e/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/wait.rs"]
#[allow(dead_code)]
mod wait;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use binary::{free_port, start, wait_healthy};
use receiver::{Receiver, Reply};

const TOKEN: &str = "rh_admin_dashboard_browser_test_token_0123456789";

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
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        concat!(
            "handlers:\n  - type: Webhook\n    name: greet\n    shell: 'echo \"hello $(cat)\"'\n",
            // A rule from the config file, which the Alerts page shows and leaves alone.
            "alerts:\n  - name: nodes\n    kind: node_gone\n    threshold: 120\n",
        ),
    )
    .expect("config");
    let receiver = Receiver::start().await;
    // Every delivery to this one fails, so an alert rule on its endpoint fires.
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

    // DASHBOARD_SPEC (e.g. `e2e/alerts.spec.ts`) runs one spec while working on it.
    let only = std::env::var("DASHBOARD_SPEC").ok();
    let alerts_ran = only.as_deref().is_none_or(|spec| spec.contains("alerts"));
    let run = {
        let (base, hook) = (server.base.clone(), receiver.url("/dashboard"));
        let failing_hook = failing.url("/failing");
        tokio::task::spawn_blocking(move || {
            Command::new(&playwright)
                .arg("test")
                .args(only)
                .current_dir(web_dir())
                .env("DASHBOARD_URL", base)
                .env("DASHBOARD_ADMIN_TOKEN", TOKEN)
                .env("DASHBOARD_RECEIVER_URL", hook)
                .env("DASHBOARD_FAILING_URL", failing_hook)
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
    if alerts_ran {
        alerts_reached_the_operational_endpoint(&receiver).await;
    }
    drop(server);
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
