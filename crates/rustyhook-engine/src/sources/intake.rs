//! What a broker source does with one message: read it in the source's format, store what it
//! carries (a message for an app, or a run of a handler), and keep what can never be stored as
//! a rejected message. The broker acknowledges only after this returns `Ok`: the message is then
//! either durably stored or durably recorded as rejected.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::id::RejectedId;
use rustyhook_core::run::{Event, RunKey};
use rustyhook_core::sources::{BrokerEvent, Format, SourceConfig};
use rustyhook_core::time::now_millis;
use rustyhook_store::{RejectedMessage, SourceTaken};
use sha2::{Digest, Sha256};

use super::status::{Activity, SourceStates};
use crate::automation::{Automation, TriggerError};
use crate::ingest::{Ingest, Publication, PublishError, Published};
use crate::observe;

/// The most of a rejected message's body kept for the operator.
const KEPT_BODY: usize = 4096;

/// One message as a broker delivered it.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// The broker's id for it (stream entry id, sequence, delivery tag), for logs and records.
    pub id: String,
    /// An id stable across redeliveries of the same message (a stream entry id, a JetStream
    /// sequence, an AMQP `message_id`), used as the idempotency key when the message carries
    /// no `eventId`, and as the key of a handler's run ([`RunKey::source_message`]); `None`
    /// where the broker has none.
    pub stable_id: Option<String>,
    /// The body, for brokers with one (AMQP, NATS); `None` for a Redis entry of fields.
    pub body: Option<Vec<u8>>,
    /// Named fields: a Redis entry's, or a message's headers.
    pub fields: BTreeMap<String, String>,
}

/// What became of a message; either way the broker may acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Stored: a message or a run exists for it, made now or for an earlier delivery of the
    /// same message (recognised by its idempotency key).
    Stored,
    /// It can never be stored; it is recorded as rejected, with the reason.
    Rejected(String),
}

/// The store could not be reached: leave the message unacknowledged and try again.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Takes the messages of one source.
#[derive(Clone)]
pub struct Intake {
    name: Arc<str>,
    config: Arc<SourceConfig>,
    automation: Automation,
    /// Where the reader says what it is doing.
    states: SourceStates,
}

impl Intake {
    /// An intake for `config`, storing through `automation` (its store, and its [`Ingest`] for
    /// messages); its reader's activity is kept in `states`.
    pub fn new(config: SourceConfig, automation: Automation, states: SourceStates) -> Self {
        let name: Arc<str> = config.name().into();
        states.set_activity(&name, Activity::Starting, None);
        Self {
            name,
            config: Arc::new(config),
            automation,
            states,
        }
    }

    /// Says the reader is connected and reading.
    pub fn reading(&self) {
        self.states
            .set_activity(&self.name, Activity::Reading, None);
    }

