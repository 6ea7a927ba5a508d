//! Pauses on every backend: what a pause holds back is never claimed, and comes back in order
//! when it is lifted.

use std::sync::Arc;

use rustyhook_core::id::AppId;

use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    paused_work_is_left_out_of_claims_and_due_again_once_resumed,
    pausing_twice_keeps_the_first_pause_and_resuming_twice_finds_nothing,
    a_new_message_a_pause_holds_is_stored_unleased_even_when_a_lease_is_asked,
    a_pause_of_its_app_or_of_the_server_holds_a_new_message_and_no_other_pause_does,
);

fn pause(scope: PauseScope, target: &str, at: i64) -> Pause {
    Pause {
        scope,
        target: target.to_owned(),
        reason: Some("maintenance".into()),
        paused_by: "admin".into(),
        paused_at: at,
    }
}

/// Claims everything due at `now` for `node`, gives it straight back, and names what it got:
/// an endpoint's id or a handler's.
async fn claimable(store: &Arc<dyn Store>, now: i64) -> Vec<String> {
    let due = store.claim_due(&lease("n"), now, 100).await.expect("claim");
    let ids = due.iter().map(held).collect();
    store.release("n", ids, None).await.expect("release");
    let mut targets: Vec<String> = due
        .iter()
        .map(|d| match d {
            Due::Endpoint(c) => c.delivery.endpoint_id.to_string(),
            Due::Handler(r) => r.handler_id.clone(),
        })
        .collect();
    targets.sort();
    targets
}

async fn paused_work_is_left_out_of_claims_and_due_again_once_resumed(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 2).await;
    let b = app_with_endpoints(&store, 1).await;
    let first = send(&store, &a.id, "a", None, 10, None).await;
    let (e1, e2) = (
        first.deliveries[0].endpoint_id.to_string(),
        first.deliveries[1].endpoint_id.to_string(),
    );
    send(&store, &a.id, "a", None, 20, None).await;
    let e3 = send(&store, &b.id, "b", None, 30, None).await.deliveries[0]
        .endpoint_id
        .to_string();
    store
        .create_runs(vec![run("h", 40)], None)
        .await
        .expect("run");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let everything = sorted(vec![
        e1.clone(),
        e1.clone(),
        e2.clone(),
        e2.clone(),
        e3.clone(),
        "h".into(),
    ]);
    assert_eq!(claimable(&store, 100).await, everything);

    store
        .pause(pause(PauseScope::Endpoint, &e1, 50))
        .await
        .expect("pause");
    assert_eq!(
        claimable(&store, 100).await,
        sorted(vec![e2.clone(), e2.clone(), e3.clone(), "h".into()])
    );
    assert_eq!(
        store
            .waiting(PauseScope::Endpoint, &e1)
            .await
            .expect("waiting"),
        Waiting {
            count: 2,
            oldest: Some(10)
        }
    );
    // A source pause holds nothing in the queue back.
    store
        .pause(pause(PauseScope::Source, "orders", 50))
        .await
        .expect("pause");
    store
        .pause(pause(PauseScope::Server, "", 50))
        .await
        .expect("pause");
    assert!(claimable(&store, 100).await.is_empty());
    assert_eq!(store.next_due().await.expect("next"), None);
    assert_eq!(
        store
            .waiting(PauseScope::Server, "")
            .await
            .expect("waiting")
            .count,
        6
    );

    store
        .pause(pause(PauseScope::App, a.id.as_str(), 60))
        .await
        .expect("pause");
    store
        .pause(pause(PauseScope::Handler, "h", 60))
        .await
        .expect("pause");
    store
        .resume(PauseScope::Server, "")
        .await
        .expect("resume")
        .expect("it was paused");
    assert_eq!(claimable(&store, 100).await, vec![e3.clone()]);

    for (scope, target) in [
        (PauseScope::App, a.id.as_str()),
        (PauseScope::Handler, "h"),
        (PauseScope::Endpoint, &e1),
    ] {
        store.resume(scope, target).await.expect("resume");
    }
    assert_eq!(store.next_due().await.expect("next"), Some(10));
    // Back in the order they fell due: the oldest first.
    let due = store.claim_due(&lease("n"), 100, 100).await.expect("claim");
    let due_at: Vec<i64> = due
        .iter()
        .map(|d| match d {
            Due::Endpoint(c) => c.delivery.next_attempt_at.expect("due"),
            Due::Handler(r) => r.next_attempt_at.expect("due"),
        })
        .collect();
    assert_eq!(due_at, vec![10, 10, 20, 20, 30, 40]);
    let left: Vec<_> = store.list_pauses().await.expect("list");
    assert_eq!(left, vec![pause(PauseScope::Source, "orders", 50)]);
}

