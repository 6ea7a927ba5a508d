//! Broker sources (`sources:` in `rustyhook.yaml`): where each reads and what its messages
//! become. Parsed once into these types, so a bad entry fails at start naming its key, and
//! [`BrokerEvent::parse`] turns one message of rustyhook's own format into what the store needs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// One entry of `sources:`. Read by hand (see [`SourceVisitor`]): the keys every source has are
/// taken here and the rest go to the broker's own struct, which refuses keys it does not know.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Names the source in logs, metrics and the API; `<type>-<stream|queue|subject>` unless set.
    pub name: Option<String>,
    /// The broker and where to read.
    pub broker: Broker,
    /// What the messages are, and where they go.
    pub format: Format,
    /// The app messages go to when they name none (`format: native`).
    pub app: Option<String>,
    /// A handler each message runs instead (`format: native` is then not required: the body is
    /// the run's payload).
    pub handler: Option<String>,
}

impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SourceVisitor)
    }
}

/// Reads a `sources:` entry: `type`, `name`, `format`, `app` and `handler` here, everything else
/// into the broker's options.
struct SourceVisitor;

impl<'de> serde::de::Visitor<'de> for SourceVisitor {
    type Value = SourceConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a source: a map with `type` (redis, rabbitmq or nats) and its options")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SourceConfig, A::Error> {
        use serde::de::Error;
        let (mut kind, mut name, mut format, mut app, mut handler) = (None, None, None, None, None);
        let mut rest = serde_norway::Mapping::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value::<String>()?),
                "name" => name = Some(map.next_value::<String>()?),
                "format" => format = Some(map.next_value::<Format>()?),
                "app" => app = Some(map.next_value::<String>()?),
                "handler" => handler = Some(map.next_value::<String>()?),
                _ => {
                    let value = map.next_value::<serde_norway::Value>()?;
                    rest.insert(serde_norway::Value::String(key), value);
                }
            }
        }
        let options = serde_norway::Value::Mapping(rest);
        let broker = match kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("redis") => serde_norway::from_value(options).map(Broker::Redis),
            Some("rabbitmq" | "amqp") => serde_norway::from_value(options).map(Broker::Rabbitmq),
            Some("nats") => serde_norway::from_value(options).map(Broker::Nats),
            Some(other) => {
                return Err(A::Error::custom(format!(
                    "unknown source type {other:?}; expected redis, rabbitmq or nats"
                )));
            }
            None => return Err(A::Error::missing_field("type")),
        }
        .map_err(|e| A::Error::custom(format!("{} source: {e}", kind.unwrap_or_default())))?;
        Ok(SourceConfig {
            name,
            broker,
            format: format.unwrap_or_default(),
            app,
            handler,
        })
    }
}

/// The broker of a source, with its own options.
#[derive(Debug, Clone)]
pub enum Broker {
    /// A Redis stream read through a consumer group.
    Redis(RedisSource),
    /// A RabbitMQ queue.
    Rabbitmq(AmqpSource),
    /// A NATS JetStream stream through a durable pull consumer.
    Nats(NatsSource),
}

/// What a source's messages look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// rustyhook's own: `{app, eventType, payload, eventId?, channels?}` (see
    /// [`BrokerEvent::parse`]).
    #[default]
    Native,
    /// sendhooks-engine's: `{url, webhookId, data, secretHash, metaData}`, delivered to `url`.
    Sendhooks,
}

