//! Lists, filters and removals on every backend: what the API shows must not depend on the
//! database behind it.

use std::sync::Arc;

use rustyhook_core::model::{DeliveryStatus, EventType, TriggerType};
use rustyhook_core::names::{Channel, EventTypeName};
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    messages_filter_by_channel_event_type_and_time,
    attempts_filter_by_outcome_status_class_and_channel,
    an_endpoint_counts_and_lists_what_it_was_sent,
    deleting_an_endpoint_cancels_what_it_had_outstanding,
    deleting_an_app_removes_what_it_owns,
    event_types_are_replaced_by_name_and_archived_ones_hidden,
    resend_schedules_a_manual_attempt_and_creates_a_missing_delivery,
    expunged_payloads_and_responses_read_back_empty,
);

fn page(limit: usize) -> Page {
    Page::first(limit, Order::Descending)
}

/// Stores a message on `channels`, unleased.
async fn send_on(
    store: &Arc<dyn Store>,
    app: &rustyhook_core::id::AppId,
    event_type: &str,
    channels: &[&str],
    now: i64,
) -> MessageCreated {
    let mut m = message(app, event_type, None, now);
    m.channels = Some(
        channels
            .iter()
            .map(|c| Channel::parse(*c).expect("valid"))
            .collect(),
    );
    store
        .create_message(NewMessage {
            message: m,
            lease_to: None,
            only_endpoint: None,
            deliver_at: None,
        })
        .await
        .expect("message")
}

async fn messages_filter_by_channel_event_type_and_time(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let eu = send_on(&store, &a.id, "invoice.paid", &["eu", "us"], 10).await;
    let us = send_on(&store, &a.id, "user.signup", &["us"], 20).await;
    let none = send(&store, &a.id, "invoice.paid", None, 30, None).await;
    let ids = |filter: MessageFilter| {
        let (store, app_id) = (store.clone(), a.id.clone());
        async move {
            store
                .list_messages(&app_id, filter, page(10))
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    let all = ids(MessageFilter::default()).await;
    assert_eq!(
        all,
        [
            none.message.id.clone(),
            us.message.id.clone(),
            eu.message.id.clone()
        ],
        "newest first"
    );
    let on_eu = MessageFilter {
        channel: Some(Channel::parse("eu").expect("valid")),
        ..MessageFilter::default()
    };
    assert_eq!(ids(on_eu).await, std::slice::from_ref(&eu.message.id));
    let paid = MessageFilter {
        event_types: Some(vec![EventTypeName::parse("invoice.paid").expect("valid")]),
        ..MessageFilter::default()
    };
    assert_eq!(ids(paid).await, [none.message.id, eu.message.id]);
    let middle = MessageFilter {
        after: Some(10),
        before: Some(30),
        ..MessageFilter::default()
    };
    assert_eq!(ids(middle).await, std::slice::from_ref(&us.message.id));
    let tagged = MessageFilter {
        tags: Some(vec!["user.signup-tag".into(), "no-such-tag".into()]),
        ..MessageFilter::default()
    };
    assert_eq!(ids(tagged).await, [us.message.id]);
}

async fn attempts_filter_by_outcome_status_class_and_channel(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send_on(&store, &a.id, "a", &["eu"], 10).await;
    send(&store, &a.id, "b", None, 11, None).await;
    let claimed = claim_deliveries(&store, "n", 20, 10).await;
    assert_eq!(claimed.len(), 2);
    let mut records = Vec::new();
    for (i, c) in claimed.iter().enumerate() {
        let mut attempt = failed_attempt(&c.delivery, 30 + i as i64);
        if c.event_type.as_str() == "a" {
            attempt.outcome = rustyhook_core::outcome::OutcomeCode::Ok;
            attempt.status_code = 204;
        }
        records.push(AttemptRecord {
            attempt: Attempted::Endpoint(attempt),
            status: DeliveryStatus::Succeeded,
            next_attempt_at: None,
            disable_endpoint: false,
            leased_to: None,
        });
    }
    store.record_attempts(records).await.expect("record");
    let count = |filter: AttemptFilter| {
        let (store, app_id) = (store.clone(), a.id.clone());
        async move {
            store
                .list_attempts(&app_id, filter, page(10))
                .await
                .expect("list")
                .items
                .len()
        }
    };
    assert_eq!(count(AttemptFilter::default()).await, 2);
    let ok = AttemptFilter {
        status: Some(0),
        ..AttemptFilter::default()
    };
    assert_eq!(count(ok).await, 1);
    let server_errors = AttemptFilter {
        status_code_class: Some(500),
        ..AttemptFilter::default()
    };
    assert_eq!(count(server_errors).await, 1);
    let on_eu = AttemptFilter {
        channel: Some(Channel::parse("eu").expect("valid")),
        endpoint_id: Some(ep.id.clone()),
        ..AttemptFilter::default()
    };
    assert_eq!(count(on_eu).await, 1);
}

async fn an_endpoint_counts_and_lists_what_it_was_sent(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let first = send(&store, &a.id, "a", None, 10, None).await;
    send(&store, &a.id, "a", None, 11, None).await;
    let c = claim_deliveries(&store, "n", 10, 1).await.remove(0);
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(failed_attempt(&c.delivery, 20)),
            status: DeliveryStatus::Dead,
            next_attempt_at: None,
            disable_endpoint: true,
            leased_to: None,
        })
        .await
        .expect("record");
    let stats = store
        .endpoint_stats(&ep.id, None, None)
        .await
        .expect("stats");
    assert_eq!(
        stats,
        EndpointStats {
            pending: 1,
            fail: 1,
            ..EndpointStats::default()
        }
    );
    let failed = store
        .list_endpoint_messages(&ep.id, Some(2), MessageFilter::default(), page(10))
        .await
        .expect("list");
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].message.id, first.message.id);
    let deliveries = store
        .list_message_deliveries(&first.message.id, page(10))
        .await
        .expect("deliveries");
    assert_eq!(deliveries.items.len(), 1);
    let (delivery, to) = &deliveries.items[0];
    assert_eq!(delivery.status, DeliveryStatus::Dead);
    assert!(to.disabled, "a 410 disabled the endpoint");
}