async fn pausing_twice_keeps_the_first_pause_and_resuming_twice_finds_nothing(
    store: Arc<dyn Store>,
) {
    let first = store
        .pause(pause(PauseScope::Handler, "h", 10))
        .await
        .expect("pause");
    let mut later = pause(PauseScope::Handler, "h", 20);
    later.reason = None;
    let again = store.pause(later).await.expect("pause again");
    assert_eq!(again, first);
    assert_eq!(
        store.list_pauses().await.expect("list"),
        vec![first.clone()]
    );
    assert_eq!(
        store
            .resume(PauseScope::Handler, "h")
            .await
            .expect("resume"),
        Some(first)
    );
    assert_eq!(
        store
            .resume(PauseScope::Handler, "h")
            .await
            .expect("resume"),
        None
    );
    assert!(store.list_pauses().await.expect("list").is_empty());
}

async fn a_new_message_a_pause_holds_is_stored_unleased_even_when_a_lease_is_asked(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 2).await;
    let b = app_with_endpoints(&store, 1).await;
    let before = send(&store, &a.id, "a", None, 10, Some("node-1")).await;
    assert!(before.leased);
    let endpoint = before.deliveries[0].endpoint_id.to_string();
    store
        .pause(pause(PauseScope::Endpoint, &endpoint, 20))
        .await
        .expect("pause");
    // One of its two deliveries is held: neither is leased, so no node's dispatcher gets them.
    let held = send(&store, &a.id, "a", None, 30, Some("node-1")).await;
    assert!(!held.leased);
    assert_eq!(held.deliveries.len(), 2);
    assert!(
        send(&store, &b.id, "b", None, 30, Some("node-1"))
            .await
            .leased
    );
    let other: Vec<String> = claim_deliveries(&store, "node-2", 100, 10)
        .await
        .iter()
        .map(|c| c.delivery.id.to_string())
        .collect();
    let unpaused: Vec<String> = held
        .deliveries
        .iter()
        .filter(|d| d.endpoint_id.as_str() != endpoint)
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(
        other, unpaused,
        "the claim takes the delivery no pause holds"
    );
    store
        .resume(PauseScope::Endpoint, &endpoint)
        .await
        .expect("resume");
    assert_eq!(claim_deliveries(&store, "node-2", 100, 10).await.len(), 1);
}

async fn a_pause_of_its_app_or_of_the_server_holds_a_new_message_and_no_other_pause_does(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 1).await;
    let b = app_with_endpoints(&store, 1).await;
    let leased = |app: &AppId, now: i64| {
        let (store, app) = (store.clone(), app.clone());
        async move {
            let created = send(&store, &app, "a", None, now, Some("node-1")).await;
            assert_eq!(
                created.deliveries.len(),
                1,
                "held or not, the delivery is stored"
            );
            created.leased
        }
    };
    for (scope, target) in [(PauseScope::Handler, "h"), (PauseScope::Source, "orders")] {
        store.pause(pause(scope, target, 10)).await.expect("pause");
        assert!(
            leased(&a.id, 20).await,
            "a {scope:?} pause holds no delivery"
        );
        store.resume(scope, target).await.expect("resume");
    }
    store
        .pause(pause(PauseScope::App, b.id.as_str(), 30))
        .await
        .expect("pause");
    assert!(
        leased(&a.id, 40).await,
        "another app's pause holds nothing of this one"
    );
    assert!(!leased(&b.id, 40).await, "its own app's pause holds it");
    store
        .resume(PauseScope::App, b.id.as_str())
        .await
        .expect("resume");
    store
        .pause(pause(PauseScope::Server, "", 50))
        .await
        .expect("pause");
    assert!(
        !leased(&a.id, 60).await,
        "the server's pause holds every app's"
    );
    assert!(
        !leased(&b.id, 60).await,
        "the server's pause holds every app's"
    );
    store.resume(PauseScope::Server, "").await.expect("resume");
    assert!(
        leased(&b.id, 70).await,
        "resumed, a new message is leased again"
    );
}
