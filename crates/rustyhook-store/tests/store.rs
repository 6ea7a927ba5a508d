//! The store's behaviour, written against the `Store` trait so every implementation runs it.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId};
use rustyhook_core::model::{
    App, Attempt, DeliveryStatus, Endpoint, EndpointSecret, Message, TriggerType,
};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::signing::{HeaderStyle, SigningSecret};
use rustyhook_store::sqlite::{SqliteOptions, SqliteStore};
use rustyhook_store::*;

struct Fixture {
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    key: [u8; 32],
}

fn open_at(dir: &std::path::Path, key: &[u8; 32]) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(
            &dir.join("db.sqlite"),
            SecretBox::new(key),
            SqliteOptions { full_sync: false },
        )
        .expect("store opens"),
    )
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = SecretBox::generate_key();
    Fixture {
        store: open_at(dir.path(), &key),
        dir,
        key,
    }
}

fn app(uid: Option<&str>) -> App {
    App {
        id: AppId::generate(1),
        uid: uid.map(|u| Uid::parse(u).expect("valid uid")),
        name: "Acme".into(),
        rate_limit: None,
        metadata: BTreeMap::new(),
        created_at: 1,
        updated_at: 1,
    }
}

fn endpoint(app: &AppId, types: Option<&[&str]>, channels: Option<&[&str]>) -> Endpoint {
    Endpoint {
        id: EndpointId::generate(2),
        app_id: app.clone(),
        uid: None,
        url: "https://example.com/hook".into(),
        description: String::new(),
        version: 1,
        disabled: false,
        rate_limit: None,
        filter_types: types.map(|t| {
            t.iter()
                .map(|s| EventTypeName::parse(*s).expect("valid"))
                .collect()
        }),
        channels: channels.map(|c| {
            c.iter()
                .map(|s| Channel::parse(*s).expect("valid"))
                .collect()
        }),
        metadata: BTreeMap::new(),
        headers: BTreeMap::new(),
        secrets: vec![EndpointSecret {
            secret: SigningSecret::generate(),
            expires_at: None,
        }],
        header_style: HeaderStyle::Standard,
        max_in_flight: 32,
        created_at: 2,
        updated_at: 2,
    }
}

fn message(app: &AppId, event_type: &str, event_id: Option<&str>, now: i64) -> Message {
    Message {
        id: MessageId::generate(now),
        app_id: app.clone(),
        event_id: event_id.map(|e| Uid::parse(e).expect("valid")),
        event_type: EventTypeName::parse(event_type).expect("valid"),
        payload: Some(Arc::from(r#"{"n":1}"#)),
        channels: None,
        created_at: now,
    }
}

/// Stores a message of `event_type` for `app`, optionally leased to `lease`.
async fn send(
    store: &Arc<dyn Store>,
    app: &AppId,
    event_type: &str,
    event_id: Option<&str>,
    now: i64,
    lease: Option<&str>,
) -> MessageCreated {
    store
        .create_message(NewMessage {
            message: message(app, event_type, event_id, now),
            lease_to: lease.map(str::to_owned),
            only_endpoint: None,
        })
        .await
        .expect("message is stored")
}

/// The ids of one page of apps.
async fn app_page(store: &Arc<dyn Store>, cursor: Option<Cursor>) -> (Vec<AppId>, bool) {
    let listed = store
        .list_apps(Page {
            limit: 2,
            order: Order::Ascending,
            cursor,
        })
        .await
        .expect("page");
    (
        listed.items.into_iter().map(|a| a.id).collect(),
        listed.done,
    )
}

fn failed_attempt(d: &rustyhook_core::model::Delivery, now: i64) -> Attempt {
    Attempt {
        id: AttemptId::generate(now),
        delivery_id: d.id.clone(),
        msg_id: d.msg_id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        app_id: d.app_id.clone(),
        url: "https://example.com/hook".into(),
        outcome: OutcomeCode::HttpStatus,
        status_code: 500,
        response: Some("boom".into()),
        duration_ms: 3,
        trigger: TriggerType::Scheduled,
        created_at: now,
    }
}

#[tokio::test]
async fn a_message_creates_one_delivery_per_matching_endpoint_in_its_transaction() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    let all = f
        .store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let paid = f
        .store
        .create_endpoint(endpoint(&a.id, Some(&["invoice.paid"]), None))
        .await
        .expect("ep");
    let _other = f
        .store
        .create_endpoint(endpoint(&a.id, Some(&["user.signup"]), None))
        .await
        .expect("ep");

    let created = send(&f.store, &a.id, "invoice.paid", None, 10, Some("node-1")).await;
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
        f.store
            .claim_due("node-2", 1_000, 100)
            .await
            .expect("claim")
            .is_empty()
    );
}

#[tokio::test]
async fn a_repeated_event_id_returns_the_first_message_and_creates_nothing() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    f.store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let first = send(&f.store, &a.id, "a", Some("evt-1"), 10, None).await;
    let again = send(&f.store, &a.id, "a", Some("evt-1"), 11, None).await;
    assert!(again.existing);
    assert_eq!(again.message.id, first.message.id);
    assert!(again.deliveries.is_empty());
    assert_eq!(f.store.queue_depth().await.expect("depth"), 1);
}