    /// Says the reader lost its broker (or could not reach it) for `error`, and will try again.
    pub fn reconnecting(&self, error: &dyn std::fmt::Display) {
        self.states
            .set_activity(&self.name, Activity::Reconnecting, Some(error.to_string()));
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns once this source is not paused (at once when it is not), or on `token`: a
    /// reader calls it before each read, so a paused source takes nothing from its broker and
    /// the broker keeps every message, unacknowledged, until the resume.
    pub async fn until_resumed(&self, token: &tokio_util::sync::CancellationToken) {
        if !self.paused().await {
            return;
        }
        self.states.set_activity(&self.name, Activity::Paused, None);
        self.automation
            .pauses()
            .until_source_resumed(&self.name, token)
            .await;
        if !token.is_cancelled() {
            self.reading();
        }
    }

    /// Whether this source is paused now.
    pub async fn paused(&self) -> bool {
        self.automation.pauses().holds_source(&self.name).await
    }

    /// Where messages are created.
    pub fn ingest(&self) -> &Ingest {
        self.automation.ingest()
    }

    /// The source's configuration.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// Stores what `msg` carries, or records it as rejected. Returns once that is durable.
    pub async fn take(&self, msg: &Incoming) -> Result<Taken, Unavailable> {
        let outcome = match (&self.config.handler, self.config.format) {
            (Some(handler), _) => self.run_handler(handler, msg).await,
            (None, Format::Native) => self.publish(msg).await,
            (None, Format::Sendhooks) => Err(Refused::Invalid(
                "sendhooks entries are taken by the Redis source".into(),
            )),
        };
        match outcome {
            Ok(kept) => {
                self.count_kept(msg, kept).await;
                Ok(Taken::Stored)
            }
            Err(Refused::Invalid(reason)) => {
                self.reject(msg, &reason).await?;
                Ok(Taken::Rejected(reason))
            }
            Err(Refused::Unavailable(why)) => Err(Unavailable(why)),
        }
    }

    /// Counts `msg` as stored, or as a duplicate of one stored before: in the metrics, and in
    /// the source's stats over time. The stats are written after what was stored (a message or
    /// run carries no source), so a crash between the two can leave one uncounted; a failure to
    /// count is logged, never a reason to take the message again.
    pub(super) async fn count_kept(&self, msg: &Incoming, kept: Kept) {
        let taken = match kept {
            Kept::New => {
                observe::source_message(&self.name, "stored");
                SourceTaken::Stored
            }
            Kept::Again => {
                tracing::debug!(source = %self.name, broker_id = %msg.id, "a message delivered again; what it carries is already stored");
                observe::source_message(&self.name, "duplicate");
                SourceTaken::Duplicate
            }
        };
        let counted = self
            .automation
            .store()
            .count_source(&self.name, taken, now_millis())
            .await;
        if let Err(e) = counted {
            tracing::warn!(source = %self.name, error = %e, "could not count a broker message in the stats");
        }
    }

    /// Records `msg` as rejected for `reason`.
    pub async fn reject(&self, msg: &Incoming, reason: &str) -> Result<(), Unavailable> {
        let now = now_millis();
        let body = match &msg.body {
            Some(b) => String::from_utf8_lossy(&b[..b.len().min(KEPT_BODY)]).into_owned(),
            None => serde_json::to_string(&msg.fields).unwrap_or_default(),
        };
        let body = truncate(body, KEPT_BODY);
        self.automation
            .store()
            .record_rejected(RejectedMessage {
                id: RejectedId::generate(now).to_string(),
                source: self.name.to_string(),
                broker_id: msg.id.clone(),
                reason: reason.to_owned(),
                body,
                created_at: now,
            })
            .await
            .map_err(|e| Unavailable(format!("could not record a rejected message: {e}")))?;
        tracing::warn!(source = %self.name, broker_id = %msg.id, reason, "rejected a broker message");
        observe::source_message(&self.name, "rejected");
        Ok(())
    }

    /// Publishes `msg`. A repeated `eventId` stores nothing new: [`Kept::Again`].
    async fn publish(&self, msg: &Incoming) -> Result<Kept, Refused> {
        let event =
            BrokerEvent::parse(msg.body.as_deref(), &msg.fields, self.config.app.as_deref())
                .map_err(Refused::Invalid)?;
        let event_id = match (&event.event_id, &msg.stable_id) {
            (Some(id), _) => id.clone(),
            (None, Some(stable)) => derived_event_id(&self.name, stable),
            (None, None) => derived_event_id(
                &self.name,
                &rustyhook_core::id::MessageId::generate(now_millis()).to_string(),
            ),
        };
        self.ingest()
            .publish(Publication {
                app: &event.app,
                event_type: &event.event_type,
                channels: &event.channels,
                payload: &event.payload,
                event_id: &event_id,
                endpoint: None,
            })
            .await
            .map(|p| Kept::of(&p))
            .map_err(|e| match e {
                PublishError::Invalid(why) => Refused::Invalid(why),
                PublishError::Unavailable(why) => Refused::Unavailable(why),
            })
    }

    /// Queues a run of `handler` for `msg`, once per broker message when the broker gives it a
    /// stable id; a message without one queues a run each time it is delivered.
    async fn run_handler(&self, handler: &str, msg: &Incoming) -> Result<Kept, Refused> {
        let payload = match &msg.body {
            Some(b) => String::from_utf8(b.clone())
                .map_err(|_| Refused::Invalid("the message body is not UTF-8 text".into()))?,
            None => serde_json::to_string(&msg.fields).unwrap_or_default(),
        };
        let mut event = Event {
            id: format!("{}:{}", self.name, msg.id),
            event_type: broker_kind(&self.config).into(),
            payload,
            ..Event::default()
        };
        event
            .vars
            .insert("RUSTYHOOK_SOURCE".into(), self.name.to_string());
        event.vars.insert("MESSAGE_ID".into(), msg.id.clone());
        let queued = match &msg.stable_id {
            Some(stable) => {
                let key = RunKey::source_message(&self.name, stable);
                self.automation
                    .trigger_once(handler, event, "source", &key)
                    .await
            }
            None => self
                .automation
                .trigger(handler, event, "source")
                .await
                .map(Some),
        };
        match queued {
            Ok(Some(_)) => Ok(Kept::New),
            Ok(None) => Ok(Kept::Again),
            Err(TriggerError::UnknownHandler(h)) => {
                Err(Refused::Invalid(format!("no handler has the id {h:?}")))
            }
            Err(e) => Err(Refused::Unavailable(e.to_string())),
        }
    }
}

/// What storing a message did.
pub(super) enum Kept {
    /// Stored it now.
    New,
    /// Found it stored for an earlier delivery of the same message.
    Again,
}

impl Kept {
    /// What publishing did.
    pub(super) fn of(published: &Published) -> Self {
        if published.existing {
            Self::Again
        } else {
            Self::New
        }
    }
}

enum Refused {
    Invalid(String),
    Unavailable(String),
}

fn broker_kind(config: &SourceConfig) -> &'static str {
    match config.broker {
        rustyhook_core::sources::Broker::Redis(_) => "redis",
        rustyhook_core::sources::Broker::Rabbitmq(_) => "rabbitmq",
        rustyhook_core::sources::Broker::Nats(_) => "nats",
    }
}