async fn deleting_an_endpoint_cancels_what_it_had_outstanding(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    send(&store, &a.id, "a", None, 10, None).await;
    send(&store, &a.id, "a", None, 11, Some("n")).await;
    store.delete_endpoint(&ep.id).await.expect("delete");
    assert_eq!(store.queue_depth().await.expect("depth"), 0);
    let stats = store
        .endpoint_stats(&ep.id, None, None)
        .await
        .expect("stats");
    assert_eq!(stats.canceled, 2);
    assert!(matches!(
        store.delete_endpoint(&ep.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn deleting_an_app_removes_what_it_owns(store: Arc<dyn Store>) {
    let a = store.create_app(app(Some("acme"))).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let sent = send(&store, &a.id, "a", Some("evt-1"), 10, None).await;
    store.delete_app(&a.id).await.expect("delete");
    assert_eq!(store.get_app("acme").await.expect("get"), None);
    assert!(
        store
            .get_endpoint_by_id(&ep.id)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_message(&a.id, sent.message.id.as_str())
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(store.queue_depth().await.expect("depth"), 0);
    assert!(matches!(
        store.delete_app(&a.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn event_types_are_replaced_by_name_and_archived_ones_hidden(store: Arc<dyn Store>) {
    let event_type = |name: &str, archived: bool| EventType {
        name: EventTypeName::parse(name).expect("valid"),
        description: format!("{name} happened"),
        schemas: Some(serde_json::json!({"1": {"type": "object"}})),
        archived,
        deprecated: false,
        feature_flag: None,
        feature_flags: Some(vec!["beta".into()]),
        group_name: Some(format!("{name} group")),
        created_at: 1,
        updated_at: 1,
    };
    assert!(
        store
            .upsert_event_type(event_type("b.x", false))
            .await
            .expect("new")
    );
    assert!(
        !store
            .upsert_event_type(event_type("b.x", false))
            .await
            .expect("again")
    );
    assert!(
        store
            .upsert_event_type(event_type("a.x", true))
            .await
            .expect("new")
    );
    let names = |archived: bool| {
        let store = store.clone();
        async move {
            store
                .list_event_types(Page::first(10, Order::Ascending), archived)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|e| e.name.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(false).await, ["b.x"]);
    assert_eq!(names(true).await, ["a.x", "b.x"]);
    assert_eq!(
        store.get_event_type("b.x").await.expect("get"),
        Some(event_type("b.x", false))
    );
    store.delete_event_type("b.x").await.expect("delete");
    assert!(matches!(
        store.delete_event_type("b.x").await,
        Err(StoreError::NotFound)
    ));
}

async fn resend_schedules_a_manual_attempt_and_creates_a_missing_delivery(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let one = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let two = store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let sent = store
        .create_message(NewMessage {
            message: message(&a.id, "a", None, 10),
            lease_to: Some(lease("n")),
            only_endpoint: Some(one.id.clone()),
            deliver_at: None,
        })
        .await
        .expect("message");
    assert_eq!(sent.deliveries.len(), 1);
    store.resend(&sent.message, &one, 20).await.expect("resend");
    store.resend(&sent.message, &two, 20).await.expect("resend");
    let claimed = claim_deliveries(&store, "m", 20, 10).await;
    assert_eq!(claimed.len(), 1, "the leased delivery is left to its node");
    assert_eq!(claimed[0].delivery.endpoint_id, two.id);
    assert_eq!(claimed[0].trigger, TriggerType::Manual);
}

async fn expunged_payloads_and_responses_read_back_empty(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    let sent = send(&store, &a.id, "a", None, 10, None).await;
    let c = claim_deliveries(&store, "n", 10, 1).await.remove(0);
    let attempt = failed_attempt(&c.delivery, 20);
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(attempt.clone()),
            status: DeliveryStatus::Failed,
            next_attempt_at: Some(100),
            disable_endpoint: false,
            leased_to: None,
        })
        .await
        .expect("record");
    assert_eq!(
        store
            .get_attempt(&sent.message.id, attempt.id.as_str())
            .await
            .expect("get"),
        Some(attempt.clone())
    );
    store
        .expunge_message(&sent.message.id)
        .await
        .expect("expunge");
    store.expunge_attempt(&attempt.id).await.expect("expunge");
    let m = store
        .get_message(&a.id, sent.message.id.as_str())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(m.payload, None);
    let back = store
        .get_attempt(&sent.message.id, attempt.id.as_str())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(back.response, None);
    let later = claim_deliveries(&store, "n", 100, 1).await;
    assert_eq!(later[0].payload, None);
    assert!(matches!(
        store
            .expunge_message(&rustyhook_core::id::MessageId::generate(1))
            .await,
        Err(StoreError::NotFound)
    ));
}
