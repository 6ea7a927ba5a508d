//! Starting the real binary for a test: a free port, a server process that is killed if the test
//! fails, waiting for health, and sending signals.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    /// A failed assertion must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(dir: &Path, port: u16, extra: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustyhook"));
    cmd.arg("serve")
        .current_dir(dir)
        .env("RUSTYHOOK_DATA_DIR", dir.join("data"))
        .env("RUSTYHOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUSTYHOOK_ALLOW_PRIVATE_NETWORKS", "true")
        .env("RUSTYHOOK_RETRY_SCHEDULE", "200ms,500ms,1s,2s")
        .env("RUSTYHOOK_POLL_INTERVAL", "100ms")
        .env("RUSTYHOOK_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("the binary starts");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

pub async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{base}/api/v1/health")).await
            && r.status() == 204
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} never became healthy");
}

pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
