//! Security findings of issue 13 that only the real binary shows: its environment (proxy
//! variables) and its process limits (open files).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::binary::{Server, free_port, start, wait_healthy};
use crate::proxy::TinyProxy;
use crate::{TOKEN, setup_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_environment_variables_do_not_carry_requests_past_the_private_address_guard() {
    let proxy = TinyProxy::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let env = [
        ("RUSTYHOOK_ADMIN_TOKEN", TOKEN),
        ("RUSTYHOOK_ALLOW_PRIVATE_NETWORKS", "false"),
        ("HTTP_PROXY", proxy.url.as_str()),
        ("http_proxy", proxy.url.as_str()),
        ("HTTPS_PROXY", proxy.url.as_str()),
        ("ALL_PROXY", proxy.url.as_str()),
    ];
    let server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    setup_app(&client, &server.base, "http://localhost:9/hook", 1).await;
    let r = client
        .post(format!("{}/api/v1/app/crash/msg", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"eventType": "a.b", "payload": {}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 202);
    let msg: serde_json::Value = r.json().await.expect("json");
    let id = msg["id"].as_str().expect("id");
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempt = loop {
        let list: serde_json::Value = client
            .get(format!("{}/api/v1/app/crash/attempt/msg/{id}", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if let Some(first) = list["data"].get(0) {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempt["outcome"], "E_BLOCKED_ADDRESS", "{attempt}");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_idle_connections_under_a_256_file_limit_leave_health_answering() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    // `ulimit -n` lowers the hard limit too, so the server cannot raise it back.
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_rustyhook"))
        .current_dir(dir.path())
        .env("RUSTYHOOK_DATA_DIR", dir.path().join("data"))
        .env("RUSTYHOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUSTYHOOK_ADMIN_TOKEN", TOKEN)
        .env("RUSTYHOOK_LOG_LEVEL", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_healthy(&server.base).await;
    let mut idle = Vec::new();
    for _ in 0..400 {
        match tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await {
            Ok(c) => idle.push(c),
            Err(e) => panic!("connection {} failed: {e}", idle.len()),
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for _ in 0..5 {
        let started = Instant::now();
        let r = client
            .get(format!("{}/api/v1/health", server.base))
            .send()
            .await
            .expect("health answers");
        assert_eq!(r.status(), 204);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "health was slow"
        );
        let r = client
            .get(format!("{}/api/v1/app", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the API answers");
        assert_eq!(r.status(), 200);
    }
}
