//! A RabbitMQ source (`type: rabbitmq`): consumes one queue with manual acknowledgements and
//! hands each message to the source's [`Intake`]. A message is acked only once the intake has
//! stored it, or recorded it as rejected and RabbitMQ has confirmed its copy in the dead-letter
//! queue. While the store is down, messages go back to the queue after a growing pause, one at a
//! time. A dropped connection is reopened with backoff; RabbitMQ redelivers whatever was left
//! unacked, so a crash loses nothing (a message may be taken twice: see `stable_id`). While the
//! source is paused it holds no connection, so every message waits in the queue.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{
    Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer,
};
use rustyhook_core::crypto::redact_url;
use rustyhook_core::sources::AmqpSource;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::amqp_message::{dead_letter_properties, incoming};
use super::intake::{Intake, Taken};

/// The first wait before reconnecting; doubled on each failure in a row, up to [`MAX_RECONNECT`].
const FIRST_RECONNECT: Duration = Duration::from_secs(1);
/// The longest wait before reconnecting.
const MAX_RECONNECT: Duration = Duration::from_secs(30);
/// The shortest pause before a message the store could not take goes back to the queue.
const FIRST_STORE_PAUSE: Duration = Duration::from_secs(1);
/// The longest such pause: how late, at most, messages flow again after the store is back.
const MAX_STORE_PAUSE: Duration = Duration::from_secs(15);
/// AMQP's reply code for a normal close.
const REPLY_SUCCESS: u16 = 200;

/// Consumes `config.queue` until `token` is cancelled, reconnecting whenever the connection or
/// channel drops. Several nodes consuming the same queue share its messages (competing
/// consumers).
pub async fn run(config: AmqpSource, intake: Intake, token: CancellationToken) {
    let url = redact_url(&config.url);
    let mut backoff = FIRST_RECONNECT;
    loop {
        // Paused: no connection at all, so RabbitMQ holds every message in the queue (none
        // handed to this node unacknowledged), where the source's lag counts them.
        intake.until_resumed(&token).await;
        if token.is_cancelled() {
            return;
        }
        let mut consumed = false;
        match session(&config, &intake, &token, &mut consumed).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Paused) => backoff = FIRST_RECONNECT,
            Err(e) => {
                if consumed {
                    backoff = FIRST_RECONNECT;
                }
                tracing::warn!(
                    source = intake.name(), url = %url, error = %e, retry_in = ?backoff,
                    "RabbitMQ source disconnected; reconnecting"
                );
                intake.reconnecting(&e);
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_RECONNECT);
            }
        }
    }
}

/// How a session ended without a fault.
enum Ended {
    /// The source was told to stop.
    Stopped,
    /// The source was paused: its channel closed, RabbitMQ took back what it had handed over.
    Paused,
}

/// Why a session ended other than by a stop.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ cancelled the consumer (was the queue deleted?)")]
    ConsumerCancelled,
    #[error("could not dead-letter a rejected message: {0}")]
    DeadLetter(String),
}

/// What every message of one session needs.
struct Session {
    intake: Intake,
    channel: Channel,
    dead_letter_queue: ShortString,
    store_down: StoreDown,
    /// Cancelled by a message that could not be dead-lettered: the session restarts, which
    /// declares the dead-letter queue again.
    restart: CancellationToken,
    stop: CancellationToken,
}

/// A connection whose consumer is running.
struct Open {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
}

/// Connects, declares both queues, and starts consuming with manual acks, `prefetch`
/// unacked at most, and publisher confirms on (for dead-lettering).
async fn open(config: &AmqpSource, intake: &Intake) -> Result<Open, Dropped> {
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("rustyhook source {}", intake.name()).into());
    let connection = Connection::connect(&config.url, properties).await?;
    // Queue names fit a short string: `SourceConfig::check` refused longer ones.
    let queue = ShortString::from(config.queue.as_str());
    ensure_queue(&connection, &queue).await?;
    ensure_queue(&connection, &config.dead_letter_queue().into()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            queue,
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Open {
        connection,
        channel,
        consumer,
    })
}

/// One connection: consumes until `token` is cancelled or the source is paused (`Ok`), or the
/// connection fails (`Err`). `consumed` is set once the consumer is running.
async fn session(
    config: &AmqpSource,
    intake: &Intake,
    token: &CancellationToken,
    consumed: &mut bool,
) -> Result<Ended, Dropped> {
    let Open {
        connection,
        channel,
        mut consumer,
    } = tokio::select! {
        () = token.cancelled() => return Ok(Ended::Stopped),
        opened = open(config, intake) => opened?,
    };
    *consumed = true;
    intake.reading();
    tracing::info!(source = intake.name(), queue = %config.queue, "consuming RabbitMQ messages");
    let session = Arc::new(Session {
        intake: intake.clone(),
        channel: channel.clone(),
        dead_letter_queue: config.dead_letter_queue().into(),
        store_down: StoreDown::default(),
        restart: CancellationToken::new(),
        stop: token.clone(),
    });
    let in_flight = TaskTracker::new();
    let ended = loop {
        // Paused: take nothing more, and end the session (see `run`).
        if intake.paused().await {
            break Ok(Ended::Paused);
        }
        let next = tokio::select! {
            biased;
            () = token.cancelled() => break Ok(Ended::Stopped),
            () = session.restart.cancelled() => break Err(Dropped::DeadLetter(
                "see the warning above; reconnecting declares the queue again".into(),
            )),
            next = consumer.next() => next,
            // Look again whether the source was paused while no message came.
            () = tokio::time::sleep(crate::pauses::FRESH) => continue,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => break Err(e.into()),
            None => break Err(Dropped::ConsumerCancelled),
        };
        if intake.paused().await {
            let _ = requeue(&delivery.acker).await;
            break Ok(Ended::Paused);
        }
        if session.store_down.is_down() {
            // One at a time until the store takes a message again.
            take(session.clone(), delivery).await;
        } else {
            in_flight.spawn(take(session.clone(), delivery));
        }
    };
    if ended.is_ok() {
        // Stop the deliveries, let the takes in flight finish, then close: RabbitMQ gives
        // whatever is still unacked (prefetched, never taken) back to the queue.
        let _ = channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await;
    }
    in_flight.close();
    in_flight.wait().await;
    let _ = channel.close(REPLY_SUCCESS, "OK".into()).await;
    let _ = connection.close(REPLY_SUCCESS, "OK".into()).await;
    ended
}

