//! A forward proxy on loopback for tests: it answers 200 to everything and remembers each
//! request line, so a test can tell whether a request went through it.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A forward proxy on loopback that answers 200 to everything and remembers each request line.
pub struct TinyProxy {
    pub url: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl TinyProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    log.lock().expect("lock").push(line);
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Self { url, seen }
    }

    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}
