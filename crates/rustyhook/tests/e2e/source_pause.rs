//! A paused broker source on each broker (Redis, RabbitMQ, NATS JetStream): it reads nothing, so
//! the messages wait in the broker and its `lag` (in `GET /api/v1/source` and the source's
//! stats) counts them; the pause survives a restart of rustyhook; and the resume delivers every
//! message exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::BasicProperties;
use rand::distr::{Alphanumeric, SampleString};
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, settings};
use crate::jetstream::TestStream;
use crate::rabbit::{Rabbit, url as rabbit_url};
use crate::receiver::Receiver;
use crate::wait::{throughout, until};

const REDIS: &str = "redis://127.0.0.1:6379";
/// How long a test waits for a source (and its lag, measured every 5 s) to get somewhere.
const WAIT: Duration = Duration::from_secs(30);
/// How many messages wait while the source is paused.
const WAITING: usize = 5;

/// The broker of one test, with a stream or queue of its own.
enum Broker {
    Redis(String),
    Rabbitmq(Rabbit, String),
    Nats(TestStream),
}

impl Broker {
    /// The `sources:` YAML of a native source named `orders` for app `shop`.
    fn yaml(&self) -> String {
        match self {
            Self::Redis(stream) => format!(
                "sources:\n  - {{name: orders, type: redis, url: \"{REDIS}\", stream: {stream}, app: shop}}\n"
            ),
            Self::Rabbitmq(_, queue) => format!(
                "sources:\n  - {{name: orders, type: rabbitmq, url: '{}', queue: {queue}, app: shop, prefetch: 10}}\n",
                rabbit_url()
            ),
            Self::Nats(stream) => format!(
                "sources:\n  - {{name: orders, type: nats, url: '{}', stream: {}, app: shop}}\n",
                crate::jetstream::server_url(),
                stream.name
            ),
        }
    }

    /// Publishes message number `n` (payload `{"n": n}`).
    async fn publish(&self, n: usize) {
        let body = json!({"eventType": "order.paid", "payload": {"n": n}}).to_string();
        match self {
            Self::Redis(stream) => {
                let mut conn = redis::Client::open(REDIS)
                    .expect("url")
                    .get_multiplexed_async_connection()
                    .await
                    .expect("the machine's Redis on 127.0.0.1:6379");
                let payload = json!({"n": n}).to_string();
                let _: String = conn
                    .xadd(
                        stream,
                        "*",
                        &[("eventType", "order.paid"), ("payload", payload.as_str())],
                    )
                    .await
                    .expect("xadd");
            }
            Self::Rabbitmq(rabbit, queue) => {
                rabbit
                    .publish(queue, body.as_bytes(), BasicProperties::default())
                    .await;
            }
            Self::Nats(stream) => stream.publish("orders", body).await,
        }
    }

    /// Deletes what the test made in the broker.
    async fn clean(&self) {
        match self {
            Self::Redis(stream) => {
                if let Ok(mut conn) = redis::Client::open(REDIS)
                    .expect("url")
                    .get_multiplexed_async_connection()
                    .await
                {
                    let _: Result<i64, _> =
                        conn.del(&[stream.clone(), format!("{stream}.dead")]).await;
                }
            }
            Self::Rabbitmq(rabbit, queue) => {
                rabbit.delete(&[queue, &format!("{queue}.dead")]).await;
            }
            Self::Nats(_) => {}
        }
    }
}

/// The source as `GET /api/v1/source` lists it.
async fn listed(app: &TestApp) -> Value {
    app.get("/api/v1/source").await["data"][0].clone()
}

/// Waits until the source, as listed, satisfies `ok`, and returns it.
async fn wait_source(app: &TestApp, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    until(what, WAIT, async || {
        let source = listed(app).await;
        if ok(&source) { Ok(source) } else { Err(source) }
    })
    .await
}

/// Waits until the source is paused and its lag is `lag`.
async fn wait_paused_with_lag(app: &TestApp, lag: usize) -> Value {
    wait_source(
        app,
        &format!("the source paused with a lag of {lag}"),
        |s| s["state"] == "paused" && s["lag"] == lag && s["paused"] == true,
    )
    .await
}