/// Makes sure `queue` exists: used as it is if it does (whatever its arguments: a quorum
/// queue, a TTL), declared durable if not. Each try has a channel of its own, as a failed
/// declare closes its channel.
async fn ensure_queue(connection: &Connection, queue: &ShortString) -> Result<(), lapin::Error> {
    let probe = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let exists = probe
        .queue_declare(queue.clone(), passive, FieldTable::default())
        .await
        .is_ok();
    let _ = probe.close(REPLY_SUCCESS, "OK".into()).await;
    if exists {
        return Ok(());
    }
    let declare = connection.create_channel().await?;
    declare
        .queue_declare(
            queue.clone(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    let _ = declare.close(REPLY_SUCCESS, "OK".into()).await;
    Ok(())
}

/// Takes one delivery and settles it with RabbitMQ.
async fn take(session: Arc<Session>, delivery: Delivery) {
    let Delivery {
        delivery_tag,
        properties,
        data,
        acker,
        ..
    } = delivery;
    let incoming = incoming(delivery_tag, &properties, data);
    let name = session.intake.name();
    let settled = match session.intake.take(&incoming).await {
        Ok(Taken::Stored) => {
            session.store_down.recovered();
            acker.ack(BasicAckOptions::default()).await
        }
        Ok(Taken::Rejected(reason)) => {
            session.store_down.recovered();
            let body = incoming.body.as_deref().unwrap_or_default();
            match dead_letter(&session, &properties, body, &reason).await {
                Ok(()) => acker.ack(BasicAckOptions::default()).await,
                Err(e) => {
                    tracing::warn!(
                        source = name, message = %incoming.id, error = %e,
                        "could not dead-letter a rejected message; it goes back to the queue"
                    );
                    session.restart.cancel();
                    requeue(&acker).await
                }
            }
        }
        Err(unavailable) => {
            let pause = session.store_down.failed(Instant::now());
            tracing::warn!(
                source = name, message = %incoming.id, error = %unavailable, retry_in = ?pause,
                "could not store a RabbitMQ message; it goes back to the queue"
            );
            tokio::select! {
                () = session.stop.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
            requeue(&acker).await
        }
    };
    if let Err(e) = settled {
        // The channel is gone: RabbitMQ delivers the message again on the next one.
        tracing::debug!(source = name, message = %incoming.id, error = %e, "could not settle a message");
    }
}

async fn requeue(acker: &Acker) -> Result<bool, lapin::Error> {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    acker.nack(options).await
}

/// Publishes a copy of a rejected message to the dead-letter queue (default exchange) and
/// waits for RabbitMQ's confirm.
async fn dead_letter(
    session: &Session,
    original: &BasicProperties,
    body: &[u8],
    reason: &str,
) -> Result<(), String> {
    let properties = dead_letter_properties(original, session.intake.name(), reason);
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirm = session
        .channel
        .basic_publish(
            ShortString::from(""),
            session.dead_letter_queue.clone(),
            options,
            body,
            properties,
        )
        .await
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    match confirm {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(format!(
            "RabbitMQ returned it: no queue {:?}",
            session.dead_letter_queue.as_str()
        )),
        Confirmation::Nack(_) => Err("RabbitMQ refused it".into()),
        Confirmation::NotRequested => Err("publisher confirms are off on the channel".into()),
    }
}

/// Since when the store has been failing, if it is: one message it takes ends the outage.
#[derive(Debug, Default)]
struct StoreDown(Mutex<Option<Instant>>);

impl StoreDown {
    /// A message could not be stored at `now`; returns the pause before it goes back to the
    /// queue, which grows with how long the outage has lasted, not with how many messages
    /// failed at once.
    fn failed(&self, now: Instant) -> Duration {
        let mut since = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let began = *since.get_or_insert(now);
        store_pause(now.saturating_duration_since(began))
    }

    fn recovered(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn is_down(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// The pause for a message that could not be stored, `down_for` into an outage: as long as the
/// outage so far, at least [`FIRST_STORE_PAUSE`] and at most [`MAX_STORE_PAUSE`], so the
/// retries thin out as 1 s, 2 s, 4 s … while it lasts.
fn store_pause(down_for: Duration) -> Duration {
    down_for.clamp(FIRST_STORE_PAUSE, MAX_STORE_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_pause_follows_the_outage_not_the_number_of_failures() {
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let down = StoreDown::default();
        assert!(!down.is_down());
        // Ten messages failing together all wait the first pause.
        for _ in 0..10 {
            assert_eq!(down.failed(at(0)), Duration::from_secs(1));
        }
        assert!(down.is_down());
        let pauses: Vec<u64> = [1, 2, 4, 8, 16, 600]
            .into_iter()
            .map(|s| down.failed(at(s)).as_secs())
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 15, 15]);
        down.recovered();
        assert!(!down.is_down());
        assert_eq!(down.failed(at(700)), Duration::from_secs(1));
    }
}
