//! A JetStream stream of its own for one test, on the NATS server `RUSTYHOOK_TEST_NATS_URL` names
//! (the machine's, `nats://127.0.0.1:4222` with JetStream on, by default; `.ci/services.sh`
//! starts it), deleted when the test ends.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use rand::distr::{Alphanumeric, SampleString};

use crate::wait::until;

/// The server tests create their streams on.
pub fn server_url() -> String {
    std::env::var("RUSTYHOOK_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream named `RH_TEST_<random>` taking the subjects `rh_test_<random>.>`, deleted on drop.
pub struct TestStream {
    /// The stream's name.
    pub name: String,
    /// The prefix of its subjects: messages go to `<subject>.<anything>`.
    pub subject: String,
    url: String,
    js: jetstream::Context,
}

impl TestStream {
    /// Creates the stream; panics, naming the server, if NATS cannot be reached.
    pub async fn create() -> Self {
        let stream = Self::named().await;
        stream.make().await;
        stream
    }

    /// Names a stream without creating it yet (see [`Self::make`]).
    pub async fn named() -> Self {
        Self::named_on(&server_url()).await
    }

    /// Names a stream on the server at `url`, without creating it yet.
    pub async fn named_on(url: &str) -> Self {
        let client = async_nats::connect(url).await.unwrap_or_else(|e| {
            panic!("NATS with JetStream at {url} is needed for this test (.ci/services.sh starts it): {e}")
        });
        let id = Alphanumeric
            .sample_string(&mut rand::rng(), 10)
            .to_lowercase();
        Self {
            name: format!("RH_TEST_{id}"),
            subject: format!("rh_test_{id}"),
            url: url.to_owned(),
            js: jetstream::new(client),
        }
    }

    /// Creates the named stream.
    pub async fn make(&self) {
        self.js
            .create_stream(stream::Config {
                name: self.name.clone(),
                subjects: vec![format!("{}.>", self.subject)],
                ..Default::default()
            })
            .await
            .expect("the test stream is created");
    }

    /// A `sources:` entry reading this stream into `target` (`app: shop`, `handler: h`, …), with
    /// more keys in `extra` (`ack_wait: 2s`), as YAML.
    pub fn source(&self, target: &str, extra: &str) -> String {
        format!(
            "sources:\n  - type: nats\n    name: {name}\n    url: {url}\n    stream: {name}\n    {target}\n{extra}",
            name = self.name,
            url = self.url,
        )
    }

    /// Publishes `body` to `<subject>.<suffix>` and waits until the stream stored it.
    pub async fn publish(&self, suffix: &str, body: impl Into<Vec<u8>>) {
        self.try_publish(suffix, body)
            .await
            .expect("JetStream stored the message");
    }

    /// Like [`Self::publish`], saying why it failed.
    pub async fn try_publish(&self, suffix: &str, body: impl Into<Vec<u8>>) -> Result<(), String> {
        let subject = format!("{}.{suffix}", self.subject);
        let ack = self.js.publish(subject, body.into().into());
        let ack = ack.await.map_err(|e| e.to_string())?;
        ack.await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// The consumer's state as the server sees it.
    pub async fn consumer(&self, name: &str) -> consumer::Info {
        self.try_consumer(name).await.expect("the consumer exists")
    }

    /// The consumer's state, or `None` while it does not exist.
    pub async fn try_consumer(&self, name: &str) -> Option<consumer::Info> {
        self.js
            .get_stream(&self.name)
            .await
            .expect("the stream exists")
            .consumer_info(name)
            .await
            .ok()
    }

    /// Waits until `name` has nothing left to deliver and nothing unacknowledged.
    pub async fn wait_settled(&self, name: &str, timeout: Duration) -> consumer::Info {
        until(
            &format!("the consumer {name} to settle"),
            timeout,
            async || {
                let info = self.consumer(name).await;
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    Ok(info)
                } else {
                    Err(format!(
                        "{} pending, {} unacknowledged",
                        info.num_pending, info.num_ack_pending
                    ))
                }
            },
        )
        .await
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime, or while a failed test unwinds: delete on a thread of
        // its own, with a runtime of its own.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let client = async_nats::connect(url.as_str()).await.ok()?;
                jetstream::new(client).delete_stream(&name).await.ok()
            })
        });
        let _ = deleted.join();
    }
}

/// A NATS server of the test's own, to restart: JetStream on, on a free port, storing in a temp
/// dir that outlives restarts; killed on drop.
pub struct PrivateServer {
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// Starts the server and waits until JetStream answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            url: format!("nats://127.0.0.1:{port}"),
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn().await;
        server
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and storage.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn spawn(&mut self) {
        let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(program)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts (.ci/services.sh installs it): {e}"));
        self.child = Some(child);
        let url = self.url.clone();
        until(
            &format!("NATS at {url} to come up"),
            Duration::from_secs(20),
            async || {
                // JetStream answers its API once it is ready.
                let client = async_nats::connect(url.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                client
                    .request("$JS.API.INFO", "".into())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
        .await;
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}