/// `type: redis`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSource {
    /// `redis://[user:pass@]host:port[/db]` or `rediss://…` for TLS.
    pub url: String,
    /// The stream to read.
    pub stream: String,
    /// The consumer group (created at the stream's start if missing).
    #[serde(default = "default_group")]
    pub group: String,
    /// sendhooks: the stream statuses are written to.
    #[serde(default)]
    pub status_stream: Option<String>,
    /// sendhooks: the header carrying `secretHash`.
    #[serde(default = "default_secret_header")]
    pub secret_header: String,
    /// A CA certificate (PEM file) to trust for `rediss://`.
    #[serde(default)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// A client certificate (PEM file) for `rediss://`.
    #[serde(default)]
    pub client_cert: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM file).
    #[serde(default)]
    pub client_key: Option<std::path::PathBuf>,
    /// Entries read per call.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// An entry pending this long with a consumer that stopped is taken over.
    #[serde(default = "default_claim_after", deserialize_with = "duration")]
    pub claim_after: Duration,
}

/// `type: rabbitmq`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSource {
    /// `amqp://user:pass@host:5672/vhost` (`amqps://` for TLS).
    pub url: String,
    /// The queue to consume (declared durable if missing).
    pub queue: String,
    /// Unacknowledged messages in flight at most.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// Where unparseable messages are dead-lettered; `<queue>.dead` (declared) unless set.
    #[serde(default)]
    pub dead_letter_queue: Option<String>,
}

impl AmqpSource {
    /// The queue rejected messages are dead-lettered to: `dead_letter_queue`, or `<queue>.dead`.
    pub fn dead_letter_queue(&self) -> String {
        self.dead_letter_queue
            .clone()
            .unwrap_or_else(|| format!("{}.dead", self.queue))
    }

    /// What serde cannot check: an `amqp(s)://` URL, queue names AMQP can carry (1 to 255
    /// bytes), two distinct queues, and a prefetch of at least 1 (0 would mean "unbounded").
    fn check(&self) -> Result<(), String> {
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "amqp" | "amqps") => {}
            _ => {
                return Err(format!(
                    "`url` must be an amqp:// or amqps:// URL, not {:?}",
                    crate::crypto::redact_url(&self.url)
                ));
            }
        }
        let dead = self.dead_letter_queue();
        for (key, queue) in [("queue", &self.queue), ("dead_letter_queue", &dead)] {
            if queue.is_empty() || queue.len() > 255 {
                return Err(format!("`{key}` must be 1 to 255 bytes long"));
            }
        }
        if dead == self.queue {
            return Err("`dead_letter_queue` must differ from `queue`".into());
        }
        if self.prefetch == 0 {
            return Err("`prefetch` must be at least 1".into());
        }
        Ok(())
    }
}

/// `type: nats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSource {
    /// `nats://host:4222`.
    pub url: String,
    /// The JetStream stream.
    pub stream: String,
    /// The durable consumer's name.
    #[serde(default = "default_group")]
    pub consumer: String,
    /// Only subjects matching this filter (`events.>`).
    #[serde(default)]
    pub subject: Option<String>,
    /// Messages fetched per pull.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// How long JetStream waits for the acknowledgement of a delivered message before it
    /// delivers it again (to any node): the longest a crash delays a message. Set on the
    /// consumer when rustyhook creates it; an existing consumer keeps its own.
    #[serde(default = "default_ack_wait", deserialize_with = "duration")]
    pub ack_wait: Duration,
}

