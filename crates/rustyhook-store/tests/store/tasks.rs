//! Background tasks — an endpoint's recover and its replay of missing messages — on every
//! backend.

use std::sync::Arc;

use rustyhook_core::id::{AppId, DeliveryId};
use rustyhook_core::model::{DeliveryStatus, Endpoint, Message, TriggerType};
use rustyhook_core::names::Channel;
use rustyhook_store::*;

use crate::support::{app, claim_deliveries, endpoint, failed_attempt, message, send};

on_every_backend!(
    recover_of_an_endpoint_is_recorded_as_a_finished_task_saying_how_many,
    replay_missing_sends_what_fan_out_would_have_sent_and_nothing_twice,
    a_replay_stops_at_its_limit_and_the_next_call_continues,
    an_endpoint_that_receives_nothing_has_nothing_replayed,
    tasks_are_listed_by_app_status_and_kind_and_go_with_their_app_or_age,
);

/// Stores a message of `app` on `channels` at `at`, with no endpoint to receive it yet.
async fn stored(
    store: &Arc<dyn Store>,
    app: &AppId,
    event_type: &str,
    channels: Option<&[&str]>,
    at: i64,
) -> Message {
    let mut m = message(app, event_type, None, at);
    m.channels = channels.map(|cs| {
        cs.iter()
            .map(|c| Channel::parse(*c).expect("valid"))
            .collect()
    });
    store
        .create_message(NewMessage {
            message: m,
            lease_to: None,
            only_endpoint: None,
            deliver_at: None,
        })
        .await
        .expect("message")
        .message
}

fn count(task: &BackgroundTask, key: &str) -> u64 {
    task.data
        .get(key)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{key} in {:?}", task.data))
}

async fn stored_endpoint(store: &Arc<dyn Store>, e: Endpoint) -> Endpoint {
    store.create_endpoint(e).await.expect("endpoint")
}

async fn recover_of_an_endpoint_is_recorded_as_a_finished_task_saying_how_many(
    store: Arc<dyn Store>,
) {
    let a = store.create_app(app(None)).await.expect("app");
    let ep = stored_endpoint(&store, endpoint(&a.id, None, None)).await;
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

    let task = store
        .recover_endpoint(&ep, 0, None, 30)
        .await
        .expect("recover");
    assert_eq!(task.kind, TaskKind::EndpointRecover);
    assert_eq!(task.status, TaskStatus::Finished);
    assert_eq!(task.app_id, a.id);
    assert_eq!(count(&task, "recovered"), 1);
    assert_eq!(count(&task, "messagesSent"), 1);
    assert_eq!((task.created_at, task.updated_at), (30, 30));
    assert!(task.id.as_str().starts_with("qtask_"), "{}", task.id);
    let back = claim_deliveries(&store, "n", 30, 10).await;
    assert_eq!(back.len(), 1, "the dead delivery is due again");
    assert_eq!(back[0].trigger, TriggerType::Manual);
    assert_eq!(
        store.get_task(task.id.as_str()).await.expect("get"),
        Some(task),
        "the task reads back as it was recorded"
    );
}

async fn replay_missing_sends_what_fan_out_would_have_sent_and_nothing_twice(
    store: Arc<dyn Store>,
) {
    let a = store.create_app(app(None)).await.expect("app");
    let other_app = store.create_app(app(None)).await.expect("app");
    let s = &store;
    let wanted = stored(s, &a.id, "a", Some(&["eu", "us"]), 10).await;
    stored(s, &a.id, "b", Some(&["eu"]), 11).await;
    stored(s, &a.id, "a", None, 12).await;
    stored(s, &a.id, "a", Some(&["us"]), 13).await;
    stored(s, &a.id, "a", Some(&["eu"]), 50).await;
    stored(s, &other_app.id, "a", Some(&["eu"]), 10).await;
    let expunged = stored(s, &a.id, "a", Some(&["eu"]), 14).await;
    store.expunge_message(&expunged.id).await.expect("expunge");
    let sent_before = stored(s, &a.id, "a", Some(&["eu"]), 15).await;
    let ep = stored_endpoint(s, endpoint(&a.id, Some(&["a"]), Some(&["eu"]))).await;
    store.resend(&sent_before, &ep, 16).await.expect("resend");
    assert_eq!(claim_deliveries(s, "n", 16, 10).await.len(), 1);

    let task = store
        .replay_missing(&ep, 0, Some(40), 20, 100)
        .await
        .expect("replay");
    assert_eq!(task.kind, TaskKind::EndpointReplay);
    assert_eq!(task.status, TaskStatus::Finished);
    assert_eq!(count(&task, "replayed"), 1, "{:?}", task.data);
    let due = claim_deliveries(s, "n", 20, 10).await;
    assert_eq!(due.len(), 1);
    let d = &due[0].delivery;
    assert_eq!(
        (&d.msg_id, &d.endpoint_id, &d.app_id),
        (&wanted.id, &ep.id, &a.id),
        "only the message of the endpoint's type, channel, app and window, never sent to it"
    );
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!((d.next_attempt_at, d.created_at), (Some(20), 20));
    assert_eq!(due[0].trigger, TriggerType::Manual);
    assert!(DeliveryId::parse(d.id.as_str()).is_some(), "{}", d.id);

    let again = store
        .replay_missing(&ep, 0, Some(40), 30, 100)
        .await
        .expect("replay");
    assert_eq!(count(&again, "replayed"), 0, "nothing is missing any more");
    assert!(claim_deliveries(s, "n", 30, 10).await.is_empty());
}

