//! A NATS JetStream source (`type: nats`): reads a stream through a durable pull consumer and
//! answers each message only once its [`Intake`] made the outcome durable:
//!
//! - stored: `+ACK`; the end of each batch waits until the server has received its answers
//!   (one round trip per batch: confirming each `+ACK` on its own cost a third of the rate);
//! - rejected (it can never be stored, and is recorded as rejected): `+TERM`, so JetStream stops
//!   delivering it; the rejected record is its dead letter;
//! - the store is unavailable: `-NAK` with a delay, and the reader pauses as long.
//!
//! Whatever is left unanswered (a crash, a lost connection, a stop mid-batch) JetStream delivers
//! again after the consumer's `ack_wait`, to this node or to another pulling from the same
//! durable consumer: at least once. A message delivered again keeps its stream sequence, which
//! keys the idempotency of messages without an `eventId` and of a handler's runs, so it is stored
//! once.
//!
//! The stream must exist: its subjects, retention and storage are the operator's choice, never
//! guessed. The consumer is created when missing (`connection`). The client reconnects by
//! itself; the reader then pulls again at once, since the server forgot the pull in progress.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{PullConsumer, pull};
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rustyhook_core::sources::NatsSource;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::intake::{Incoming, Intake, Taken, Unavailable};
use connection::{bind, connect};

mod connection;

/// The longest one pull waits for messages; the server answers as soon as it has some.
const PULL_WAIT: Duration = Duration::from_secs(5);
/// The wait after a first failure (connecting, or the store), doubled after each that follows.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Messages already sent to a reader that stops are handed back until none came for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(50);
/// The server confirms a batch's acknowledgements within this, or the connection is dropped.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads `config`'s stream into `intake` until `token` is cancelled, reconnecting after failures.
/// A take in progress when `token` fires finishes and is acknowledged first.
pub async fn run(config: NatsSource, intake: Intake, token: CancellationToken) {
    let mut backoff = Backoff::default();
    loop {
        let fault = match session(&config, &intake, &token, &mut backoff).await {
            Ok(()) => return,
            Err(fault) => fault,
        };
        intake.reconnecting(&fault);
        let wait = backoff.next_wait();
        let source = intake.name();
        match &fault {
            Fault::NoStream(_) | Fault::NotExplicit(_) => {
                tracing::error!(source, error = %fault, retry_in = ?wait, "the NATS source cannot read");
            }
            _ => {
                tracing::warn!(source, error = %fault, retry_in = ?wait, "the NATS source stopped; reconnecting")
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Why a session with the server ended before the source was told to stop.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("could not connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error(
        "the JetStream stream {0:?} does not exist: create it (rustyhook does not guess a \
         stream's subjects, retention or storage)"
    )]
    NoStream(String),
    #[error("could not look up the stream: {0}")]
    Stream(#[source] jetstream::context::GetStreamError),
    #[error("could not get or create the consumer {name:?}: {source}")]
    Consumer {
        name: String,
        #[source]
        source: jetstream::stream::ConsumerError,
    },
    #[error(
        "the consumer {0:?} exists without `ack_policy: explicit`, so messages would count as \
         handled before they are stored: delete it (rustyhook recreates it) or name another"
    )]
    NotExplicit(String),
    #[error("pulling messages failed: {0}")]
    Pull(String),
    #[error("the server did not confirm the acknowledgements of a batch: {0}")]
    Confirm(String),
}

/// A connection to `config`'s servers for `source`, apart from its reader's: for measuring its
/// lag.
pub(super) async fn connect_for(
    config: &NatsSource,
    source: &str,
) -> Result<async_nats::Client, String> {
    connect(config, source, Arc::new(Notify::new()))
        .await
        .map_err(|e| e.to_string())
}

/// Connects, binds the consumer and reads until stopped (`Ok`) or until something fails.
async fn session(
    config: &NatsSource,
    intake: &Intake,
    token: &CancellationToken,
    backoff: &mut Backoff,
) -> Result<(), Fault> {
    let reconnected = Arc::new(Notify::new());
    let bound = async {
        let client = connect(config, intake.name(), reconnected.clone()).await?;
        let js = jetstream::new(client.clone());
        let (consumer, created) = bind(&js, config, intake.name()).await?;
        Ok::<_, Fault>((client, consumer, created))
    };
    let (client, consumer, created) = tokio::select! {
        () = token.cancelled() => return Ok(()),
        bound = bound => bound?,
    };
    backoff.reset();
    intake.reading();
    tracing::info!(source = intake.name(), stream = %config.stream, consumer = %config.consumer, "reading the JetStream stream");
    let reader = Reader {
        intake,
        client: client.clone(),
        consumer,
        stream: &config.stream,
        created,
        batch: config.batch,
        pause: Backoff::default(),
        reconnected,
    };
    let read = reader.read(token).await;
    // Acknowledgements are queued on the connection: let them reach the server before it closes.
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await;
    read
}

/// Reads from one bound consumer.
struct Reader<'a> {
    intake: &'a Intake,
    /// The connection, flushed after each batch.
    client: async_nats::Client,
    consumer: PullConsumer,
    stream: &'a str,
    /// The stream's creation time, in milliseconds: part of each message's stable id.
    created: i128,
    batch: usize,
    /// The pause after the store was found unavailable; reset by a message stored.
    pause: Backoff,
    /// Fires when the client got its connection back: the server forgot the pull in progress.
    reconnected: Arc<Notify>,
}

