//! The brokers of the source phase (phase 8): a stream or queue of the benchmark's own on each
//! broker, made before and removed after; publishing messages into it as fast as the broker
//! confirms them; and a bare consumer that reads and acknowledges a backlog the way rustyhook's
//! source for that broker does, storing nothing. The bare consumer's rate is the broker's own
//! limit on this machine for that pattern of reads and acknowledgements, which the rate through
//! rustyhook is read against.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use futures_util::future::try_join_all;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};
use tokio::task::JoinSet;

use crate::report::{EVENT_TYPE, message_body, payload};

/// Publishes waiting for the broker's confirmation are sent this many at a time: enough that
/// the publisher is never what the phase measures, few enough to bound its memory.
const PUBLISH_WINDOW: usize = 1000;
/// The consumer group (Redis) or durable consumer (NATS) of the bare consumer.
const RAW_CONSUMER: &str = "rustyhook-bench-raw";
/// A bare consumer that sees nothing for this long gives up: the backlog is not there.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// Which broker, as `run.sh` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A Redis stream, read through a consumer group.
    Redis,
    /// A RabbitMQ queue, consumed with manual acknowledgements.
    Rabbitmq,
    /// A NATS JetStream stream, read through a durable pull consumer.
    Nats,
}

/// One stream or queue on one broker.
#[derive(Debug, Clone)]
pub struct Broker {
    /// Which broker.
    pub kind: Kind,
    /// Its URL (`redis://…`, `amqp://…`, `nats://…`).
    pub url: String,
    /// The Redis stream, the RabbitMQ queue, or the JetStream stream (whose subjects are
    /// `<name>.>`).
    pub name: String,
}

impl Broker {
    /// Makes the stream or queue, empty: whatever an earlier run left under the name is
    /// removed first.
    pub async fn prepare(&self) -> anyhow::Result<()> {
        self.remove().await?;
        match self.kind {
            Kind::Redis => Ok(()), // XADD and XGROUP CREATE … MKSTREAM make it
            Kind::Rabbitmq => {
                let connection = self.amqp().await?;
                let channel = connection.create_channel().await?;
                channel
                    .queue_declare(
                        self.name.as_str().into(),
                        QueueDeclareOptions::durable(),
                        FieldTable::default(),
                    )
                    .await
                    .with_context(|| format!("declaring the queue {}", self.name))?;
                let _ = connection.close(200, "OK".into()).await;
                Ok(())
            }
            Kind::Nats => {
                self.jetstream()
                    .await?
                    .create_stream(stream::Config {
                        name: self.name.clone(),
                        subjects: vec![format!("{}.>", self.name)],
                        ..Default::default()
                    })
                    .await
                    .with_context(|| format!("creating the JetStream stream {}", self.name))?;
                Ok(())
            }
        }
    }

    /// Removes the stream or queue and rustyhook's dead-letter companion (`<name>.dead`), if
    /// they exist.
    pub async fn remove(&self) -> anyhow::Result<()> {
        let dead = format!("{}.dead", self.name);
        match self.kind {
            Kind::Redis => {
                let _: i64 = self.redis().await?.del(&[&self.name, &dead]).await?;
            }
            Kind::Rabbitmq => {
                let connection = self.amqp().await?;
                for queue in [&self.name, &dead] {
                    // Deleting a queue that does not exist is fine; a channel per queue, as a
                    // failed command closes its channel.
                    let channel = connection.create_channel().await?;
                    let _ = channel
                        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = connection.close(200, "OK".into()).await;
            }
            Kind::Nats => {
                // A missing stream is an error here, and nothing to remove.
                let _ = self.jetstream().await?.delete_stream(&self.name).await;
            }
        }
        Ok(())
    }

    /// Publishes messages `first_seq..first_seq + n` in rustyhook's own format (the app is the
    /// source's), each confirmed by the broker: a Redis `XADD` reply, a RabbitMQ publisher
    /// confirm of a persistent message, a JetStream publish ack. Returns how long it took.
    pub async fn publish(
        &self,
        first_seq: u64,
        n: u64,
        payload_bytes: usize,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let windows = (0..n).step_by(PUBLISH_WINDOW).map(|start| {
            let end = (start + PUBLISH_WINDOW as u64).min(n);
            first_seq + start..first_seq + end
        });
        match self.kind {
            Kind::Redis => {
                let mut conn = self.redis().await?;
                for window in windows {
                    let mut pipe = redis::pipe();
                    for seq in window {
                        pipe.cmd("XADD")
                            .arg(&self.name)
                            .arg("*")
                            .arg("eventType")
                            .arg(EVENT_TYPE)
                            .arg("payload")
                            .arg(payload(seq, payload_bytes))
                            .ignore();
                    }
                    let () = pipe.query_async(&mut conn).await.context("XADD")?;
                }
            }
            Kind::Rabbitmq => {
                let connection = self.amqp().await?;
                let channel = connection.create_channel().await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                let properties = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into());
                for window in windows {
                    let mut confirms = Vec::with_capacity(PUBLISH_WINDOW);
                    for seq in window {
                        let body = message_body(seq, payload_bytes);
                        confirms.push(
                            channel
                                .basic_publish(
                                    "".into(),
                                    self.name.as_str().into(),
                                    BasicPublishOptions::default(),
                                    &body,
                                    properties.clone(),
                                )
                                .await
                                .context("basic.publish")?,
                        );
                    }
                    for confirm in try_join_all(confirms).await? {
                        if !confirm.is_ack() {
                            bail!("RabbitMQ refused a message to {}", self.name);
                        }
                    }
                }
                let _ = connection.close(200, "OK".into()).await;
            }
            Kind::Nats => {
                let js = self.jetstream().await?;
                let subject = format!("{}.{EVENT_TYPE}", self.name);
                for window in windows {
                    let mut acks = Vec::with_capacity(PUBLISH_WINDOW);
                    for seq in window {
                        let body = message_body(seq, payload_bytes);
                        acks.push(js.publish(subject.clone(), body).await?);
                    }
                    try_join_all(acks.into_iter().map(IntoFuture::into_future)).await?;
                }
            }
        }
        Ok(started.elapsed())
    }