/// An `eventId` for a message that carries none, made from the source's name and the broker's
/// stable id so that two different messages never get the same one (the second would be taken
/// for a redelivery of the first and dropped).
///
/// The readable form `<source>.<stable>` is used when both are made of the characters an event
/// id allows, the source's name has no `.` (so the first `.` splits the two) and it fits;
/// otherwise the id is a readable prefix and a [`digest`] of both, with no `.` in it, so it
/// cannot equal a readable one.
fn derived_event_id(source: &str, stable: &str) -> String {
    const MAX: usize = 256;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let readable = !source.is_empty()
        && !stable.is_empty()
        && source.chars().all(|c| allowed(c) && c != '.')
        && stable.chars().all(allowed)
        && source.len() + 1 + stable.len() <= MAX;
    if readable {
        return format!("{source}.{stable}");
    }
    let prefix: String = source
        .chars()
        .map(|c| if allowed(c) && c != '.' { c } else { '_' })
        .collect();
    format!("{}_{}", truncate(prefix, 100), digest(&[source, stable]))
}

/// A short hex digest of `parts`, for ids and uids made from text they cannot hold as it is.
pub(super) fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {

    use rustyhook_core::crypto::SecretBox;
    use rustyhook_core::handlers::{Handler, HandlerSet};
    use rustyhook_store::sqlite::{SqliteOptions, SqliteStore};
    use rustyhook_store::{Order, Page, Store};
    use serde_json::json;

    use super::*;
    use crate::automation::{Executor, ExecutorConfig};
    use crate::config::EngineConfig;
    use crate::dispatcher::Dispatcher;

    /// An automation over a fresh SQLite store with one handler, `ingest`, that only stores
    /// runs (it runs no commands), and a Redis source named `name` that runs it.
    fn handler_source(dir: &std::path::Path, name: &str) -> (Intake, Automation) {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(
                &dir.join("db.sqlite"),
                SecretBox::new(&SecretBox::generate_key()),
                SqliteOptions { full_sync: false },
            )
            .expect("store opens"),
        );
        let handler: Handler = serde_json::from_value(
            json!({"type": "Custom", "id": "ingest", "name": "Ingest", "shell": "true"}),
        )
        .expect("handler");
        let (handlers, _) = HandlerSet::build(vec![handler]).expect("handlers");
        let executor = Executor::new(
            store.clone(),
            handlers,
            ExecutorConfig {
                base_env: Default::default(),
                max_output_bytes: 1024,
                max_payload_bytes: 1 << 20,
                ledger: None,
            },
        );
        let mut engine = EngineConfig::from_settings(
            &rustyhook_core::settings::Settings::default(),
            "node-1".into(),
        );
        // Nothing is sent: deliveries and runs stay in the store, unleased.
        engine.dispatches = false;
        let (dispatcher, _runner) =
            Dispatcher::new(store.clone(), engine, executor).expect("dispatcher");
        let ingest = Ingest::new(store, dispatcher.clone(), 1 << 20);
        let automation = Automation::new(dispatcher, ingest, Default::default());
        (source(name, &automation), automation)
    }

    fn source(name: &str, automation: &Automation) -> Intake {
        let config = serde_json::from_value(json!({
            "type": "redis", "name": name, "url": "redis://127.0.0.1", "stream": "jobs",
            "handler": "ingest",
        }))
        .expect("source");
        Intake::new(config, automation.clone(), SourceStates::default())
    }

    async fn runs(automation: &Automation) -> Vec<String> {
        let listed = automation
            .store()
            .list_runs(
                Some("ingest".into()),
                None,
                Page::first(10, Order::Ascending),
            )
            .await
            .expect("runs");
        listed.items.into_iter().map(|r| r.event.id).collect()
    }

    fn entry(id: &str, stable: bool) -> Incoming {
        Incoming {
            id: id.into(),
            stable_id: stable.then(|| id.to_owned()),
            fields: BTreeMap::from([("job".into(), "resize".into())]),
            ..Incoming::default()
        }
    }

    #[tokio::test]
    async fn a_message_taken_twice_queues_one_run_of_its_handler() {
        let dir = tempfile::tempdir().expect("dir");
        let (intake, automation) = handler_source(dir.path(), "jobs");
        let msg = entry("1700000000000-0", true);
        assert_eq!(intake.take(&msg).await.expect("taken"), Taken::Stored);
        assert_eq!(
            intake.take(&msg).await.expect("taken"),
            Taken::Stored,
            "a redelivery is acknowledged like the first delivery"
        );
        assert_eq!(runs(&automation).await, ["jobs:1700000000000-0"]);
    }

    #[tokio::test]
    async fn the_same_broker_id_in_another_source_is_another_message() {
        let dir = tempfile::tempdir().expect("dir");
        let (jobs, automation) = handler_source(dir.path(), "jobs");
        let other = source("jobs-eu", &automation);
        let msg = entry("1700000000000-0", true);
        jobs.take(&msg).await.expect("taken");
        other.take(&msg).await.expect("taken");
        assert_eq!(
            runs(&automation).await,
            ["jobs:1700000000000-0", "jobs-eu:1700000000000-0"]
        );
    }

    #[tokio::test]
    async fn a_message_without_a_stable_id_queues_a_run_each_time_it_is_taken() {
        let dir = tempfile::tempdir().expect("dir");
        let (intake, automation) = handler_source(dir.path(), "jobs");
        let msg = entry("7", false);
        intake.take(&msg).await.expect("taken");
        intake.take(&msg).await.expect("taken");
        assert_eq!(runs(&automation).await, ["jobs:7", "jobs:7"]);
    }

    #[tokio::test]
    async fn a_native_message_delivered_again_is_kept_once_and_counted_as_a_duplicate() {
        let dir = tempfile::tempdir().expect("dir");
        let (_, automation) = handler_source(dir.path(), "jobs");
        let now = now_millis();
        automation
            .store()
            .create_app(rustyhook_core::model::App {
                id: rustyhook_core::id::AppId::generate(now),
                uid: Some(rustyhook_core::names::Uid::parse("acme").expect("uid")),
                name: "Acme".into(),
                rate_limit: None,
                metadata: BTreeMap::new(),
                header_style: None,
                logo_url: None,
                created_at: now,
                updated_at: now,
            })
            .await
            .expect("app");
        let config = serde_json::from_value(json!({
            "type": "redis", "name": "orders", "url": "redis://127.0.0.1", "stream": "orders",
            "app": "acme",
        }))
        .expect("source");
        let intake = Intake::new(config, automation.clone(), SourceStates::default());
        let mut msg = entry("1700000000000-0", true);
        msg.fields = BTreeMap::from([
            ("eventType".into(), "order.paid".into()),
            ("payload".into(), r#"{"n":1}"#.into()),
        ]);
        assert!(matches!(intake.publish(&msg).await, Ok(Kept::New)));
        assert!(
            matches!(intake.publish(&msg).await, Ok(Kept::Again)),
            "the second delivery is reported as a duplicate, not as stored"
        );
        assert_eq!(intake.take(&msg).await.expect("taken"), Taken::Stored);
        let app = automation
            .store()
            .get_app("acme")
            .await
            .expect("read")
            .expect("app");
        let stored = automation
            .store()
            .list_messages(
                &app.id,
                Default::default(),
                Page::first(10, Order::Ascending),
            )
            .await
            .expect("messages");
        let ids: Vec<_> = stored
            .items
            .into_iter()
            .map(|m| m.event_id.map(String::from))
            .collect();
        assert_eq!(ids, [Some("orders.1700000000000-0".to_owned())]);
    }

    #[test]
    fn a_derived_event_id_is_readable_when_it_can_be_and_always_a_valid_uid() {
        assert_eq!(
            derived_event_id("redis-orders", "1700000000000-0"),
            "redis-orders.1700000000000-0"
        );
        for (source, stable) in [
            ("a b", "x:y/z"),
            ("s", &"9".repeat(400)),
            ("rabbitmq-in.q", "id"),
            ("", ""),
        ] {
            let id = derived_event_id(source, stable);
            assert!(
                rustyhook_core::names::Uid::parse(id.clone()).is_ok(),
                "{id}"
            );
            assert!(id.len() <= 256, "{id}");
        }
    }

    #[test]
    fn different_messages_never_share_a_derived_event_id() {
        let long = "7".repeat(300);
        let longer = format!("{long}8");
        let pairs = [
            // A `.` in the source's name, and one in the stable id.
            (("q.a", "b"), ("q", "a.b")),
            // Characters an event id does not allow, which the readable form would replace.
            (("q", "order:1"), ("q", "order/1")),
            (("q", "order:1"), ("q", "order_1")),
            // Long ids that share their first 256 characters.
            (("q", long.as_str()), ("q", longer.as_str())),
            // Two that both need hashing.
            (("q", "x:y"), ("q", "")),
        ];
        for ((s1, i1), (s2, i2)) in pairs {
            assert_ne!(
                derived_event_id(s1, i1),
                derived_event_id(s2, i2),
                "{s1:?}+{i1:?} vs {s2:?}+{i2:?}"
            );
        }
        // A hashed id has no `.`, so no readable one equals it, even one made from its text.
        let hashed = derived_event_id("q", "x:y");
        assert!(!hashed.contains('.'), "{hashed}");
        let suffix = hashed.strip_prefix("q_").expect("prefixed by the source");
        assert_ne!(derived_event_id("q", suffix), hashed);
        assert_eq!(
            derived_event_id("q", "x:y"),
            hashed,
            "the same message, the same id"
        );
    }
}