fn default_group() -> String {
    "rustyhook".into()
}
fn default_secret_header() -> String {
    "X-Secret-Hash".into()
}
fn default_batch() -> usize {
    100
}
fn default_prefetch() -> u16 {
    100
}
fn default_claim_after() -> Duration {
    Duration::from_secs(30)
}
fn default_ack_wait() -> Duration {
    Duration::from_secs(30)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    crate::settings::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl SourceConfig {
    /// The source's name: as configured, or `<type>-<stream|queue>`.
    pub fn name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.broker {
            Broker::Redis(r) => format!("redis-{}", r.stream),
            Broker::Rabbitmq(a) => format!("rabbitmq-{}", a.queue),
            Broker::Nats(n) => format!("nats-{}", n.stream),
        }
    }

    /// Checks what serde cannot: a target, and options that fit the format. `handlers` are the
    /// ids a `handler:` may name.
    pub fn check(&self, handlers: &[String]) -> Result<(), String> {
        let name = self.name();
        let built: &[&str] = &["redis", "nats", "rabbitmq"];
        let kind = match &self.broker {
            Broker::Redis(_) => "redis",
            Broker::Rabbitmq(_) => "rabbitmq",
            Broker::Nats(_) => "nats",
        };
        if !built.contains(&kind) {
            return Err(format!(
                "source {name:?}: `type: {kind}` sources are not available in this version"
            ));
        }
        if let Some(h) = &self.handler {
            if !handlers.iter().any(|id| id == h) {
                return Err(format!("source {name:?}: no handler has the id {h:?}"));
            }
            if self.format == Format::Sendhooks {
                return Err(format!(
                    "source {name:?}: `handler` and `format: sendhooks` exclude each other"
                ));
            }
        }
        if self.format == Format::Sendhooks && !matches!(self.broker, Broker::Redis(_)) {
            return Err(format!(
                "source {name:?}: `format: sendhooks` is read from Redis streams only"
            ));
        }
        if let Broker::Rabbitmq(a) = &self.broker {
            a.check().map_err(|e| format!("source {name:?}: {e}"))?;
        }
        if let Broker::Redis(r) = &self.broker {
            if r.batch == 0 {
                return Err(format!("source {name:?}: `batch` must be at least 1"));
            }
            if (r.ca_cert.is_some() || r.client_cert.is_some()) && !r.url.starts_with("rediss://") {
                return Err(format!(
                    "source {name:?}: `ca_cert` and `client_cert` need a rediss:// URL"
                ));
            }
            if r.client_cert.is_some() != r.client_key.is_some() {
                return Err(format!(
                    "source {name:?}: `client_cert` and `client_key` go together"
                ));
            }
        }
        if let Broker::Nats(n) = &self.broker {
            n.check().map_err(|why| format!("source {name:?}: {why}"))?;
        }
        Ok(())
    }
}

impl NatsSource {
    /// What the server would refuse later: names JetStream does not allow, an empty batch, an
    /// `ack_wait` too short to store a message in.
    fn check(&self) -> Result<(), String> {
        for server in self.url.split(',').map(str::trim) {
            let scheme = server.split_once("://").map(|(scheme, _)| scheme);
            if server.is_empty() || scheme.is_some_and(|s| s != "nats" && s != "tls") {
                return Err(format!(
                    "`url: {:?}`: expected `nats://host:port` or `tls://host:port`, several \
                     separated by commas",
                    self.url
                ));
            }
        }
        for (key, value) in [("stream", &self.stream), ("consumer", &self.consumer)] {
            let bad = |c: char| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c);
            if value.is_empty() || value.chars().any(bad) {
                return Err(format!(
                    "`{key}: {value:?}` is not a JetStream name (no spaces, `.`, `*`, `>`, `/` or `\\`)"
                ));
            }
        }
        if self.subject.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err("`subject` is empty; leave it out to read every subject".into());
        }
        if self.batch == 0 {
            return Err("`batch` must be at least 1".into());
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Err("`ack_wait` must be at least 1s".into());
        }
        Ok(())
    }
}

/// One message of rustyhook's own format, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEvent {
    /// The app, by id or uid.
    pub app: String,
    /// The event type.
    pub event_type: String,
    /// The payload, as JSON text.
    pub payload: String,
    /// The producer's id, for idempotency.
    pub event_id: Option<String>,
    /// Channels.
    pub channels: Vec<String>,
}