async fn a_replay_stops_at_its_limit_and_the_next_call_continues(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    for at in [10, 11, 12] {
        send(&store, &a.id, "a", None, at, None).await;
    }
    let ep = stored_endpoint(&store, endpoint(&a.id, None, None)).await;
    let mut counts = Vec::new();
    for now in [20, 21, 22] {
        let task = store
            .replay_missing(&ep, 0, None, now, 2)
            .await
            .expect("replay");
        counts.push(count(&task, "replayed"));
    }
    assert_eq!(counts, [2, 1, 0]);
    let due = claim_deliveries(&store, "n", 22, 10).await;
    let mut ids: Vec<_> = due.iter().map(|c| c.delivery.id.clone()).collect();
    assert!(
        ids.iter()
            .all(|id| DeliveryId::parse(id.as_str()).is_some())
    );
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        3,
        "one delivery per message, each with its own id"
    );
}

async fn an_endpoint_that_receives_nothing_has_nothing_replayed(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    send(&store, &a.id, "a", None, 10, None).await;
    let mut disabled = endpoint(&a.id, None, None);
    disabled.disabled = true;
    let no_types = endpoint(&a.id, Some(&[]), None);
    let no_channels = endpoint(&a.id, None, Some(&[]));
    for e in [disabled, no_types, no_channels] {
        let e = stored_endpoint(&store, e).await;
        let task = store
            .replay_missing(&e, 0, None, 20, 100)
            .await
            .expect("replay");
        assert_eq!(count(&task, "replayed"), 0, "{e:?}");
        assert_eq!(
            task.status,
            TaskStatus::Finished,
            "the task is still recorded"
        );
    }
    assert!(claim_deliveries(&store, "n", 20, 10).await.is_empty());
}

async fn tasks_are_listed_by_app_status_and_kind_and_go_with_their_app_or_age(
    store: Arc<dyn Store>,
) {
    let a = store.create_app(app(None)).await.expect("app");
    let b = store.create_app(app(None)).await.expect("app");
    let ep_a = stored_endpoint(&store, endpoint(&a.id, None, None)).await;
    let ep_b = stored_endpoint(&store, endpoint(&b.id, None, None)).await;
    let t1 = store
        .recover_endpoint(&ep_a, 0, None, 10)
        .await
        .expect("t1");
    let t2 = store
        .replay_missing(&ep_a, 0, None, 11, 10)
        .await
        .expect("t2");
    let t3 = store
        .replay_missing(&ep_b, 0, None, 12, 10)
        .await
        .expect("t3");
    let list = |filter: TaskFilter| {
        let store = store.clone();
        async move {
            store
                .list_tasks(filter, Page::first(10, Order::Descending))
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(TaskFilter::default()).await,
        [t3.id.clone(), t2.id.clone(), t1.id.clone()]
    );
    let of_a = TaskFilter {
        app_id: Some(a.id.clone()),
        ..TaskFilter::default()
    };
    assert_eq!(list(of_a.clone()).await, [t2.id.clone(), t1.id.clone()]);
    let replays = TaskFilter {
        kind: Some(TaskKind::EndpointReplay),
        ..TaskFilter::default()
    };
    assert_eq!(list(replays).await, [t3.id.clone(), t2.id.clone()]);
    let recovers_of_a = TaskFilter {
        kind: Some(TaskKind::EndpointRecover),
        ..of_a
    };
    assert_eq!(list(recovers_of_a).await, std::slice::from_ref(&t1.id));
    let running = TaskFilter {
        status: Some(TaskStatus::Running),
        ..TaskFilter::default()
    };
    assert!(list(running).await.is_empty());
    let ascending = store
        .list_tasks(TaskFilter::default(), Page::first(2, Order::Ascending))
        .await
        .expect("page");
    assert_eq!(ascending.items, [t1.clone(), t2.clone()]);
    assert!(!ascending.done);

    assert_eq!(
        store.task_purge(11).await.expect("purge"),
        1,
        "only t1 is older"
    );
    assert_eq!(store.get_task(t1.id.as_str()).await.expect("get"), None);
    store.delete_app(&a.id).await.expect("delete");
    assert_eq!(store.get_task(t2.id.as_str()).await.expect("get"), None);
    assert_eq!(
        list(TaskFilter::default()).await,
        std::slice::from_ref(&t3.id)
    );
}