#[tokio::test]
async fn due_deliveries_are_claimed_once_and_a_failure_schedules_the_next_attempt() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    f.store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send(&f.store, &a.id, "a", None, 10, None).await;

    let claimed = f.store.claim_due("n", 10, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload.as_deref(), Some(r#"{"n":1}"#));
    assert!(
        f.store
            .claim_due("n", 10, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    let d = claimed[0].delivery.clone();
    f.store
        .record_attempt(AttemptRecord {
            attempt: failed_attempt(&d, 20),
            status: DeliveryStatus::Failed,
            next_attempt_at: Some(5_000),
            disable_endpoint: false,
        })
        .await
        .expect("record");
    assert!(
        f.store
            .claim_due("n", 4_999, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(f.store.next_due().await.expect("next"), Some(5_000));
    let again = f.store.claim_due("n", 5_000, 10).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 1);
}

#[tokio::test]
async fn leases_of_a_crashed_process_are_released_when_the_store_reopens() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    f.store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send(&f.store, &a.id, "a", None, 10, Some("dead-node")).await;
    let Fixture { store, dir, key } = f;
    drop(store);
    let reopened = open_at(dir.path(), &key);
    assert_eq!(
        reopened.claim_due("n", 10, 10).await.expect("claim").len(),
        1
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_database() {
    let f = fixture();
    let second = SqliteStore::open(
        &f.dir.path().join("db.sqlite"),
        SecretBox::new(&f.key),
        SqliteOptions::default(),
    );
    assert!(second.is_err());
}

#[tokio::test]
async fn endpoint_secrets_are_encrypted_at_rest_and_read_back_with_the_key() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    let ep = f
        .store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let exposed = ep.secrets[0].secret.expose();
    let back = f
        .store
        .get_endpoint(&a.id, ep.id.as_str())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(back.secrets, ep.secrets);
    drop(f.store);
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(f.dir.path()).expect("dir") {
        raw.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let b64 = exposed.trim_start_matches("whsec_");
    assert!(!String::from_utf8_lossy(&raw).contains(b64));
}

#[tokio::test]
async fn uids_are_unique_and_lookups_accept_id_or_uid() {
    let f = fixture();
    let a = f.store.create_app(app(Some("acme"))).await.expect("app");
    assert!(matches!(
        f.store.create_app(app(Some("acme"))).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(f.store.get_app("acme").await.expect("get"), Some(a.clone()));
    assert_eq!(f.store.get_app(a.id.as_str()).await.expect("get"), Some(a));
    assert_eq!(f.store.get_app("nope").await.expect("get"), None);
}

#[tokio::test]
async fn pages_walk_forwards_and_back_without_gaps() {
    let f = fixture();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut x = app(None);
        x.id = AppId::generate(100 + i);
        ids.push(f.store.create_app(x).await.expect("app").id);
    }
    let (p1, done) = app_page(&f.store, None).await;
    assert_eq!(p1, ids[0..2]);
    assert!(!done);
    let (p2, _) = app_page(&f.store, Some(Cursor::After(ids[1].to_string()))).await;
    assert_eq!(p2, ids[2..4]);
    let (back, _) = app_page(&f.store, Some(Cursor::Before(ids[2].to_string()))).await;
    assert_eq!(back, ids[0..2]);
    let (last, done) = app_page(&f.store, Some(Cursor::After(ids[3].to_string()))).await;
    assert!(done);
    assert_eq!(last.len(), 1);
}

#[tokio::test]
async fn recover_brings_dead_deliveries_back_as_manual_attempts() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    let ep = f
        .store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send(&f.store, &a.id, "a", None, 10, None).await;
    let d = f
        .store
        .claim_due("n", 10, 1)
        .await
        .expect("claim")
        .remove(0)
        .delivery;
    f.store
        .record_attempt(AttemptRecord {
            attempt: failed_attempt(&d, 20),
            status: DeliveryStatus::Dead,
            next_attempt_at: None,
            disable_endpoint: false,
        })
        .await
        .expect("record");
    assert!(
        f.store
            .claim_due("n", 1_000_000, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        f.store.recover(&ep.id, 0, None, 30).await.expect("recover"),
        1
    );
    let back = f.store.claim_due("n", 30, 1).await.expect("claim");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].trigger, TriggerType::Manual);
}

#[tokio::test]
async fn idempotency_keys_replay_completed_responses_and_expire() {
    let f = fixture();
    let s = &f.store;
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

#[tokio::test]
async fn fan_out_follows_endpoint_changes_made_between_messages() {
    let f = fixture();
    let a = f.store.create_app(app(None)).await.expect("app");
    let fan_out = |now: i64| {
        let (store, app_id) = (f.store.clone(), a.id.clone());
        async move {
            send(&store, &app_id, "a", None, now, None)
                .await
                .deliveries
                .len()
        }
    };
    assert_eq!(fan_out(10).await, 0);
    let mut ep = f
        .store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    assert_eq!(
        fan_out(11).await,
        1,
        "a new endpoint receives the next message"
    );
    ep.disabled = true;
    let ep = f.store.update_endpoint(ep).await.expect("update");
    assert_eq!(fan_out(12).await, 0, "a disabled endpoint receives nothing");
    let mut ep = ep;
    ep.disabled = false;
    let ep = f.store.update_endpoint(ep).await.expect("update");
    assert_eq!(fan_out(13).await, 1);
    f.store.delete_endpoint(&ep.id).await.expect("delete");
    assert_eq!(fan_out(14).await, 0, "a deleted endpoint receives nothing");
}