/// Checks for two seconds that app `shop` has no message.
async fn stores_nothing(app: &TestApp, what: &str) {
    throughout(what, Duration::from_secs(2), async || {
        app.get("/api/v1/app/shop/msg").await["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;
}

/// How many times each `n` arrived.
fn counts(receiver: &Receiver) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for r in receiver.received() {
        *seen
            .entry(r.json()["n"].as_u64().expect("numbered"))
            .or_default() += 1;
    }
    seen
}

async fn a_paused_source_keeps_its_messages_in_the_broker_through_a_restart(broker: Broker) {
    let receiver = Receiver::start().await;
    let parsed = rustyhook::config::parse(&broker.yaml(), "test.yaml").expect("valid sources");
    let mut config = settings();
    config.sources = parsed.sources;
    let app = TestApp::spawn_with(config.clone()).await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;
    // Connected and measured: nothing waits yet.
    wait_source(&app, "the source reading with a lag of 0", |s| {
        s["state"] == "reading" && s["lag"] == 0
    })
    .await;

    let pause = "/api/v1/pause/source/orders";
    let (status, body) = app.call(Method::POST, pause, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_source(&app, "the reader to notice the pause", |s| {
        s["state"] == "paused"
    })
    .await;
    for n in 0..WAITING {
        broker.publish(n).await;
    }
    let source = wait_paused_with_lag(&app, WAITING).await;
    assert!(
        source["lagAt"].is_string() && source["since"].is_string(),
        "{source}"
    );
    assert_eq!(source["lastError"], Value::Null);
    // The lag is sampled into the source's stats: the `queueDepth` of its series.
    until("the lag in the source's stats", WAIT, async || {
        let stats = app.get("/api/v1/stats/source/orders").await;
        if stats["total"]["queueDepth"].as_u64() >= Some(WAITING as u64) {
            Ok(())
        } else {
            Err(stats)
        }
    })
    .await;
    stores_nothing(&app, "a paused source stores nothing").await;

    // A restart keeps the pause: the new process reads nothing either.
    let (dir, db) = app.shut_down().await;
    let app = TestApp::spawn_on(config, dir, db).await;
    wait_paused_with_lag(&app, WAITING).await;
    stores_nothing(&app, "still paused after the restart").await;
    assert!(receiver.received().is_empty());

    let (status, body) = app.call(Method::DELETE, pause, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    receiver.wait_for(WAITING, WAIT).await;
    wait_source(&app, "the lag back to 0, reading", |s| {
        s["state"] == "reading" && s["lag"] == 0
    })
    .await;
    app.settled_app("shop").await;
    let expected: BTreeMap<u64, usize> = (0..WAITING as u64).map(|n| (n, 1)).collect();
    assert_eq!(
        counts(&receiver),
        expected,
        "each message arrived exactly once"
    );
    broker.clean().await;
}

#[tokio::test]
async fn a_paused_redis_source_keeps_its_entries_through_a_restart_and_delivers_each_once() {
    let stream = format!(
        "rh-test-{}",
        Alphanumeric.sample_string(&mut rand::rng(), 10)
    );
    a_paused_source_keeps_its_messages_in_the_broker_through_a_restart(Broker::Redis(stream)).await;
}

#[tokio::test]
async fn a_paused_rabbitmq_source_keeps_its_queue_through_a_restart_and_delivers_each_once() {
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("paused");
    rabbit.declare_expiring(&queue).await;
    rabbit.declare_expiring(&dead).await;
    a_paused_source_keeps_its_messages_in_the_broker_through_a_restart(Broker::Rabbitmq(
        rabbit, queue,
    ))
    .await;
}

#[tokio::test]
async fn a_paused_nats_source_keeps_its_stream_through_a_restart_and_delivers_each_once() {
    let stream = TestStream::create().await;
    a_paused_source_keeps_its_messages_in_the_broker_through_a_restart(Broker::Nats(stream)).await;
}