impl BrokerEvent {
    /// Reads a message: a JSON object `{app?, eventType, payload, eventId?, channels?}` (also
    /// `event_type`, `event_id`), or, for a Redis entry, the same as its fields (where `payload`
    /// is JSON text). `default_app` fills a missing `app`. The error says what is wrong.
    pub fn parse(
        body: Option<&[u8]>,
        fields: &BTreeMap<String, String>,
        default_app: Option<&str>,
    ) -> Result<Self, String> {
        let object = match body {
            Some(bytes) => {
                let value: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| format!("the message is not JSON: {e}"))?;
                match value {
                    serde_json::Value::Object(map) => map,
                    _ => return Err("the message is JSON but not an object".into()),
                }
            }
            None => {
                let mut map = serde_json::Map::new();
                for (k, v) in fields {
                    let value = if k == "payload" || k == "channels" {
                        serde_json::from_str(v)
                            .map_err(|e| format!("the field {k:?} is not JSON: {e}"))?
                    } else {
                        serde_json::Value::String(v.clone())
                    };
                    map.insert(k.clone(), value);
                }
                map
            }
        };
        let text = |keys: &[&str]| -> Result<Option<String>, String> {
            for k in keys {
                match object.get(*k) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) if !s.is_empty() => {
                        return Ok(Some(s.clone()));
                    }
                    Some(_) => return Err(format!("{k:?} must be a non-empty string")),
                }
            }
            Ok(None)
        };
        let app = match text(&["app", "appId"])? {
            Some(a) => a,
            None => default_app
                .map(str::to_owned)
                .ok_or("the message names no \"app\" and the source has no default app")?,
        };
        let event_type = text(&["eventType", "event_type"])?.ok_or("\"eventType\" is missing")?;
        let payload = object
            .get("payload")
            .ok_or("\"payload\" is missing")?
            .to_string();
        let event_id = text(&["eventId", "event_id"])?;
        let channels = match object.get("channels") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("\"channels\" must be a list of strings")?,
            Some(_) => return Err("\"channels\" must be a list of strings".into()),
        };
        Ok(Self {
            app,
            event_type,
            payload,
            event_id,
            channels,
        })
    }
}

/// One message of sendhooks-engine's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendhooksEvent {
    /// Where to POST.
    pub url: String,
    /// The producer's id.
    pub webhook_id: String,
    /// The body, as JSON text.
    pub data: String,
    /// Sent verbatim in the secret header.
    pub secret_hash: Option<String>,
}

