//! RabbitMQ sources against the machine's broker: messages reach endpoints once each and are
//! acked, poison messages are dead-lettered and listed, a handler runs once per message id, and a
//! restart mid-stream loses nothing. Each test uses queues of its own, deleted when it ends.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use rustyhook_core::settings::Settings;
use serde_json::json;

use crate::handlers::wait_file;
use crate::harness::{QUIET, TestApp, database, settings};
use crate::rabbit::{Rabbit, url};
use crate::receiver::{Received, Receiver};
use crate::wait::{throughout, until};

const WAIT: Duration = Duration::from_secs(20);

/// Test settings with the `handlers:` and `sources:` of `yaml`, where `{url}` is the broker
/// and `{dir}` is `dir`.
fn with_sources(yaml: &str, dir: &Path) -> Settings {
    let yaml = yaml
        .replace("{url}", &url())
        .replace("{dir}", &dir.display().to_string());
    let parsed = rustyhook::config::parse(&yaml, "test.yaml").expect("a valid config");
    let mut s = settings();
    s.handlers = parsed.handlers;
    s.sources = parsed.sources;
    s
}

/// A message of rustyhook's own format for app `shop`, numbered `i`.
fn native(i: usize) -> Vec<u8> {
    json!({"eventType": "order.created", "eventId": format!("order-{i}"), "payload": {"i": i}})
        .to_string()
        .into_bytes()
}

/// The distinct numbers the receiver got, and how many requests in all.
fn numbers(received: &[Received]) -> (BTreeSet<u64>, usize) {
    let set = received
        .iter()
        .map(|r| r.json()["i"].as_u64().expect("a numbered payload"))
        .collect();
    (set, received.len())
}

/// A server reading `queue` for app `shop`, whose one endpoint is `receiver`.
async fn shop(queue: &str, receiver: &Receiver) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "sources:\n  - {{type: rabbitmq, name: orders-in, url: '{{url}}', queue: {queue}, app: shop, prefetch: 10}}\n"
    );
    let app = TestApp::spawn_with(with_sources(&yaml, dir.path())).await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;
    app
}

