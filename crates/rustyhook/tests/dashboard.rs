//! The dashboard in a real browser: the real binary (with a handler configured) and a real
//! receiver on port 0, then Playwright (`web/e2e`, run by Node) drives Debian's headless
//! Chromium through it: sign in, make an app and an endpoint through the forms, see messages
//! and their attempts, run a handler, and the limits of app-portal and read-only tokens; and
//! (`web/e2e/recover.spec.ts`) an endpoint failing until its messages are dead, fixed through
//! its form and recovered from the dead letters page, each arriving once.
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
        // A short retry schedule, so that recover.spec.ts sees messages die within seconds.
        "retry:\n  schedule: [200ms, 300ms]\n\
         handlers:\n  - type: Webhook\n    name: greet\n    shell: 'echo \"hello $(cat)\"'\n",
    )
    .expect("config");
    let receiver = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let port = free_port();
    let server = start(dir.path(), port, &[("RUSTYHOOK_ADMIN_TOKEN", TOKEN)]);
    wait_healthy(&server.base).await;

    let run = {
        let (base, hook, broken) = (
            server.base.clone(),
            receiver.url("/dashboard"),
            failing.url("/failing"),
        );
        tokio::task::spawn_blocking(move || {
            Command::new(&playwright)
                .arg("test")
                .current_dir(web_dir())
                .env("DASHBOARD_URL", base)
                .env("DASHBOARD_ADMIN_TOKEN", TOKEN)
                .env("DASHBOARD_RECEIVER_URL", hook)
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
}
