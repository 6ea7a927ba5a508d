//! Svix's official Python (2.9) and JavaScript (2.5) SDKs, installed from PyPI and npm by
//! `./test.sh`, drive a fresh server across apps, event types, endpoints, headers, secrets,
//! messages, attempts, resend, recover, background tasks, replay-missing, app-portal tokens and
//! errors (`tests/sdk/`). What they sent arrives at a real receiver, signed with the secret
//! the SDK rotated to.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{TOKEN, TestApp};
use crate::receiver::Receiver;

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// The Python with `svix` installed: `RUSTYHOOK_TEST_PYTHON`, else the venv `./test.sh` makes.
pub fn python() -> PathBuf {
    std::env::var_os("RUSTYHOOK_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/rustyhook/sdk-venv/bin/python")
        })
}

/// Runs a driver and returns its JSON summary; panics with its output when it failed.
async fn drive(program: PathBuf, script: PathBuf, app: &TestApp, receiver: &Receiver) -> Value {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&program)
            .arg(&script)
            .arg(&app.base)
            .arg(TOKEN)
            .arg(receiver.url("/hook"))
            .current_dir(script.parent().expect("a folder"))
            .output(),
    )
    .await
    .expect("the SDK driver finished within 2 minutes")
    .unwrap_or_else(|e| {
        panic!(
            "{} could not run ({e}); ./test.sh installs the SDKs",
            program.display()
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("a JSON summary ({e}): {stdout}"))
}

/// Every message the driver created arrived, signed with the secret it rotated to last.
async fn arrived_signed(receiver: &Receiver, summary: &Value) {
    let ids: Vec<String> = summary["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    let secret = summary["secret"].as_str().expect("secret");
    let wh = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = receiver.received();
        let arrived: Vec<_> = ids
            .iter()
            .filter_map(|id| {
                got.iter()
                    .rev()
                    .find(|r| r.header("webhook-id").as_deref() == Some(id))
            })
            .collect();
        if arrived.len() == ids.len() {
            for r in arrived {
                // The last attempt of each was made after the rotation (a resend or recover).
                let _ = wh.verify(&r.body, &r.headers);
            }
            let last = got.last().expect("one");
            wh.verify(&last.body, &last.headers)
                .expect("the newest delivery is signed with the rotated secret");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} messages arrived",
            arrived.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn svix_s_python_sdk_works_against_rustyhook_unchanged() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let summary = drive(python(), sdk_dir().join("python/drive.py"), &app, &receiver).await;
    arrived_signed(&receiver, &summary).await;
}

#[tokio::test]
async fn svix_s_javascript_sdk_works_against_rustyhook_unchanged() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let summary = drive(
        PathBuf::from("node"),
        sdk_dir().join("js/drive.mjs"),
        &app,
        &receiver,
    )
    .await;
    arrived_signed(&receiver, &summary).await;
}