#[tokio::test]
async fn native_messages_from_a_rabbitmq_queue_reach_the_endpoint_once_each_and_are_all_acked() {
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("native");
    let receiver = Receiver::start().await;
    let app = shop(&queue, &receiver).await;
    // The source declares both queues (neither exists yet), then consumes.
    rabbit
        .wait_counts(&queue, |c| matches!(c, Some((0, 1))))
        .await;
    assert!(rabbit.counts(&dead).await.is_some(), "{dead} was declared");

    for i in 0..30 {
        rabbit
            .publish(&queue, &native(i), BasicProperties::default())
            .await;
    }
    receiver.wait_for(30, WAIT).await;
    // Deliveries are stored with their message: once settled, what arrived is all there is.
    app.settled_app("shop").await;
    let (got, requests) = numbers(&receiver.received());
    assert_eq!(got, (0..30).collect());
    assert_eq!(requests, 30, "a message reached the endpoint twice");

    // Once the source stops, nothing went back to the queue: every message was acked.
    app.shut_down().await;
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
    assert_eq!(rabbit.counts(&dead).await, Some((0, 0)));
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_with_its_reason_and_listed_while_the_others_flow() {
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("poison");
    rabbit.declare_expiring(&queue).await;
    rabbit.declare_expiring(&dead).await;
    let receiver = Receiver::start().await;
    let app = shop(&queue, &receiver).await;

    let mut headers = FieldTable::default();
    headers.insert("tenant".into(), AMQPValue::LongString("acme".into()));
    let poison = BasicProperties::default()
        .with_message_id("poison-1".into())
        .with_headers(headers);
    rabbit
        .publish(&queue, &native(1), BasicProperties::default())
        .await;
    rabbit.publish(&queue, b"not json at all", poison).await;
    rabbit
        .publish(
            &queue,
            br#"{"payload":{"i":99}}"#,
            BasicProperties::default(),
        )
        .await;
    rabbit
        .publish(&queue, &native(2), BasicProperties::default())
        .await;

    receiver.wait_for(2, WAIT).await;
    rabbit
        .wait_counts(&dead, |c| matches!(c, Some((2, _))))
        .await;
    let first = rabbit.get(&dead).await.expect("a dead letter");
    let second = rabbit.get(&dead).await.expect("a dead letter");
    let (not_json, no_type) = if first.body == b"not json at all" {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(not_json.body, b"not json at all");
    let reason = not_json.header("x-rustyhook-reason").expect("a reason");
    assert!(reason.contains("not JSON"), "{reason}");
    assert_eq!(not_json.header("tenant").as_deref(), Some("acme"));
    assert_eq!(
        not_json.header("x-rustyhook-source").as_deref(),
        Some("orders-in")
    );
    let message_id = not_json.properties.message_id().clone();
    assert_eq!(message_id.as_ref().map(|m| m.as_str()), Some("poison-1"));
    assert_eq!(no_type.body, br#"{"payload":{"i":99}}"#);
    let reason = no_type.header("x-rustyhook-reason").expect("a reason");
    assert!(reason.contains("eventType"), "{reason}");

    let listed = app.get("/api/v1/source/orders-in/rejected").await;
    let mut reasons: Vec<String> = listed["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["reason"].as_str().expect("a reason").to_owned())
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{listed}");
    assert!(reasons[0].contains("eventType") && reasons[1].contains("not JSON"));

    let (got, requests) = numbers(&receiver.received());
    assert_eq!((got, requests), ([1, 2].into(), 2));
    app.shut_down().await;
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
}

/// A server whose handler `consume` runs `shell` for each message of a fresh queue named after
/// `prefix`; `{dir}` in `shell` is the returned folder. Returns the queue and its dead-letter
/// queue too.
async fn consuming(
    rabbit: &Rabbit,
    prefix: &str,
    shell: &str,
) -> (TestApp, String, String, tempfile::TempDir) {
    let (queue, dead) = rabbit.queues(prefix);
    rabbit.declare_expiring(&queue).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        r#"
handlers:
  - type: Custom
    name: Consume
    shell: '{shell}'
sources:
  - type: rabbitmq
    url: '{{url}}'
    queue: {queue}
    handler: consume
"#
    );
    let app = TestApp::spawn_with(with_sources(&yaml, dir.path())).await;
    (app, queue, dead, dir)
}

#[tokio::test]
async fn a_rabbitmq_source_with_a_handler_runs_its_command_per_message() {
    let rabbit = Rabbit::connect().await;
    let (app, queue, dead, dir) = consuming(
        &rabbit,
        "handler",
        r#"printf "%s %s %s %s\n" "$(cat)" "$MESSAGE_ID" "$RUSTYHOOK_EVENT_TYPE" "$RUSTYHOOK_SOURCE" >> {dir}/out"#,
    )
    .await;
    for n in 1..=3 {
        let props = BasicProperties::default().with_message_id(format!("m-{n}").into());
        rabbit
            .publish(&queue, format!("hello-{n}").as_bytes(), props)
            .await;
    }
    let out = dir.path().join("out");
    let text = wait_file(&out, |t| t.lines().count() == 3).await;
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let want: Vec<String> = (1..=3)
        .map(|n| format!("hello-{n} m-{n} rabbitmq rabbitmq-{queue}"))
        .collect();
    assert_eq!(lines, want);
    app.shut_down().await;
    assert_eq!(
        rabbit.counts(&dead).await,
        Some((0, 0)),
        "nothing was rejected"
    );
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
}

#[tokio::test]
async fn a_rabbitmq_message_sent_again_with_its_message_id_runs_the_handler_once() {
    let rabbit = Rabbit::connect().await;
    let (app, queue, _dead, dir) = consuming(
        &rabbit,
        "handler-once",
        r#"printf "%s %s\n" "$(cat)" "$MESSAGE_ID" >> {dir}/out"#,
    )
    .await;
    // One message twice (as a producer retrying its publish sends it, or RabbitMQ redelivers
    // one whose ack was lost), then another.
    for (body, id) in [("hello", "m-1"), ("hello", "m-1"), ("bye", "m-2")] {
        let props = BasicProperties::default().with_message_id(id.into());
        rabbit.publish(&queue, body.as_bytes(), props).await;
    }
    let out = dir.path().join("out");
    wait_file(&out, |t| t.lines().count() >= 2).await;
    // The point: the repeated message makes no run. The source takes messages concurrently,
    // so a run it made would be listed within a moment of the others'.
    throughout("two runs for the three messages", QUIET, async || {
        let runs = app.get("/api/v1/handler/consume/run").await;
        runs["data"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    app.settled_runs("consume").await;
    let text = std::fs::read_to_string(&out).expect("out");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["bye m-2", "hello m-1"]);
    // Once the server stops, a message it had not acked would be back in the queue.
    app.shut_down().await;
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
}

#[tokio::test]
async fn restarting_the_server_mid_stream_loses_no_rabbitmq_message() {
    const MESSAGES: usize = 300;
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("restart");
    rabbit.declare_expiring(&queue).await;
    rabbit.declare_expiring(&dead).await;
    let receiver = Receiver::start().await;
    let files = tempfile::tempdir().expect("temp dir");
    let yaml =
        format!("sources:\n  - {{type: rabbitmq, url: '{{url}}', queue: {queue}, app: shop}}\n");
    let settings = with_sources(&yaml, files.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let first = TestApp::spawn_on(settings.clone(), dir, database().await).await;
    first.create_app("shop").await;
    first
        .create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;

    let publishing = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let rabbit = Rabbit::connect().await;
            for i in 0..MESSAGES {
                rabbit
                    .publish(&queue, &native(i), BasicProperties::default())
                    .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    receiver.wait_for(20, WAIT).await;
    let (dir, db) = first.shut_down().await;
    assert!(
        !publishing.is_finished(),
        "the server stopped only after the last message was published"
    );
    let second = TestApp::spawn_on(settings, dir, db).await;
    publishing.await.expect("the publisher finished");

    until(&format!("all {MESSAGES} messages"), WAIT, async || {
        let (got, _) = numbers(&receiver.received());
        if got.len() == MESSAGES {
            Ok(())
        } else {
            Err(got.len())
        }
    })
    .await;
    second.shut_down().await;
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
    assert_eq!(rabbit.counts(&dead).await, Some((0, 0)));
}

#[tokio::test]
async fn a_deleted_queue_is_declared_again_after_a_reconnect_and_consumed() {
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("deleted");
    let receiver = Receiver::start().await;
    let app = shop(&queue, &receiver).await;
    rabbit
        .wait_counts(&queue, |c| matches!(c, Some((_, 1))))
        .await;
    rabbit
        .publish(&queue, &native(1), BasicProperties::default())
        .await;
    receiver.wait_for(1, WAIT).await;

    // RabbitMQ cancels the consumer of a deleted queue; the source reconnects and declares it.
    rabbit.delete(&[&queue]).await;
    rabbit
        .wait_counts(&queue, |c| matches!(c, Some((_, 1))))
        .await;
    rabbit
        .publish(&queue, &native(2), BasicProperties::default())
        .await;
    receiver.wait_for(2, WAIT).await;
    let (got, requests) = numbers(&receiver.received());
    assert_eq!((got, requests), ([1, 2].into(), 2));
    app.shut_down().await;
    assert_eq!(
        rabbit.counts(&dead).await,
        Some((0, 0)),
        "nothing was rejected"
    );
}

#[tokio::test]
async fn while_the_database_is_down_messages_wait_in_the_queue_and_none_is_dead_lettered() {
    if !crate::harness::on_postgres() {
        eprintln!("only PostgreSQL can be taken away from a running server: see e2e_postgres");
        return;
    }
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("outage");
    rabbit.declare_expiring(&queue).await;
    rabbit.declare_expiring(&dead).await;
    let receiver = Receiver::start().await;
    let app = shop(&queue, &receiver).await;
    rabbit
        .publish(&queue, &native(0), BasicProperties::default())
        .await;
    receiver.wait_for(1, WAIT).await;

    let outage = Outage::start(&app.database_url().expect("on PostgreSQL")).await;
    for i in 1..=5 {
        rabbit
            .publish(&queue, &native(i), BasicProperties::default())
            .await;
    }
    // The point: through an outage of some seconds, in which the source puts each message
    // back after a growing pause, none gets through and none is dead-lettered.
    throughout(
        "no message through the outage",
        Duration::from_secs(3),
        async || receiver.received().len() == 1,
    )
    .await;
    assert_eq!(
        rabbit.counts(&dead).await,
        Some((0, 0)),
        "an outage dead-lettered"
    );
    outage.end().await;

    receiver.wait_for(6, Duration::from_secs(40)).await;
    let (got, _) = numbers(&receiver.received());
    assert_eq!(got, (0..=5).collect());
    assert_eq!(rabbit.counts(&dead).await, Some((0, 0)));
    app.shut_down().await;
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
}

/// A PostgreSQL database taken away from its server: new connections refused, open ones ended.
struct Outage {
    admin: sqlx::PgConnection,
    name: String,
}

impl Outage {
    async fn start(url: &str) -> Self {
        use sqlx::Connection as _;
        let name = url.rsplit('/').next().expect("a database name").to_owned();
        let mut admin = sqlx::PgConnection::connect(&crate::pgdb::server_url())
            .await
            .expect("the PostgreSQL server");
        sqlx::query(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        ))
        .execute(&mut admin)
        .await
        .expect("connections refused");
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .execute(&mut admin)
            .await
            .expect("connections ended");
        Self { admin, name }
    }

    async fn end(mut self) {
        let sql = format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", self.name);
        sqlx::query(&sql)
            .execute(&mut self.admin)
            .await
            .expect("connections allowed");
    }
}
