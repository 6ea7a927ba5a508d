//! The store's behaviour, written against the `Store` trait. Each test here runs once per
//! backend, as `sqlite::<name>` and `postgres::<name>`; what only one backend can show lives in
//! `sqlite_only` and `postgres_only`. Runs and lists have their own modules.

/// Emits, for each named `async fn(Arc<dyn Store>)` of the calling module, one test per
/// backend, each on a fresh store.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = $crate::fixtures::Sqlite::new();
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = $crate::fixtures::Postgres::new().await;
                    super::$name(f.store.clone()).await;
                }
            )*
        }
    };
}

mod access;
mod alerts;
mod at_rest;
mod dead_letters;
mod feed;
mod fixtures;
mod lists;
mod operational;
mod pauses;
mod postgres_only;
mod runs;
mod sqlite_only;
mod stats;
mod support;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::id::AppId;
use rustyhook_core::model::{DeliveryStatus, TriggerType};
use rustyhook_store::*;

use support::*;

on_every_backend!(
    a_message_creates_one_delivery_per_matching_endpoint_in_its_transaction,
    a_repeated_event_id_returns_the_first_message_and_creates_nothing,
    due_deliveries_are_claimed_once_and_a_failure_schedules_the_next_attempt,
    uids_are_unique_and_lookups_accept_id_or_uid,
    pages_walk_forwards_and_back_without_gaps,
    recover_brings_dead_deliveries_back_as_manual_attempts,
    idempotency_keys_replay_completed_responses_and_expire,
    expired_idempotency_keys_are_purged_and_recent_ones_kept,
    fan_out_follows_endpoint_changes_made_between_messages,
    endpoint_secrets_read_back_as_they_were_stored,
    a_tick_stores_its_runs_once_and_never_for_an_earlier_tick,
    a_tick_key_that_is_not_a_number_counts_as_no_tick_yet,
    releasing_dead_nodes_leaves_a_live_nodes_leases_alone,
    leadership_once_won_is_held_on_every_call,
    wakeups_when_offered_fire_for_unleased_work,
    rejected_broker_messages_are_kept_and_listed_by_source,
);

