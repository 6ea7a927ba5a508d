//! The test side of RabbitMQ: a client on the machine's broker (`RUSTYHOOK_TEST_AMQP_URL`, or
//! guest on 127.0.0.1:5672) that names queues of its own (deleted when it is dropped, even by a
//! failing test), publishes, counts and reads back.

use std::sync::Mutex;
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::wait::until;

/// The broker the tests use.
pub fn url() -> String {
    std::env::var("RUSTYHOOK_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A queue name no other test uses.
fn unique_queue(prefix: &str) -> String {
    let n: u64 = rand::random();
    format!("rustyhook-test-{prefix}-{n:016x}")
}

pub struct Rabbit {
    connection: Connection,
    channel: Channel,
    /// Queues deleted when this is dropped.
    owned: Mutex<Vec<String>>,
}

/// A message read back from a queue.
pub struct Got {
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl Got {
    /// A header's text value.
    pub fn header(&self, name: &str) -> Option<String> {
        match self.properties.headers().as_ref()?.inner().get(name)? {
            AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl Rabbit {
    pub async fn connect() -> Self {
        let connection = Connection::connect(&url(), ConnectionProperties::default())
            .await
            .expect("RabbitMQ answers on 127.0.0.1:5672 (run .ci/services.sh)");
        let channel = connection.create_channel().await.expect("a channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("publisher confirms");
        Self {
            connection,
            channel,
            owned: Mutex::default(),
        }
    }

    /// A queue name no other test uses and its dead-letter queue's (`<queue>.dead`), both
    /// deleted when this is dropped.
    pub fn queues(&self, prefix: &str) -> (String, String) {
        let queue = unique_queue(prefix);
        let dead = format!("{queue}.dead");
        let mut owned = self.owned.lock().expect("lock");
        owned.extend([queue.clone(), dead.clone()]);
        (queue, dead)
    }

    /// Declares `queue` durable with a 10-minute `x-expires`, so a failed test leaves nothing
    /// behind for long (and the source must accept a queue declared with other arguments).
    pub async fn declare_expiring(&self, queue: &str) {
        let mut args = FieldTable::default();
        args.insert("x-expires".into(), AMQPValue::LongInt(600_000));
        self.channel
            .queue_declare(queue.into(), QueueDeclareOptions::durable(), args)
            .await
            .expect("queue declared");
    }

    /// Publishes `body` to `queue` through the default exchange and waits for the confirm.
    pub async fn publish(&self, queue: &str, body: &[u8], properties: BasicProperties) {
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties.with_delivery_mode(2),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
        assert!(
            confirm.is_ack() && confirm.take_message().is_none(),
            "{queue} took the message"
        );
    }

    /// `(ready messages, consumers)` of `queue`, or `None` while it does not exist.
    pub async fn counts(&self, queue: &str) -> Option<(u32, u32)> {
        // A passive declare of a missing queue closes its channel: one channel per look.
        let channel = self.connection.create_channel().await.expect("a channel");
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let q = channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .ok()?;
        let _ = channel.close(200, "OK".into()).await;
        Some((q.message_count(), q.consumer_count()))
    }

    /// Waits until `queue`'s counts satisfy `done`.
    pub async fn wait_counts(&self, queue: &str, done: impl Fn(Option<(u32, u32)>) -> bool) {
        let what = format!("the counts of {queue}");
        until(&what, Duration::from_secs(20), async || {
            let counts = self.counts(queue).await;
            if done(counts) { Ok(()) } else { Err(counts) }
        })
        .await;
    }

    /// Takes the next message of `queue` (acked), if any.
    pub async fn get(&self, queue: &str) -> Option<Got> {
        let got = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")?;
        Some(Got {
            body: got.delivery.data,
            properties: got.delivery.properties,
        })
    }

    /// Deletes the queues.
    pub async fn delete(&self, queues: &[&str]) {
        for q in queues {
            self.channel
                .queue_delete((*q).into(), QueueDeleteOptions::default())
                .await
                .expect("queue deleted");
        }
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        let queues = std::mem::take(self.owned.get_mut().expect("lock"));
        if queues.is_empty() {
            return;
        }
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let connection = Connection::connect(&url(), ConnectionProperties::default())
                    .await
                    .ok()?;
                for q in queues {
                    // A channel per queue: deleting a missing one may close its channel.
                    let channel = connection.create_channel().await.ok()?;
                    let _ = channel
                        .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = connection.close(200, "OK".into()).await;
                Some(())
            })
        })
        .join();
        if !matches!(deleted, Ok(Some(()))) {
            eprintln!("could not delete the test queues");
        }
    }
}
