//! NATS JetStream sources against the machine's NATS server: each test makes a stream of its
//! own, publishes to it, and checks what reached a receiver (or a handler's command) and what
//! the durable consumer still holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustyhook_core::settings::Settings;
use serde_json::{Value, json};

use crate::handlers::{lines, wait_file};
use crate::harness::{TestApp, on_postgres, settings};
use crate::jetstream::{PrivateServer, TestStream};
use crate::receiver::{Received, Receiver};
use crate::wait::{eventually, throughout, until};

const SETTLE: Duration = Duration::from_secs(20);

/// Test settings with the `sources:` (and `handlers:`) of `yaml`.
fn with_sources(yaml: &str) -> Settings {
    let parsed = rustyhook::config::parse(yaml, "test.yaml").expect("valid sources");
    let mut s = settings();
    s.sources = parsed.sources;
    s.handlers = parsed.handlers;
    s
}

/// A native message for the source's default app.
fn event(n: usize) -> String {
    json!({"eventType": "order.paid", "payload": {"n": n}}).to_string()
}

/// How many times each payload's `n` arrived.
fn counts(received: &[Received]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for r in received {
        let n = r.json()["n"].as_u64().expect("a payload with n");
        *seen.entry(n).or_default() += 1;
    }
    seen
}

/// Waits until every `n` below `total` arrived at least once.
async fn wait_all(receiver: &Receiver, total: usize, timeout: Duration) -> BTreeMap<u64, usize> {
    until(&format!("all {total} messages"), timeout, async || {
        let seen = counts(&receiver.received());
        if (0..total as u64).all(|n| seen.contains_key(&n)) {
            Ok(seen)
        } else {
            Err(format!("{} of them", seen.len()))
        }
    })
    .await
}

/// A running app `shop` whose endpoint is `receiver`.
async fn shop(app: &TestApp, receiver: &Receiver) {
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;
}

#[tokio::test]
async fn native_messages_on_a_stream_reach_the_endpoint_once_and_leave_nothing_pending() {
    let stream = TestStream::create().await;
    let receiver = Receiver::start().await;
    let only_orders = format!("    subject: {}.orders\n", stream.subject);
    let app = TestApp::spawn_with(with_sources(&stream.source("app: shop", &only_orders))).await;
    shop(&app, &receiver).await;
    for n in 0..20 {
        stream.publish("orders", event(n)).await;
    }
    // Outside the source's `subject`: never read.
    stream.publish("refunds", event(999)).await;
    let seen = wait_all(&receiver, 20, SETTLE).await;
    let info = stream.wait_settled("rustyhook", SETTLE).await;
    // Every message is acknowledged, so stored, and deliveries are stored with their message:
    // once they are settled, no duplicate is on its way.
    app.settled_app("shop").await;
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(receiver.received().len(), 20);
    assert_eq!(
        info.config.filter_subject,
        format!("{}.orders", stream.subject)
    );
    // Every delivery takes a consumer sequence: 20 for 20 messages means none came twice.
    // (The stream sequence delivered may read 21: the server may move it past the refund,
    // which the subject filter skips, without delivering it.)
    assert_eq!(info.delivered.consumer_sequence, 20);
    assert!(
        (20..=21).contains(&info.delivered.stream_sequence),
        "{:?}",
        info.delivered
    );
    // The messages of a pull are taken at once, so they may arrive in any order.
    let received = receiver.received();
    let first = received
        .iter()
        .find(|r| r.json() == json!({"n": 0}))
        .expect("message 0 arrived with its payload as the body");
    assert_eq!(
        first.header("webhook-id").map(|id| id.starts_with("msg_")),
        Some(true)
    );
}