impl Reader<'_> {
    /// Pulls batches until `token` is cancelled (`Ok`) or a pull fails.
    async fn read(mut self, token: &CancellationToken) -> Result<(), Fault> {
        loop {
            // Paused: pull nothing; the stream keeps the messages until the resume.
            self.intake.until_resumed(token).await;
            if token.is_cancelled() {
                return Ok(());
            }
            let pull = self
                .consumer
                .batch()
                .max_messages(self.batch)
                .expires(PULL_WAIT)
                .messages();
            let batch = tokio::select! {
                () = token.cancelled() => return Ok(()),
                batch = pull => batch.map_err(|e| Fault::Pull(e.to_string()))?,
            };
            match self.take_batch(batch, token).await? {
                Next::Pull => {}
                Next::Stop => return Ok(()),
                Next::PauseThenPull(pause) => tokio::select! {
                    () = token.cancelled() => return Ok(()),
                    () = tokio::time::sleep(pause) => {}
                },
            }
        }
    }

    /// Takes the messages of one pull as they arrive, each as soon as it comes rather than
    /// after the one before: their commits then share the store's group commits, where one
    /// after another each would wait for a commit of its own. Their order is not kept (as for
    /// messages posted to the API); `batch: 1` takes them in stream order. Every message taken
    /// is answered before this returns, whatever stops the batch.
    async fn take_batch(
        &mut self,
        mut batch: pull::Batch,
        token: &CancellationToken,
    ) -> Result<Next, Fault> {
        let (intake, stream, created) = (self.intake, self.stream, self.created);
        let mut taking = FuturesUnordered::new();
        let mut down = None;
        let mut pulled_all = false;
        let next = loop {
            if pulled_all && taking.is_empty() {
                self.confirm().await?;
                break Next::Pull;
            }
            tokio::select! {
                biased;
                () = token.cancelled() => {
                    hand_back(&mut batch, None).await;
                    break Next::Stop;
                }
                // Rather than wait for the lost pull to time out: what it delivered and was
                // not answered comes back after `ack_wait`.
                () = self.reconnected.notified() => break Next::Pull,
                Some(taken) = taking.next() => match self.answer_taken(taken, &mut down).await {
                    Answered::Done => {}
                    // Paused during the pull: take nothing more, hand the rest back.
                    Answered::Paused => {
                        if !pulled_all {
                            hand_back(&mut batch, None).await;
                            pulled_all = true;
                        }
                    }
                    Answered::StoreDown(pause) => {
                        hand_back(&mut batch, Some(pause)).await;
                        break Next::PauseThenPull(pause);
                    }
                },
                next = batch.next(), if !pulled_all => match next {
                    None => pulled_all = true,
                    Some(Ok(msg)) => taking.push(take(intake, stream, created, msg)),
                    Some(Err(e)) => {
                        self.settle(&mut taking, &mut down).await;
                        return Err(Fault::Pull(e.to_string()));
                    }
                },
            }
        };
        self.settle(&mut taking, &mut down).await;
        Ok(next)
    }

    /// Lets the takes still running finish, and answers them.
    async fn settle<F>(&mut self, taking: &mut FuturesUnordered<F>, down: &mut Option<Duration>)
    where
        F: Future<Output = TakenMessage>,
    {
        while let Some(taken) = taking.next().await {
            self.answer_taken(taken, down).await;
        }
    }

    /// Waits until the server has received every answer sent so far (one round trip per batch
    /// rather than one per message).
    async fn confirm(&self) -> Result<(), Fault> {
        match tokio::time::timeout(FLUSH_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Fault::Confirm(e.to_string())),
            Err(_) => Err(Fault::Confirm(format!(
                "no answer within {FLUSH_TIMEOUT:?}"
            ))),
        }
    }

    /// Answers a message taken. `down` holds the pause of this batch's first failure to store,
    /// so that the messages failing with it wait as long and the backoff grows once per batch,
    /// not once per message.
    async fn answer_taken(
        &mut self,
        (msg, id, taken): TakenMessage,
        down: &mut Option<Duration>,
    ) -> Answered {
        let source = self.intake.name();
        match taken {
            Some(Ok(Taken::Stored)) => {
                self.pause.reset();
                answer(&msg, AckKind::Ack, source, &id).await;
                Answered::Done
            }
            Some(Ok(Taken::Rejected(_))) => {
                answer(&msg, AckKind::Term, source, &id).await;
                Answered::Done
            }
            Some(Err(e)) => {
                let pause = *down.get_or_insert_with(|| self.pause.next_wait());
                tracing::warn!(source, broker_id = %id, error = %e, retry_in = ?pause, "could not store a NATS message; it comes back after the pause");
                answer(&msg, AckKind::Nak(Some(pause)), source, &id).await;
                Answered::StoreDown(pause)
            }
            None => {
                answer(&msg, AckKind::Nak(None), source, &id).await;
                Answered::Paused
            }
        }
    }
}