impl SendhooksEvent {
    /// Reads the `data` field of a sendhooks stream entry.
    pub fn parse(fields: &BTreeMap<String, String>) -> Result<Self, String> {
        let data = fields
            .get("data")
            .ok_or("the entry has no \"data\" field")?;
        let value: serde_json::Value =
            serde_json::from_str(data).map_err(|e| format!("\"data\" is not JSON: {e}"))?;
        let url = value
            .get("url")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty())
            .ok_or("\"url\" is missing")?
            .to_owned();
        let webhook_id = value
            .get("webhookId")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty())
            .ok_or("\"webhookId\" is missing")?
            .to_owned();
        let body = value.get("data").ok_or("\"data.data\" is missing")?;
        let secret_hash = value
            .get("secretHash")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(Self {
            url,
            webhook_id,
            data: body.to_string(),
            secret_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_native_message_is_read_from_json_or_from_stream_fields() {
        let e = BrokerEvent::parse(
            Some(br#"{"app":"acme","eventType":"invoice.paid","payload":{"n":1},"eventId":"e1"}"#),
            &BTreeMap::new(),
            None,
        )
        .expect("valid");
        assert_eq!(e.app, "acme");
        assert_eq!(e.payload, r#"{"n":1}"#);
        assert_eq!(e.event_id.as_deref(), Some("e1"));
        let e = BrokerEvent::parse(
            None,
            &fields(&[("event_type", "user.created"), ("payload", r#"{"id":7}"#)]),
            Some("default-app"),
        )
        .expect("valid");
        assert_eq!(
            (e.app.as_str(), e.event_type.as_str()),
            ("default-app", "user.created")
        );
    }

    #[test]
    fn a_bad_native_message_says_what_is_wrong() {
        let err = |body: &[u8]| BrokerEvent::parse(Some(body), &BTreeMap::new(), Some("a"));
        assert!(err(b"not json").expect_err("bad").contains("not JSON"));
        assert!(
            err(br#"{"payload":{}}"#)
                .expect_err("bad")
                .contains("eventType")
        );
        assert!(
            err(br#"{"eventType":"x"}"#)
                .expect_err("bad")
                .contains("payload")
        );
        let no_app = BrokerEvent::parse(
            Some(br#"{"eventType":"x","payload":1}"#),
            &BTreeMap::new(),
            None,
        );
        assert!(no_app.expect_err("bad").contains("app"));
    }

    fn rabbitmq(url: &str, rest: &str) -> SourceConfig {
        serde_norway::from_str(&format!("type: rabbitmq\nurl: {url}\napp: acme\n{rest}"))
            .expect("a source entry")
    }

    #[test]
    fn a_rabbitmq_source_is_checked_for_its_url_queues_and_prefetch() {
        let good = rabbitmq("amqp://guest:guest@127.0.0.1:5672/%2f", "queue: orders");
        assert_eq!(good.check(&[]), Ok(()));
        assert_eq!(good.name(), "rabbitmq-orders");
        let Broker::Rabbitmq(a) = &good.broker else {
            panic!("a rabbitmq source")
        };
        assert_eq!(
            (a.prefetch, a.dead_letter_queue().as_str()),
            (100, "orders.dead")
        );
        let err = |url: &str, rest: &str| rabbitmq(url, rest).check(&[]).expect_err("refused");
        let e = err("http://u:hunter2@h/", "queue: q");
        assert!(e.contains("amqp://") && !e.contains("hunter2"), "{e}");
        assert!(err("amqps://h", "queue: q\nprefetch: 0").contains("prefetch"));
        let e = err("amqp://h", "queue: q\ndead_letter_queue: q");
        assert!(e.contains("differ"), "{e}");
        let long = "q".repeat(251);
        assert!(err("amqp://h", &format!("queue: {long}")).contains("dead_letter_queue"));
        assert!(err("amqp://h", "queue: ''").contains("`queue`"));
    }

    #[test]
    fn a_source_entry_with_an_unknown_key_is_refused() {
        let parse = |yaml: &str| serde_norway::from_str::<SourceConfig>(yaml);
        let ok = "type: rabbitmq\nurl: amqp://h\nqueue: q\nname: in\nhandler: h";
        assert!(parse(ok).is_ok());
        let e = parse("type: rabbitmq\nurl: amqp://h\nqueue: q\nprefech: 5").expect_err("typo");
        assert!(e.to_string().contains("prefech"), "{e}");
    }

    #[test]
    fn a_source_entry_reads_common_keys_and_refuses_unknown_ones() {
        let ok: Vec<SourceConfig> = serde_norway::from_str(
            "- {type: redis, url: \"redis://h\", stream: hooks, format: sendhooks, status_stream: hooks-status}\n- {type: nats, url: \"nats://h\", stream: EV, handler: h, name: n}\n",
        )
        .expect("valid");
        assert_eq!(ok[0].name(), "redis-hooks");
        assert_eq!(ok[0].format, Format::Sendhooks);
        assert_eq!(ok[1].name(), "n");
        assert_eq!(ok[1].handler.as_deref(), Some("h"));
        let err = serde_norway::from_str::<Vec<SourceConfig>>(
            "- {type: redis, url: \"redis://h\", strem: hooks}\n",
        )
        .expect_err("typo");
        assert!(err.to_string().contains("strem"), "{err}");
        let err =
            serde_norway::from_str::<Vec<SourceConfig>>("- {type: kafka}\n").expect_err("type");
        assert!(err.to_string().contains("kafka"), "{err}");
    }

    #[test]
    fn a_sources_entry_is_read_with_its_type_and_an_unknown_key_is_refused() {
        let s: SourceConfig =
            serde_norway::from_str("type: redis\nurl: redis://h\nstream: s\napp: shop\n")
                .expect("valid");
        assert!(matches!(s.broker, Broker::Redis(_)));
        assert_eq!(s.app.as_deref(), Some("shop"));
        let typo =
            serde_norway::from_str::<SourceConfig>("type: redis\nurl: u\nstream: s\nqueue: q\n");
        assert!(typo.expect_err("unknown key").to_string().contains("queue"));
    }

    fn source(yaml: &str) -> Result<SourceConfig, String> {
        serde_norway::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn a_nats_source_has_defaults_and_passes_the_check() {
        let s = source("type: nats\nurl: nats://127.0.0.1:4222\nstream: ORDERS\napp: shop\n")
            .expect("valid");
        assert_eq!(s.name(), "nats-ORDERS");
        let Broker::Nats(n) = &s.broker else {
            panic!("a nats broker")
        };
        assert_eq!(
            (
                n.consumer.as_str(),
                n.batch,
                n.ack_wait,
                n.subject.as_deref()
            ),
            ("rustyhook", 100, Duration::from_secs(30), None)
        );
        assert_eq!(s.check(&[]), Ok(()));
        let s = source(
            "type: nats\nurl: nats://h:4222\nstream: S\nconsumer: c1\nsubject: orders.>\nbatch: 10\nack_wait: 2s\n",
        )
        .expect("valid");
        let Broker::Nats(n) = &s.broker else {
            panic!("a nats broker")
        };
        assert_eq!((n.batch, n.ack_wait), (10, Duration::from_secs(2)));
    }

    #[test]
    fn a_nats_source_with_a_name_jetstream_refuses_fails_the_check_naming_the_key() {
        let check = |extra: &str| {
            source(&format!("type: nats\nurl: nats://h\nstream: S\n{extra}"))
                .expect("parses")
                .check(&[])
        };
        assert!(
            check("consumer: a.b\n")
                .expect_err("bad")
                .contains("consumer")
        );
        let http = source("type: nats\nurl: http://h:4222\nstream: S\n").expect("parses");
        assert!(http.check(&[]).expect_err("bad").contains("url"));
        let cluster = source("type: nats\nurl: 'nats://a:4222,tls://b:4222'\nstream: S\n");
        assert_eq!(cluster.expect("parses").check(&[]), Ok(()));
        assert!(check("batch: 0\n").expect_err("bad").contains("batch"));
        assert!(
            check("ack_wait: 10ms\n")
                .expect_err("bad")
                .contains("ack_wait")
        );
        let bad_stream = source("type: nats\nurl: nats://h\nstream: 'a b'\n").expect("parses");
        assert!(bad_stream.check(&[]).expect_err("bad").contains("stream"));
        assert!(source("type: nats\nurl: nats://h\nstream: S\nack_wait: soon\n").is_err());
        let unknown = source("type: nats\nurl: nats://h\nstream: S\ngroup: g\n");
        assert!(unknown.expect_err("unknown key").contains("group"));
    }

    #[test]
    fn a_sendhooks_entry_is_read_and_a_broken_one_is_named() {
        let e = SendhooksEvent::parse(&fields(&[(
            "data",
            r#"{"url":"https://example.com/hook","webhookId":"wh_123","messageId":"","data":{"order":42},"secretHash":"s3cr3t","metaData":{"source":"billing"}}"#,
        )]))
        .expect("valid");
        assert_eq!(e.url, "https://example.com/hook");
        assert_eq!(e.webhook_id, "wh_123");
        assert_eq!(e.data, r#"{"order":42}"#);
        assert_eq!(e.secret_hash.as_deref(), Some("s3cr3t"));
        assert!(
            SendhooksEvent::parse(&fields(&[("data", "{oops")]))
                .expect_err("bad")
                .contains("not JSON")
        );
    }
}
