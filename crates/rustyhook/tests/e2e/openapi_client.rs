//! The OpenAPI document a running server serves is valid (`openapi-spec-validator`), and a
//! client generated from it (`openapi-python-client`, both from PyPI, installed by
//! `./test.sh`) works: it creates an app, an endpoint and a message, whose webhook reaches a
//! real receiver, signed, and lists the attempt; its 404 and 422 parse as the document's error
//! models (`tests/openapi/drive.py`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{TOKEN, TestApp};
use crate::receiver::Receiver;
use crate::sdk_clients::python;

/// Runs the venv's Python with `args` in `dir`, with the venv's tools (ruff, which the
/// generator formats with) on `PATH`; panics with the output when it fails.
async fn run_python(dir: &Path, args: &[&str]) -> String {
    let python = python();
    let bin = python.parent().expect("the venv's bin folder").to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)))
        .expect("a PATH");
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(&python)
            .args(args)
            .current_dir(dir)
            .env("PATH", path)
            .output(),
    )
    .await
    .expect("finished within 3 minutes")
    .unwrap_or_else(|e| {
        panic!(
            "{} could not run ({e}); ./test.sh installs it",
            python.display()
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/drive.py")
}

#[tokio::test]
async fn a_client_generated_from_the_served_document_sends_a_webhook_and_lists_its_attempt() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let doc = app.get("/api/v1/openapi.json").await;
    let doc_path = dir.path().join("openapi.json");
    std::fs::write(&doc_path, doc.to_string()).expect("written");
    let doc_arg = doc_path.to_str().expect("a UTF-8 path");

    run_python(dir.path(), &["-m", "openapi_spec_validator", doc_arg]).await;
    run_python(
        dir.path(),
        &[
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            doc_arg,
            "--meta",
            "none",
            "--output-path",
            "rustyhook_client",
        ],
    )
    .await;
    let out = run_python(
        dir.path(),
        &[
            driver().to_str().expect("a UTF-8 path"),
            dir.path().to_str().expect("a UTF-8 path"),
            &app.base,
            TOKEN,
            &receiver.url("/generated"),
        ],
    )
    .await;
    let summary: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("a JSON summary ({e}): {out}"));

    // The webhook arrived once, signed with the endpoint's secret as the client read it.
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "one webhook");
    let hook = &got[0];
    assert_eq!(
        hook.header("webhook-id").as_deref(),
        summary["message"].as_str()
    );
    assert_eq!(
        hook.json(),
        serde_json::json!({"invoice": "inv_1", "amount": 42})
    );
    let secret = summary["secret"].as_str().expect("a secret");
    standardwebhooks::Webhook::new(secret)
        .expect("a whsec_ secret")
        .verify(&hook.body, &hook.headers)
        .expect("signed with the endpoint's secret");

    // The client listed that attempt, a success, with its message.
    let attempt = &summary["attempts"][0];
    assert_eq!(attempt["msgId"], summary["message"], "{summary}");
    assert_eq!(attempt["endpointId"], summary["endpoint"]);
    assert_eq!(attempt["status"], 0, "{summary}");
    assert_eq!(attempt["responseStatusCode"], 200);
    assert_eq!(attempt["msgEventId"], "inv_1-paid");

    // Errors parse as the document's models, naming what was wrong.
    assert_eq!(summary["missing"]["code"], "not_found", "{summary}");
    let invalid = summary["invalid"].as_array().expect("validation items");
    assert!(
        invalid
            .iter()
            .any(|e| e["loc"] == serde_json::json!(["body", "version"])),
        "{summary}"
    );
}