/// What answering a message taken means for the rest of its batch.
enum Answered {
    /// Nothing: carry on.
    Done,
    /// The source was paused: take nothing more from this pull.
    Paused,
    /// The store was unavailable: hand the rest back and pull again after this pause.
    StoreDown(Duration),
}

/// What follows a batch.
enum Next {
    /// Pull the next one.
    Pull,
    /// The store was unavailable: pull again after this pause.
    PauseThenPull(Duration),
    /// The source was told to stop.
    Stop,
}

/// A message, its id for logs, and what the intake made of it (`None`: not taken, the source
/// was paused).
type TakenMessage = (
    jetstream::Message,
    String,
    Option<Result<Taken, Unavailable>>,
);

/// Hands one message to the intake, unless the source was paused since the pull began.
///
/// The pause is looked up here, inside the take, rather than where the batch loop receives
/// the message: the lookup may read the store, and the takes already in flight may hold what
/// that read waits for (the store's reader connections are handed to waiters in turn, whether
/// or not they are being polled). Awaited in the loop, while those takes were not polled, it
/// deadlocked the source, and every reader of the store with it, under a burst.
async fn take(
    intake: &Intake,
    stream: &str,
    created: i128,
    msg: jetstream::Message,
) -> TakenMessage {
    let incoming = incoming(stream, created, &msg);
    let taken = if intake.paused().await {
        None
    } else {
        Some(intake.take(&incoming).await)
    };
    (msg, incoming.id, taken)
}

/// Answers `msg`; the batch's end confirms the answers together. A lost answer only means the
/// message comes back after `ack_wait` (and is stored again under the same idempotency key).
async fn answer(msg: &jetstream::Message, kind: AckKind, source: &str, id: &str) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::warn!(source, broker_id = id, error = %e, "could not answer a NATS message; JetStream delivers it again after ack_wait");
    }
}

/// Hands back what the server already sent in `batch` (`-NAK`, after `delay` if set), so it goes
/// to another reader without waiting for `ack_wait`.
async fn hand_back(batch: &mut pull::Batch, delay: Option<Duration>) {
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(DRAIN_IDLE, batch.next()).await {
        let _ = msg.ack_with(AckKind::Nak(delay)).await;
    }
}

/// The intake's view of a message: the payload as body, the headers as fields, and the stream
/// sequence as its id.
fn incoming(stream: &str, created: i128, msg: &jetstream::Message) -> Incoming {
    let sequence = msg.info().ok().map(|info| info.stream_sequence);
    let fields = msg
        .headers
        .iter()
        .flat_map(|headers| headers.iter())
        .map(|(name, values)| {
            let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
            (name.to_string(), values.join(", "))
        })
        .collect();
    Incoming {
        id: match sequence {
            Some(seq) => format!("{stream}:{seq}"),
            None => format!("{stream}:{}", msg.subject),
        },
        stable_id: sequence.map(|seq| stable_id(created, seq)),
        body: Some(msg.payload.to_vec()),
        fields,
    }
}

/// The id a message keeps across deliveries: its stream sequence, after the stream's creation
/// time, since a stream deleted and created again under the same name counts from 1 again and
/// its messages must not pass for the old ones.
fn stable_id(created_millis: i128, sequence: u64) -> String {
    format!("{created_millis}-{sequence}")
}

/// Waits that double after each failure, from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`].
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: FIRST_BACKOFF,
        }
    }
}

impl Backoff {
    /// The wait after one more failure.
    fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        wait
    }

    /// Back to the first wait, after a success.
    fn reset(&mut self) {
        self.next = FIRST_BACKOFF;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_one_second_to_thirty_and_a_success_resets_it() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..7).map(|_| b.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_secs(1));
    }

    #[test]
    fn a_recreated_stream_s_sequences_get_other_stable_ids() {
        assert_eq!(stable_id(1_700_000_000_123, 42), "1700000000123-42");
        assert_ne!(stable_id(1, 7), stable_id(2, 7));
    }
}
