//! An endpoint's circuit breaker: one that fails every attempt is probed, not hammered, and
//! its deliveries wait with their attempts unspent until it answers again.

use std::time::Duration;

use rustyhook_core::retry::RetryPolicy;
use serde_json::json;

use crate::harness::{TOKEN, TestApp, settings};
use crate::receiver::{Receiver, Reply};
use crate::sse::Stream;
use crate::wait::throughout;

#[tokio::test]
async fn a_failing_endpoint_is_probed_not_hammered_and_gets_everything_once_it_answers() {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(503));
    let mut s = settings();
    s.delivery.breaker_threshold = 3;
    s.delivery.breaker_failing_for = Duration::ZERO;
    s.delivery.breaker_max_probe_interval = Duration::from_secs(1);
    // Twenty retries 100 ms apart: without a breaker, 420 requests in about two seconds and
    // every delivery dead. A probe is a real attempt of one delivery, so each has attempts to
    // spare for the few probes of this test.
    s.retry.schedule = RetryPolicy::new(vec![Duration::from_millis(100); 20]).expect("valid");
    let app = TestApp::spawn_with(s).await;
    app.create_app("shop").await;
    let mut feed = Stream::open(&app.base, TOKEN, "app=shop", None).await;
    let endpoint = app
        .create_endpoint("shop", json!({"url": receiver.url("/hook")}))
        .await;
    let endpoint_id = endpoint["id"].as_str().expect("endpoint id");
    for i in 0..20 {
        app.send("shop", "order.paid", json!({"i": i})).await;
    }
    // The first failures open the breaker; the rest wait for a probe a second.
    let stats_path = format!("/api/v1/app/shop/endpoint/{endpoint_id}/stats");
    throughout(
        "no delivery dies while its endpoint is down",
        Duration::from_millis(2_500),
        async || app.get(&stats_path).await["fail"] == 0,
    )
    .await;
    let while_down = receiver.received().len();
    assert!(
        while_down < 40,
        "{while_down} requests reached an endpoint failing every one in 2.5 s"
    );
    // The live feed told of it, naming the node whose breaker it is.
    let changes = feed.take("endpoint", 2).await;
    assert_eq!(changes[0].data["change"], "created", "{:?}", changes[0]);
    let opened = &changes[1].data;
    assert_eq!(
        (opened["change"].as_str(), opened["endpointId"].as_str()),
        (Some("breaker_opened"), Some(endpoint_id)),
        "{opened}"
    );
    let node = opened["detail"].as_str().expect("the node's name");
    assert!(!node.is_empty());
    receiver.set_default(Reply::status(200));
    let closed = feed.take("endpoint", 1).await;
    assert_eq!(
        (
            closed[0].data["change"].as_str(),
            closed[0].data["detail"].as_str()
        ),
        (Some("breaker_closed"), Some(node)),
        "{:?}",
        closed[0]
    );
    let stats = app.settled("shop", endpoint_id).await;
    assert_eq!(
        (stats["success"].as_i64(), stats["fail"].as_i64()),
        (Some(20), Some(0)),
        "{stats}"
    );
}