async fn a_message_creates_one_delivery_per_matching_endpoint_in_its_transaction(
    store: Arc<dyn Store>,
) {
    let a = store.create_app(app(None)).await.expect("app");
    let all = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let paid = store
        .create_endpoint(endpoint(&a.id, Some(&["invoice.paid"]), None))
        .await
        .expect("ep");
    let _other = store
        .create_endpoint(endpoint(&a.id, Some(&["user.signup"]), None))
        .await
        .expect("ep");

    let created = send(&store, &a.id, "invoice.paid", None, 10, Some("node-1")).await;
    let mut targets: Vec<_> = created
        .deliveries
        .iter()
        .map(|d| d.endpoint_id.clone())
        .collect();
    targets.sort();
    let mut expected = vec![all.id, paid.id];
    expected.sort();
    assert_eq!(targets, expected);
    // Leased to the node that took it: the poller must not hand them out again.
    assert!(
        store
            .claim_due(&lease("node-2"), 1_000, 100)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn a_repeated_event_id_returns_the_first_message_and_creates_nothing(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    let first = send(&store, &a.id, "a", Some("evt-1"), 10, None).await;
    let again = send(&store, &a.id, "a", Some("evt-1"), 11, None).await;
    assert!(again.existing);
    assert_eq!(again.message.id, first.message.id);
    assert!(again.deliveries.is_empty());
    assert_eq!(store.queue_depth().await.expect("depth"), 1);
}

async fn due_deliveries_are_claimed_once_and_a_failure_schedules_the_next_attempt(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 1).await;
    send(&store, &a.id, "a", None, 10, None).await;

    let claimed = claim_deliveries(&store, "n", 10, 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload.as_deref(), Some(r#"{"n":1}"#));
    assert!(
        store
            .claim_due(&lease("n"), 10, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    let d = claimed[0].delivery.clone();
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(failed_attempt(&d, 20)),
            status: DeliveryStatus::Failed,
            next_attempt_at: Some(5_000),
            disable_endpoint: false,
            leased_to: None,
        })
        .await
        .expect("record");
    assert!(
        store
            .claim_due(&lease("n"), 4_999, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.next_due().await.expect("next"), Some(5_000));
    let again = claim_deliveries(&store, "n", 5_000, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 1);
}

async fn uids_are_unique_and_lookups_accept_id_or_uid(store: Arc<dyn Store>) {
    let a = store.create_app(app(Some("acme"))).await.expect("app");
    assert!(matches!(
        store.create_app(app(Some("acme"))).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_app("acme").await.expect("get"), Some(a.clone()));
    assert_eq!(store.get_app(a.id.as_str()).await.expect("get"), Some(a));
    assert_eq!(store.get_app("nope").await.expect("get"), None);
}

async fn pages_walk_forwards_and_back_without_gaps(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut x = app(None);
        x.id = AppId::generate(100 + i);
        ids.push(store.create_app(x).await.expect("app").id);
    }
    let (p1, done) = app_page(&store, None).await;
    assert_eq!(p1, ids[0..2]);
    assert!(!done);
    let (p2, _) = app_page(&store, Some(Cursor::After(ids[1].to_string()))).await;
    assert_eq!(p2, ids[2..4]);
    let (back, _) = app_page(&store, Some(Cursor::Before(ids[2].to_string()))).await;
    assert_eq!(back, ids[0..2]);
    let (last, done) = app_page(&store, Some(Cursor::After(ids[3].to_string()))).await;
    assert!(done);
    assert_eq!(last.len(), 1);
}

async fn recover_brings_dead_deliveries_back_as_manual_attempts(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send(&store, &a.id, "a", None, 10, None).await;
    let d = claim_deliveries(&store, "n", 10, 1)
        .await
        .remove(0)
        .delivery;
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(failed_attempt(&d, 20)),
            status: DeliveryStatus::Dead,
            next_attempt_at: None,
            disable_endpoint: false,
            leased_to: None,
        })
        .await
        .expect("record");
    assert!(
        store
            .claim_due(&lease("n"), 1_000_000, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .recover(&Target::Endpoint(ep.id.clone()), 0, None, 30)
            .await
            .expect("recover"),
        1
    );
    let back = claim_deliveries(&store, "n", 30, 1).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].trigger, TriggerType::Manual);
}

async fn idempotency_keys_replay_completed_responses_and_expire(store: Arc<dyn Store>) {
    let s = &store;
    assert_eq!(
        s.idempotency_begin("k", 100, 0, 0).await.expect("b"),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.idempotency_begin("k", 101, 0, 0).await.expect("b"),
        IdempotencyBegin::InProgress
    );
    s.idempotency_complete("k", 202, b"{}".to_vec())
        .await
        .expect("c");
    assert_eq!(
        s.idempotency_begin("k", 102, 0, 0).await.expect("b"),
        IdempotencyBegin::Completed {
            status: 202,
            body: b"{}".to_vec()
        }
    );
    // Older than the expiry: the key is free again.
    assert_eq!(
        s.idempotency_begin("k", 200, 0, 150).await.expect("b"),
        IdempotencyBegin::Started
    );
}

async fn expired_idempotency_keys_are_purged_and_recent_ones_kept(store: Arc<dyn Store>) {
    for (key, created) in [("old", 100), ("new", 300)] {
        store
            .idempotency_begin(key, created, 0, 0)
            .await
            .expect("begin");
        store
            .idempotency_complete(key, 200, b"{}".to_vec())
            .await
            .expect("complete");
    }
    assert_eq!(store.idempotency_purge(200).await.expect("purge"), 1);
    assert_eq!(store.idempotency_purge(200).await.expect("purge"), 0);
    assert!(matches!(
        store.idempotency_begin("new", 301, 0, 0).await.expect("b"),
        IdempotencyBegin::Completed { .. }
    ));
}

async fn fan_out_follows_endpoint_changes_made_between_messages(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let fan_out = |now: i64| {
        let (store, app_id) = (store.clone(), a.id.clone());
        async move {
            send(&store, &app_id, "a", None, now, None)
                .await
                .deliveries
                .len()
        }
    };
    assert_eq!(fan_out(10).await, 0);
    let mut ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    assert_eq!(
        fan_out(11).await,
        1,
        "a new endpoint receives the next message"
    );
    ep.disabled = true;
    let ep = store.update_endpoint(ep).await.expect("update");
    assert_eq!(fan_out(12).await, 0, "a disabled endpoint receives nothing");
    let mut ep = ep;
    ep.disabled = false;
    let ep = store.update_endpoint(ep).await.expect("update");
    assert_eq!(fan_out(13).await, 1);
    store.delete_endpoint(&ep.id).await.expect("delete");
    assert_eq!(fan_out(14).await, 0, "a deleted endpoint receives nothing");
}

async fn endpoint_secrets_read_back_as_they_were_stored(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let back = store
        .get_endpoint(&a.id, ep.id.as_str())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(back, ep);
}

async fn a_tick_stores_its_runs_once_and_never_for_an_earlier_tick(store: Arc<dyn Store>) {
    let tick = |at: i64| {
        let store = store.clone();
        async move {
            store
                .create_tick_runs("cron:nightly", at, vec![run("nightly", at)], None)
                .await
                .expect("tick")
        }
    };
    assert!(tick(1_000).await, "the first tick fires");
    assert!(!tick(1_000).await, "the same tick fires once");
    assert!(!tick(500).await, "an earlier tick never fires");
    assert!(tick(2_000).await, "a later tick fires");
    assert_eq!(
        store
            .get_meta("cron:nightly")
            .await
            .expect("meta")
            .as_deref(),
        Some("2000")
    );
    let runs = store
        .list_runs(
            Some("nightly".into()),
            None,
            Page::first(10, Order::Ascending),
        )
        .await
        .expect("runs");
    assert_eq!(runs.items.len(), 2);
}

async fn a_tick_key_that_is_not_a_number_counts_as_no_tick_yet(store: Arc<dyn Store>) {
    store.set_meta("cron:odd", "garbage").await.expect("meta");
    assert!(
        store
            .create_tick_runs("cron:odd", 10, vec![run("odd", 10)], Some(lease("node-1")))
            .await
            .expect("tick")
    );
    assert_eq!(
        store.get_meta("cron:odd").await.expect("meta").as_deref(),
        Some("10")
    );
    // Leased to the node that stored the tick: no one else claims it.
    assert!(
        store
            .claim_due(&lease("node-2"), 10, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn releasing_dead_nodes_leaves_a_live_nodes_leases_alone(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    store.heartbeat("node-1").await.expect("heartbeat");
    send(&store, &a.id, "a", None, 10, Some("node-1")).await;
    store
        .create_runs(vec![run("h", 10)], Some(lease("node-1")))
        .await
        .expect("runs");
    let beat = store.heartbeat("node-1").await.expect("heartbeat");
    assert!(beat.known, "a node that beat before is known");
    assert_eq!(store.release_dead_nodes(60_000).await.expect("reap"), 0);
    assert!(
        store
            .claim_due(&lease("node-2"), 10_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "neither the delivery nor the run is free"
    );
}

async fn leadership_once_won_is_held_on_every_call(store: Arc<dyn Store>) {
    assert!(store.hold_leadership("cron").await.expect("lead"));
    assert!(store.hold_leadership("cron").await.expect("lead"));
    assert!(store.hold_leadership("retention").await.expect("lead"));
    assert!(store.hold_leadership("cron").await.expect("lead"));
}

async fn wakeups_when_offered_fire_for_unleased_work(store: Arc<dyn Store>) {
    let Some(wakeups) = store.wakeups() else {
        // A store with no other writers offers none; its own code knows when it made work due.
        return;
    };
    let a = app_with_endpoints(&store, 1).await;
    send(&store, &a.id, "a", None, 10, None).await;
    tokio::time::timeout(Duration::from_secs(10), wakeups.due.notified())
        .await
        .expect("a new unleased message wakes the queue");
    store
        .create_runs(vec![run("h", 10)], None)
        .await
        .expect("runs");
    tokio::time::timeout(Duration::from_secs(10), wakeups.due.notified())
        .await
        .expect("a new unleased run wakes the queue");
}

async fn rejected_broker_messages_are_kept_and_listed_by_source(store: Arc<dyn Store>) {
    for (i, source) in ["orders", "audit", "orders"].into_iter().enumerate() {
        store
            .record_rejected(RejectedMessage {
                id: format!("rej_{i}"),
                source: source.into(),
                broker_id: format!("1700000000000-{i}"),
                reason: "the message is not JSON".into(),
                body: "{oops".into(),
                created_at: 10 + i as i64,
            })
            .await
            .expect("recorded");
    }
    let orders = store
        .list_rejected(Some("orders".into()), Page::first(10, Order::Ascending))
        .await
        .expect("listed");
    let ids: Vec<&str> = orders.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["rej_0", "rej_2"]);
    assert_eq!(orders.items[1].broker_id, "1700000000000-2");
    assert_eq!(orders.items[1].body, "{oops");
    let all = store
        .list_rejected(None, Page::first(10, Order::Ascending))
        .await
        .expect("listed");
    assert_eq!(all.items.len(), 3);
}
