//! Operational events: queued in the transaction of the change they report, and endpoints
//! disabled once for failing too long.

use std::sync::Arc;

use rustyhook_core::model::{Attempt, DeliveryStatus};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    an_endpoint_failing_since_before_the_cutoff_is_disabled_once_and_reported_once,
    a_success_clears_an_endpoints_failing_since,
    a_rejected_broker_message_is_reported_and_published_events_are_forgotten,
);

fn record(a: Attempt, status: DeliveryStatus) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempted::Endpoint(a),
        status,
        // Not due again within the test.
        next_attempt_at: (status == DeliveryStatus::Failed).then_some(1_000_000_000),
        disable_endpoint: false,
        leased_to: None,
    }
}

async fn queued_types(store: &Arc<dyn Store>) -> Vec<String> {
    store
        .pending_operational(100)
        .await
        .expect("pending")
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// An app with one endpoint whose first delivery failed at `at`.
async fn failing_endpoint(store: &Arc<dyn Store>, at: i64) -> rustyhook_core::model::Endpoint {
    let a = app_with_endpoints(store, 1).await;
    send(store, &a.id, "a", None, at, None).await;
    let claimed = claim_deliveries(store, "n", at, 10).await;
    let d = claimed[0].delivery.clone();
    store
        .record_attempt(record(failed_attempt(&d, at), DeliveryStatus::Failed))
        .await
        .expect("record");
    store
        .get_endpoint_by_id(&d.endpoint_id)
        .await
        .expect("get")
        .expect("the endpoint")
}

async fn an_endpoint_failing_since_before_the_cutoff_is_disabled_once_and_reported_once(
    store: Arc<dyn Store>,
) {
    let e = failing_endpoint(&store, 1_000).await;
    assert_eq!(queued_types(&store).await, ["endpoint.created"]);
    let early = store
        .disable_failing_endpoints(1_000, 1_500)
        .await
        .expect("check");
    assert!(early.is_empty(), "failing since 1000, not before it");
    let disabled = store
        .disable_failing_endpoints(2_000, 2_500)
        .await
        .expect("check");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].endpoint_id, e.id.as_str());
    assert_eq!(disabled[0].failing_since, Some(1_000));
    let again = store
        .disable_failing_endpoints(3_000, 3_500)
        .await
        .expect("check");
    assert!(
        again.is_empty(),
        "a disabled endpoint is not disabled again"
    );
    let stored = store.get_endpoint_by_id(&e.id).await.expect("get");
    assert!(stored.expect("kept").disabled);
    assert_eq!(
        queued_types(&store).await,
        ["endpoint.created", "endpoint.disabled"]
    );
}

async fn a_success_clears_an_endpoints_failing_since(store: Arc<dyn Store>) {
    let e = failing_endpoint(&store, 1_000).await;
    let d = send(&store, &e.app_id, "a", None, 1_100, None)
        .await
        .deliveries[0]
        .clone();
    claim_deliveries(&store, "n", 1_100, 10).await;
    let mut ok = failed_attempt(&d, 1_100);
    ok.outcome = OutcomeCode::Ok;
    ok.status_code = 200;
    store
        .record_attempt(record(ok, DeliveryStatus::Succeeded))
        .await
        .expect("record");
    let disabled = store
        .disable_failing_endpoints(5_000, 5_000)
        .await
        .expect("check");
    assert!(disabled.is_empty(), "a success in between clears it");
}

async fn a_rejected_broker_message_is_reported_and_published_events_are_forgotten(
    store: Arc<dyn Store>,
) {
    store
        .record_rejected(RejectedMessage {
            id: "rej_1".into(),
            source: "orders".into(),
            broker_id: "1-0".into(),
            reason: "not JSON".into(),
            body: "oops".into(),
            created_at: 10,
        })
        .await
        .expect("record");
    let pending = store.pending_operational(10).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event_type, "source.rejected");
    let payload: serde_json::Value = serde_json::from_str(&pending[0].payload).expect("json");
    assert_eq!(payload["data"]["source"], "orders");
    assert_eq!(payload["data"]["reason"], "not JSON");
    store
        .forget_operational(vec![pending[0].id.clone()])
        .await
        .expect("forget");
    assert!(queued_types(&store).await.is_empty());
}

#[tokio::test]
async fn of_two_nodes_disabling_at_once_one_disables_and_reports_each_endpoint() {
    let f = crate::fixtures::Postgres::new().await;
    let other = f.another_node().await;
    for _ in 0..5 {
        failing_endpoint(&f.store, 1_000).await;
    }
    let (a, b) = tokio::join!(
        f.store.disable_failing_endpoints(2_000, 2_000),
        other.disable_failing_endpoints(2_000, 2_000)
    );
    let total = a.expect("one node").len() + b.expect("the other").len();
    assert_eq!(total, 5);
    let disabled = queued_types(&f.store)
        .await
        .into_iter()
        .filter(|t| t == "endpoint.disabled")
        .count();
    assert_eq!(disabled, 5);
}