#[tokio::test]
async fn a_poison_message_is_terminated_and_listed_while_the_messages_around_it_flow() {
    let stream = TestStream::create().await;
    let receiver = Receiver::start().await;
    let yaml = stream.source("app: shop", "    ack_wait: 1s\n");
    let app = TestApp::spawn_with(with_sources(&yaml)).await;
    shop(&app, &receiver).await;
    stream.publish("orders", event(0)).await;
    stream.publish("orders", "not json at all").await;
    stream
        .publish("orders", json!({"payload": {"n": 99}}).to_string())
        .await;
    stream.publish("orders", event(1)).await;
    wait_all(&receiver, 2, SETTLE).await;
    let info = stream.wait_settled("rustyhook", SETTLE).await;
    assert_eq!(info.delivered.stream_sequence, 4);
    // The point: a message answered with anything but TERM would be delivered again once
    // its `ack_wait` (1 s, counted from its delivery, already past) is over, taking a fifth
    // consumer sequence.
    throughout(
        "no message delivered again",
        Duration::from_millis(1200),
        async || {
            let info = stream.consumer("rustyhook").await;
            info.delivered.consumer_sequence == 4
        },
    )
    .await;
    let listed = app
        .get(&format!("/api/v1/source/{}/rejected", stream.name))
        .await;
    let rejected = listed["data"].as_array().expect("a list");
    assert_eq!(rejected.len(), 2, "{listed}");
    let by_id: BTreeMap<&str, &Value> = rejected
        .iter()
        .map(|r| (r["brokerId"].as_str().expect("brokerId"), r))
        .collect();
    let not_json = by_id[format!("{}:2", stream.name).as_str()];
    assert!(
        not_json["reason"]
            .as_str()
            .expect("reason")
            .contains("not JSON"),
        "{not_json}"
    );
    assert_eq!(not_json["body"], "not json at all");
    let no_type = by_id[format!("{}:3", stream.name).as_str()];
    assert!(
        no_type["reason"]
            .as_str()
            .expect("reason")
            .contains("eventType"),
        "{no_type}"
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_handler_source_runs_the_handler_s_command_once_per_message() {
    let stream = TestStream::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let yaml = format!(
        "{}handlers:\n  - type: Custom\n    id: note\n    name: Note\n    shell: 'echo \"$MESSAGE_ID $RUSTYHOOK_SOURCE $(cat)\" >> {}'\n",
        stream.source("handler: note", ""),
        out.display()
    );
    let app = TestApp::spawn_with(with_sources(&yaml)).await;
    for word in ["one", "two", "three"] {
        stream.publish("jobs", word).await;
    }
    let text = wait_file(&out, |t| t.lines().count() >= 3).await;
    stream.wait_settled("rustyhook", SETTLE).await;
    // Every message is acknowledged, so has its run: once they finished, none runs again.
    assert_eq!(app.settled_runs("note").await.len(), 3);
    assert_eq!(lines(&out), 3, "{text}");
    let s = &stream.name;
    for (seq, word) in [(1, "one"), (2, "two"), (3, "three")] {
        let line = format!("{s}:{seq} {s} {word}");
        assert!(text.lines().any(|l| l == line), "{line:?} not in {text:?}");
    }
}

/// A burst read in big pulls: the takes of a pull run at once and share the store's reader
/// connections with the source's own lookup of whether it is paused. When that lookup was
/// awaited outside the takes, it could wait for a connection handed to a take that was not
/// being polled: the source stopped, and with it every store read (the API's too). It took
/// two worker threads (as the server runs) to show: 2 runs in 3 stalled before the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_read_in_big_pulls_is_all_delivered_while_the_api_keeps_answering() {
    // A dozen seconds of burst on SQLite, where the stall was; PostgreSQL takes these more
    // slowly, and runs the same path with fewer.
    let total: usize = if on_postgres() { 3000 } else { 12000 };
    const PUBLISHERS: usize = 8;
    let stream = Arc::new(TestStream::create().await);
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(with_sources(
        &stream.source("app: shop", "    batch: 250\n"),
    ))
    .await;
    shop(&app, &receiver).await;
    // The burst: everything waits in the stream, paused, then the source is resumed.
    let pause = format!("/api/v1/pause/source/{}", stream.name);
    let (status, body) = app.call(reqwest::Method::POST, &pause, None).await;
    assert!(status.is_success(), "{status} {body}");
    let publishers = (0..PUBLISHERS).map(|p| {
        let stream = stream.clone();
        tokio::spawn(async move {
            for n in (p..total).step_by(PUBLISHERS) {
                stream.publish("orders", event(n)).await;
            }
        })
    });
    for publisher in publishers.collect::<Vec<_>>() {
        publisher.await.expect("a publisher finishes");
    }
    let (status, body) = app.call(reqwest::Method::DELETE, &pause, None).await;
    assert!(status.is_success(), "{status} {body}");
    // Throughout the burst, a store read through the API answers within seconds.
    let reads = async {
        while receiver.received().len() < total {
            let read = app.call(reqwest::Method::GET, "/api/v1/app/shop/msg?limit=1", None);
            let (status, body) = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "a message list got no answer within 10 s, {} of {total} delivered",
                        receiver.received().len()
                    )
                });
            assert_eq!(status, reqwest::StatusCode::OK, "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (seen, ()) = tokio::join!(wait_all(&receiver, total, Duration::from_secs(300)), reads);
    stream.wait_settled("rustyhook", SETTLE).await;
    assert!(seen.values().all(|n| *n == 1), "a message arrived twice");
}

#[tokio::test]
async fn a_restart_while_messages_are_published_loses_none() {
    const TOTAL: usize = 300;
    let stream = Arc::new(TestStream::create().await);
    let receiver = Receiver::start().await;
    let config = with_sources(&stream.source("app: shop", "    ack_wait: 2s\n    batch: 20\n"));
    let first = TestApp::spawn_with(config.clone()).await;
    shop(&first, &receiver).await;
    let published = Arc::new(AtomicUsize::new(0));
    let publisher = {
        let (stream, published) = (stream.clone(), published.clone());
        tokio::spawn(async move {
            for n in 0..TOTAL {
                stream.publish("orders", event(n)).await;
                published.fetch_add(1, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    receiver.wait_for(50, SETTLE).await;
    let (dir, db) = first.shut_down().await;
    let at_stop = (published.load(Ordering::Acquire), receiver.received().len());
    let _second = TestApp::spawn_on(config, dir, db).await;
    publisher.await.expect("the publisher finishes");
    let seen = wait_all(&receiver, TOTAL, Duration::from_secs(60)).await;
    let info = stream.wait_settled("rustyhook", SETTLE).await;
    assert!(
        at_stop.0 < TOTAL,
        "the stop came after everything was published"
    );
    let twice = seen.values().filter(|n| **n > 1).count();
    let again = info.delivered.consumer_sequence - info.delivered.stream_sequence;
    eprintln!(
        "nats restart: stopped after {} published and {} delivered; all {TOTAL} arrived, {twice} more than once, {again} delivered again by JetStream",
        at_stop.0, at_stop.1
    );
}

#[tokio::test]
async fn two_nodes_on_one_durable_consumer_share_its_messages_each_delivered_once() {
    const TOTAL: usize = 100;
    let stream = TestStream::create().await;
    let (to_a, to_b) = (Receiver::start().await, Receiver::start().await);
    let config = with_sources(&stream.source("app: shop", "    batch: 5\n"));
    let a = TestApp::spawn_with(config.clone()).await;
    let b = TestApp::spawn_with(config).await;
    shop(&a, &to_a).await;
    shop(&b, &to_b).await;
    for n in 0..TOTAL {
        stream.publish("orders", event(n)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eventually(
        "every message at one node or the other",
        SETTLE,
        async || to_a.received().len() + to_b.received().len() >= TOTAL,
    )
    .await;
    stream.wait_settled("rustyhook", SETTLE).await;
    // Every message is acknowledged, so stored: once both nodes' deliveries are settled, no
    // duplicate is on its way.
    a.settled_app("shop").await;
    b.settled_app("shop").await;
    let mut all = to_a.received();
    all.extend(to_b.received());
    let seen = counts(&all);
    assert_eq!(seen.len(), TOTAL);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let (na, nb) = (to_a.received().len(), to_b.received().len());
    assert!(na > 0 && nb > 0, "one node took everything: {na} and {nb}");
}

#[tokio::test]
async fn a_source_whose_stream_is_missing_retries_and_reads_once_the_stream_exists() {
    let stream = TestStream::named().await;
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(with_sources(&stream.source("app: shop", ""))).await;
    shop(&app, &receiver).await;
    // Kept: the source says nothing when it finds no stream, and this test needs it to have
    // looked once (it then waits 1 s, then 2 s, … before looking again) before the stream is
    // made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.make().await;
    stream.publish("orders", event(0)).await;
    wait_all(&receiver, 1, SETTLE).await;
    let info = stream.wait_settled("rustyhook", SETTLE).await;
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    assert_eq!(info.config.max_deliver, -1);
}

#[tokio::test]
async fn a_source_carries_on_after_the_nats_server_restarts() {
    let mut server = PrivateServer::start().await;
    let stream = TestStream::named_on(&server.url).await;
    stream.make().await;
    let receiver = Receiver::start().await;
    // A killed server may forget acknowledgements it had not written down yet: those messages
    // come back after `ack_wait`, and are recognised.
    let app = TestApp::spawn_with(with_sources(
        &stream.source("app: shop", "    ack_wait: 2s\n"),
    ))
    .await;
    shop(&app, &receiver).await;
    for n in 0..10 {
        stream.publish("orders", event(n)).await;
    }
    wait_all(&receiver, 10, SETTLE).await;
    server.restart().await;
    let restarted = Instant::now();
    for n in 10..20 {
        until("a publish after the restart", SETTLE, async || {
            stream.try_publish("orders", event(n)).await
        })
        .await;
    }
    wait_all(&receiver, 20, SETTLE).await;
    let recovered = restarted.elapsed();
    let info = stream.wait_settled("rustyhook", SETTLE).await;
    // Every message is acknowledged, so stored: once settled, no duplicate is on its way.
    app.settled_app("shop").await;
    let seen = counts(&receiver.received());
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let again = info.delivered.consumer_sequence - info.delivered.stream_sequence;
    eprintln!(
        "nats server restart: all 20 arrived {recovered:?} after the restart; {again} delivered again, each stored once"
    );
}
