//! A JetStream stream of its own for one test, on the NATS server `RUSTYHOOK_TEST_NATS_URL` names
//! (the machine's, `nats://127.0.0.1:4222` with JetStream on, by default; `.ci/services.sh`
//! starts it), deleted when the test ends.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use rand::distr::{Alphanumeric, SampleString};

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
        let url = server_url();
        let client = async_nats::connect(url.as_str()).await.unwrap_or_else(|e| {
            panic!("NATS with JetStream at {url} is needed for this test (.ci/services.sh starts it): {e}")
        });
        let id = Alphanumeric
            .sample_string(&mut rand::rng(), 10)
            .to_lowercase();
        Self {
            name: format!("RH_TEST_{id}"),
            subject: format!("rh_test_{id}"),
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
            url = server_url(),
        )
    }

    /// Publishes `body` to `<subject>.<suffix>` and waits until the stream stored it.
    pub async fn publish(&self, suffix: &str, body: impl Into<Vec<u8>>) {
        self.js
            .publish(format!("{}.{suffix}", self.subject), body.into().into())
            .await
            .expect("published")
            .await
            .expect("JetStream stored the message");
    }

    /// The consumer's state as the server sees it.
    pub async fn consumer(&self, name: &str) -> consumer::Info {
        self.js
            .get_stream(&self.name)
            .await
            .expect("the stream exists")
            .consumer_info(name)
            .await
            .expect("the consumer exists")
    }

    /// Waits until `name` has nothing left to deliver and nothing unacknowledged.
    pub async fn wait_settled(&self, name: &str, timeout: Duration) -> consumer::Info {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.consumer(name).await;
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "the consumer {name} never settled: {} pending, {} unacknowledged",
                info.num_pending,
                info.num_ack_pending
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, name) = (server_url(), self.name.clone());
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
