//! Source lag: how many messages wait in a source's broker, not yet stored by rustyhook,
//! measured every [`EVERY`] by each node that reads the source, on a connection of its own (so
//! it goes on while the source is paused, which is when the lag grows, and while its reader is
//! busy). Each measurement sets the `rustyhook_source_lag{source}` gauge, the source's `lag` in
//! `GET /api/v1/source`, and is sampled into the source's stats (`depth`; a bucket keeps its
//! highest sample, so with several nodes the highest of theirs).
//!
//! What "waiting" counts, per broker:
//! - Redis: the group's `lag` (entries not yet delivered to any consumer of the group) plus
//!   its `pending` (delivered, not yet acknowledged: a source acknowledges only once stored).
//!   When Redis cannot tell the lag (entries deleted from the middle of the stream, or a Redis
//!   before 7.0), the entries after the group's last delivered id are counted, up to
//!   [`COUNTED`]; past that the stream's length stands in (an upper bound).
//! - RabbitMQ: the queue's ready messages (a passive declare). Messages handed to a consumer
//!   and not yet acknowledged (at most `prefetch` per consumer) are not in that count.
//! - NATS JetStream: the durable consumer's `num_pending` (not yet delivered) plus
//!   `num_ack_pending` (delivered, not yet acknowledged).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamInfoGroupsReply, StreamRangeReply};
use redis::{AsyncCommands, RedisResult};
use rustyhook_core::sources::{AmqpSource, Broker, NatsSource, RedisSource, SourceConfig};
use rustyhook_core::time::now_millis;
use rustyhook_store::Store;
use tokio_util::sync::CancellationToken;

use super::status::SourceStates;
use crate::observe;

/// How often a source's lag is measured.
pub const EVERY: Duration = Duration::from_secs(5);
/// The most entries read to count a Redis group's lag when Redis does not report it.
const COUNTED: usize = 1000;
/// A measurement taking longer than this failed.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Measures the lag of `config` every [`EVERY`] until `token` is cancelled.
pub async fn watch(
    config: SourceConfig,
    states: SourceStates,
    store: Arc<dyn Store>,
    token: CancellationToken,
) {
    let name = config.name();
    let mut probe = Probe::new(&config.broker);
    let mut failing = false;
    loop {
        match tokio::time::timeout(TIMEOUT, probe.measure(&name)).await {
            Ok(Ok(lag)) => {
                failing = false;
                let now = now_millis();
                states.set_lag(&name, lag, now);
                observe::source_lag(&name, lag);
                if let Err(e) = store.sample_source_lag(&name, lag, now).await {
                    tracing::debug!(source = %name, error = %e, "could not sample the source's lag into the stats");
                }
            }
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e,
                    _ => format!("no answer within {TIMEOUT:?}"),
                };
                // Said once per outage: the reader reports the broker's faults already.
                if !failing {
                    tracing::info!(source = %name, error = %error, "could not measure the source's lag; keeping the last measurement");
                }
                failing = true;
                probe.reset();
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// A broker's connection for measuring, opened on first use and again after a failure.
enum Probe {
    Redis(RedisSource, Option<MultiplexedConnection>),
    Rabbitmq(AmqpSource, Option<(lapin::Connection, lapin::Channel)>),
    Nats(NatsSource, Option<async_nats::Client>),
}

impl Probe {
    fn new(broker: &Broker) -> Self {
        match broker {
            Broker::Redis(r) => Self::Redis(r.clone(), None),
            Broker::Rabbitmq(a) => Self::Rabbitmq(a.clone(), None),
            Broker::Nats(n) => Self::Nats(n.clone(), None),
        }
    }

    /// Drops the connection: the next measurement opens another.
    fn reset(&mut self) {
        match self {
            Self::Redis(_, c) => *c = None,
            Self::Rabbitmq(_, c) => *c = None,
            Self::Nats(_, c) => *c = None,
        }
    }

    async fn measure(&mut self, source: &str) -> Result<u64, String> {
        match self {
            Self::Redis(cfg, conn) => {
                if conn.is_none() {
                    let client = super::redis_stream::client(cfg).map_err(|e| e.to_string())?;
                    *conn = Some(
                        client
                            .get_multiplexed_async_connection()
                            .await
                            .map_err(|e| e.to_string())?,
                    );
                }
                let conn = conn.as_mut().expect("opened above");
                redis_lag(conn, cfg).await.map_err(|e| e.to_string())
            }
            Self::Rabbitmq(cfg, open) => {
                if open.is_none() {
                    let properties = lapin::ConnectionProperties::default()
                        .with_connection_name(format!("rustyhook lag of {source}").into());
                    let connection = lapin::Connection::connect(&cfg.url, properties)
                        .await
                        .map_err(|e| e.to_string())?;
                    let channel = connection
                        .create_channel()
                        .await
                        .map_err(|e| e.to_string())?;
                    *open = Some((connection, channel));
                }
                let (_, channel) = open.as_ref().expect("opened above");
                let passive = lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                };
                // A queue not declared yet (the reader declares it) fails the passive declare,
                // which closes the channel: the next measurement opens another.
                let queue = channel
                    .queue_declare(
                        cfg.queue.as_str().into(),
                        passive,
                        lapin::types::FieldTable::default(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(u64::from(queue.message_count()))
            }
            Self::Nats(cfg, client) => {
                if client.is_none() {
                    *client = Some(super::nats::connect_for(cfg, source).await?);
                }
                let js = async_nats::jetstream::new(client.clone().expect("opened above"));
                let stream = js
                    .get_stream_no_info(&cfg.stream)
                    .await
                    .map_err(|e| e.to_string())?;
                let info = stream
                    .consumer_info(&cfg.consumer)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(info.num_pending + info.num_ack_pending as u64)
            }
        }
    }
}

/// The entries of `cfg`'s stream its group has not acknowledged: its lag and its pending.
async fn redis_lag(conn: &mut MultiplexedConnection, cfg: &RedisSource) -> RedisResult<u64> {
    let groups: StreamInfoGroupsReply = conn.xinfo_groups(&cfg.stream).await?;
    let Some(group) = groups.groups.into_iter().find(|g| g.name == cfg.group) else {
        // The reader has not created the group yet: every entry waits.
        return conn.xlen(&cfg.stream).await;
    };
    let undelivered = match group.lag {
        Some(lag) => lag as u64,
        None => {
            let after = format!("({}", group.last_delivered_id);
            let range: StreamRangeReply =
                conn.xrange_count(&cfg.stream, &after, "+", COUNTED).await?;
            if range.ids.len() < COUNTED {
                range.ids.len() as u64
            } else {
                conn.xlen(&cfg.stream).await?
            }
        }
    };
    Ok(undelivered + group.pending as u64)
}