    /// Reads `n` messages of the backlog and acknowledges each, as rustyhook's source for this
    /// broker does but storing nothing: Redis `XREADGROUP` of `batch` entries and one `XACK`
    /// per batch; RabbitMQ `basic.qos(batch)` and a `basic.ack` per message; JetStream pulls
    /// of `batch`, a `+ACK` per message and a flush per batch. Returns the time from the first
    /// read to the last acknowledgement sent.
    pub async fn drain(&self, n: u64, batch: usize) -> anyhow::Result<Duration> {
        match self.kind {
            Kind::Redis => self.drain_redis(n, batch).await,
            Kind::Rabbitmq => self.drain_amqp(n, batch).await,
            Kind::Nats => self.drain_nats(n, batch).await,
        }
    }

    async fn drain_redis(&self, n: u64, batch: usize) -> anyhow::Result<Duration> {
        let mut conn = self.redis().await?;
        let () = conn
            .xgroup_create_mkstream(&self.name, RAW_CONSUMER, "0")
            .await
            .context("XGROUP CREATE")?;
        let opts = StreamReadOptions::default()
            .group(RAW_CONSUMER, "bench")
            .count(batch)
            .block(1000);
        let (mut taken, mut idle_since) = (0u64, Instant::now());
        let started = Instant::now();
        while taken < n {
            let reply: Option<StreamReadReply> = conn
                .xread_options(&[&self.name], &[">"], &opts)
                .await
                .context("XREADGROUP")?;
            let ids: Vec<String> = reply
                .map(|r| {
                    r.keys
                        .into_iter()
                        .flat_map(|k| k.ids)
                        .map(|e| e.id)
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                check_idle(idle_since, taken, n)?;
                continue;
            }
            idle_since = Instant::now();
            let _: i64 = conn.xack(&self.name, RAW_CONSUMER, &ids).await?;
            taken += ids.len() as u64;
        }
        Ok(started.elapsed())
    }

    async fn drain_amqp(&self, n: u64, prefetch: usize) -> anyhow::Result<Duration> {
        let connection = self.amqp().await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(prefetch.try_into()?, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                self.name.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // rustyhook takes each message in a task of its own, which acks it: so do the acks here.
        let mut acks = JoinSet::new();
        let mut taken = 0u64;
        let started = Instant::now();
        while taken < n {
            let delivery = tokio::time::timeout(IDLE_LIMIT, consumer.next())
                .await
                .map_err(|_| anyhow::anyhow!("no message for {IDLE_LIMIT:?} after {taken} of {n}"))?
                .context("the consumer was cancelled")??;
            acks.spawn(async move { delivery.acker.ack(BasicAckOptions::default()).await });
            taken += 1;
        }
        while let Some(acked) = acks.join_next().await {
            acked??;
        }
        let elapsed = started.elapsed();
        let _ = connection.close(200, "OK".into()).await;
        Ok(elapsed)
    }

    async fn drain_nats(&self, n: u64, batch: usize) -> anyhow::Result<Duration> {
        let client = async_nats::connect(&self.url).await?;
        let js = jetstream::new(client.clone());
        let consumer: consumer::PullConsumer = js
            .get_stream(&self.name)
            .await?
            .create_consumer(consumer::pull::Config {
                durable_name: Some(RAW_CONSUMER.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await?;
        let (mut taken, mut idle_since) = (0u64, Instant::now());
        let started = Instant::now();
        while taken < n {
            let mut messages = consumer
                .batch()
                .max_messages(batch)
                .expires(Duration::from_secs(1))
                .messages()
                .await?;
            let before = taken;
            while let Some(msg) = messages.next().await {
                msg.map_err(|e| anyhow::anyhow!("pulling: {e}"))?
                    .ack()
                    .await
                    .map_err(|e| anyhow::anyhow!("acknowledging: {e}"))?;
                taken += 1;
            }
            client.flush().await?;
            if taken == before {
                check_idle(idle_since, taken, n)?;
            } else {
                idle_since = Instant::now();
            }
        }
        Ok(started.elapsed())
    }

    async fn redis(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url.as_str())?
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {}", self.url))
    }

    async fn amqp(&self) -> anyhow::Result<Connection> {
        Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .with_context(|| format!("connecting to RabbitMQ at {}", self.url))
    }

    async fn jetstream(&self) -> anyhow::Result<jetstream::Context> {
        let client = async_nats::connect(&self.url)
            .await
            .with_context(|| format!("connecting to NATS at {}", self.url))?;
        Ok(jetstream::new(client))
    }
}

/// Fails when a bare consumer has waited [`IDLE_LIMIT`] for messages that never came.
fn check_idle(idle_since: Instant, taken: u64, n: u64) -> anyhow::Result<()> {
    if idle_since.elapsed() > IDLE_LIMIT {
        bail!("no message for {IDLE_LIMIT:?} after {taken} of {n}");
    }
    Ok(())
}
