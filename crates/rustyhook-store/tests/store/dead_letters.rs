//! Dead letters across apps and handlers on every backend: listed by when they died with their
//! last attempt, filtered and paged; recovered by filter or id, each once; failed messages
//! resent in bulk.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::id::{AppId, EndpointId, MessageId};
use rustyhook_core::model::{Delivery, DeliveryStatus, TriggerType};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    dead_letters_of_endpoints_and_handlers_are_listed_newest_first_with_their_last_attempt,
    dead_letters_are_filtered_and_paged_by_when_they_died,
    recovering_dead_letters_requeues_each_once_and_says_how_many,
    two_recovers_at_once_never_take_one_dead_letter_twice,
    resending_failed_messages_requeues_only_their_failed_deliveries,
);

/// Records `d`'s last attempt, a 500, at `at`: it is dead.
async fn die(store: &Arc<dyn Store>, d: &Delivery, at: i64) {
    let mut attempt = failed_attempt(d, at);
    attempt.request_headers = Some(BTreeMap::from([
        ("webhook-id".to_owned(), d.msg_id.to_string()),
        ("authorization".to_owned(), "[REDACTED]".to_owned()),
    ]));
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(attempt),
            status: DeliveryStatus::Dead,
            next_attempt_at: None,
            disable_endpoint: false,
            leased_to: None,
        })
        .await
        .expect("recorded");
}

/// Two apps each with an endpoint, a message each gone dead (app A's at 20, B's at 30), a live
/// one of A's, and a handler run gone dead at 45: what most tests here start from.
struct World {
    a: AppId,
    b_endpoint: EndpointId,
    a_dead: Delivery,
    b_dead: Delivery,
    run: rustyhook_core::run::Run,
}

async fn world(store: &Arc<dyn Store>) -> World {
    let a = app_with_endpoints(store, 1).await;
    let b = app_with_endpoints(store, 1).await;
    let sent_a = send(store, &a.id, "invoice.paid", None, 10, None).await;
    let sent_b = send(store, &b.id, "order.made", None, 11, None).await;
    // Live, and leased: neither listed nor claimed here.
    send(store, &a.id, "invoice.paid", None, 12, Some("live")).await;
    let (a_dead, b_dead) = (sent_a.deliveries[0].clone(), sent_b.deliveries[0].clone());
    die(store, &a_dead, 20).await;
    die(store, &b_dead, 30).await;
    let r = run("deploy", 35);
    store
        .create_runs(vec![r.clone()], Some(lease("n")))
        .await
        .expect("run");
    let Attempted::Handler {
        mut attempt,
        follow_ups,
        exports,
    } = run_attempt(&r, 40, Vec::new(), Vec::new())
    else {
        unreachable!("run_attempt makes a handler attempt")
    };
    attempt.outcome = OutcomeCode::ExitCode;
    attempt.exit_code = Some(3);
    store
        .record_attempt(run_record(
            Attempted::Handler {
                attempt,
                follow_ups,
                exports,
            },
            DeliveryStatus::Dead,
            None,
        ))
        .await
        .expect("run recorded");
    World {
        a: a.id,
        b_endpoint: b_dead.endpoint_id.clone(),
        a_dead,
        b_dead,
        run: r,
    }
}

async fn ids(store: &Arc<dyn Store>, filter: DeadLetterFilter) -> Vec<String> {
    store
        .list_dead_letters(
            filter,
            DeadPage {
                limit: 50,
                cursor: None,
            },
        )
        .await
        .expect("listed")
        .items
        .into_iter()
        .map(|d| d.id)
        .collect()
}

async fn dead_letters_of_endpoints_and_handlers_are_listed_newest_first_with_their_last_attempt(
    store: Arc<dyn Store>,
) {
    let w = world(&store).await;
    let listed = store
        .list_dead_letters(
            DeadLetterFilter::default(),
            DeadPage {
                limit: 50,
                cursor: None,
            },
        )
        .await
        .expect("listed");
    assert!(listed.done);
    let got: Vec<_> = listed.items;
    assert_eq!(
        got.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec![
            w.run.id.as_str(),
            w.b_dead.id.as_str(),
            w.a_dead.id.as_str()
        ],
        "newest death first; the live delivery is not listed"
    );
    let run = &got[0];
    assert_eq!(
        run.target,
        DeadTarget::Handler {
            handler_id: "deploy".into()
        }
    );
    assert_eq!(run.event_type, "cron");
    assert_eq!(
        (run.last_outcome, run.last_exit_code, run.died_at),
        (Some(OutcomeCode::ExitCode), Some(3), 45)
    );
    let a = &got[2];
    assert_eq!(
        a.target,
        DeadTarget::Endpoint {
            app_id: w.a.clone(),
            endpoint_id: w.a_dead.endpoint_id.clone(),
            url: Some("https://example.com/hook".into()),
            msg_id: w.a_dead.msg_id.clone(),
        }
    );
    assert_eq!(a.event_type, "invoice.paid");
    assert_eq!(
        (a.last_status_code, a.last_outcome, a.attempts, a.died_at),
        (Some(500), Some(OutcomeCode::HttpStatus), 1, 20)
    );
    // The attempt kept the headers it sent.
    let attempts = store
        .list_attempts(
            &w.a,
            AttemptFilter {
                msg_id: Some(w.a_dead.msg_id.clone()),
                ..AttemptFilter::default()
            },
            Page::first(10, Order::Descending),
        )
        .await
        .expect("attempts");
    let headers = attempts.items[0].request_headers.clone().expect("headers");
    assert_eq!(headers["webhook-id"], w.a_dead.msg_id.to_string());
    assert_eq!(headers["authorization"], "[REDACTED]");
}

async fn dead_letters_are_filtered_and_paged_by_when_they_died(store: Arc<dyn Store>) {
    let w = world(&store).await;
    let (run, b, a) = (
        w.run.id.to_string(),
        w.b_dead.id.to_string(),
        w.a_dead.id.to_string(),
    );
    let f = DeadLetterFilter::default;
    let cases = [
        (
            DeadLetterFilter {
                app_id: Some(w.a.clone()),
                ..f()
            },
            vec![a.clone()],
        ),
        (
            DeadLetterFilter {
                endpoint_id: Some(w.b_endpoint.clone()),
                ..f()
            },
            vec![b.clone()],
        ),
        (
            DeadLetterFilter {
                handler_id: Some("deploy".into()),
                ..f()
            },
            vec![run.clone()],
        ),
        (
            DeadLetterFilter {
                event_type: Some("order.made".into()),
                ..f()
            },
            vec![b.clone()],
        ),
        (
            DeadLetterFilter {
                event_type: Some("cron".into()),
                ..f()
            },
            vec![run.clone()],
        ),
        (
            DeadLetterFilter {
                since: Some(30),
                ..f()
            },
            vec![run.clone(), b.clone()],
        ),
        (
            DeadLetterFilter {
                until: Some(30),
                ..f()
            },
            vec![a.clone()],
        ),
        (
            DeadLetterFilter {
                ids: Some(vec![a.clone(), run.clone(), "dlv_none".into()]),
                ..f()
            },
            vec![run.clone(), a.clone()],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(ids(&store, filter.clone()).await, want, "{filter:?}");
    }
    // One at a time, forwards and back, by the key of the row a page ends on.
    let page = |cursor| {
        let store = store.clone();
        async move {
            let l = store
                .list_dead_letters(DeadLetterFilter::default(), DeadPage { limit: 1, cursor })
                .await
                .expect("page");
            (l.items.into_iter().next().expect("one row"), l.done)
        }
    };
    let (first, done) = page(None).await;
    assert_eq!((first.id.clone(), done), (run.clone(), false));
    let (second, _) = page(Some(DeadCursor::After(DeadKey::of(&first)))).await;
    assert_eq!(second.id, b);
    let (third, done) = page(Some(DeadCursor::After(DeadKey::of(&second)))).await;
    assert_eq!((third.id.clone(), done), (a.clone(), true));
    let (back, _) = page(Some(DeadCursor::Before(DeadKey::of(&third)))).await;
    assert_eq!(back.id, b);
}

async fn recovering_dead_letters_requeues_each_once_and_says_how_many(store: Arc<dyn Store>) {
    let w = world(&store).await;
    let by_ids = DeadLetterFilter {
        ids: Some(vec![w.a_dead.id.to_string()]),
        ..DeadLetterFilter::default()
    };
    let recover = |filter: DeadLetterFilter, limit| {
        let store = store.clone();
        async move {
            store
                .recover_dead_letters(filter, 100, limit)
                .await
                .expect("recover")
        }
    };
    assert_eq!(recover(by_ids.clone(), 100).await, 1);
    assert_eq!(recover(by_ids, 100).await, 0, "nothing is recovered twice");
    let back = claim_deliveries(&store, "n", 100, 10).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].delivery.id, w.a_dead.id);
    assert_eq!(back[0].trigger, TriggerType::Manual);
    // Everything left, capped: the rest on the next call.
    assert_eq!(recover(DeadLetterFilter::default(), 1).await, 1);
    assert_eq!(recover(DeadLetterFilter::default(), 1).await, 1);
    assert_eq!(recover(DeadLetterFilter::default(), 1).await, 0);
    assert!(ids(&store, DeadLetterFilter::default()).await.is_empty());
    let due = store.claim_due(&lease("n"), 100, 10).await.expect("claim");
    assert_eq!(due.len(), 2, "the other delivery and the run are due");
}

async fn two_recovers_at_once_never_take_one_dead_letter_twice(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    for n in 0..20 {
        let sent = send(&store, &a.id, "invoice.paid", None, 10 + n, None).await;
        die(&store, &sent.deliveries[0], 100 + n).await;
    }
    let filter = DeadLetterFilter {
        app_id: Some(a.id.clone()),
        ..DeadLetterFilter::default()
    };
    let (one, two) = tokio::join!(
        store.recover_dead_letters(filter.clone(), 200, 100),
        store.recover_dead_letters(filter, 200, 100),
    );
    assert_eq!(one.expect("one") + two.expect("two"), 20);
    assert_eq!(claim_deliveries(&store, "n", 200, 100).await.len(), 20);
}

async fn resending_failed_messages_requeues_only_their_failed_deliveries(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 2).await;
    let other = app_with_endpoints(&store, 1).await;
    let sent = send(&store, &a.id, "invoice.paid", None, 10, None).await;
    let [ok, dead] = [&sent.deliveries[0], &sent.deliveries[1]];
    die(&store, dead, 20).await;
    store
        .record_attempt(AttemptRecord {
            attempt: Attempted::Endpoint(rustyhook_core::model::Attempt {
                outcome: OutcomeCode::Ok,
                status_code: 200,
                ..failed_attempt(ok, 21)
            }),
            status: DeliveryStatus::Succeeded,
            next_attempt_at: None,
            disable_endpoint: false,
            leased_to: None,
        })
        .await
        .expect("recorded");
    let msgs = vec![sent.message.id.clone(), MessageId::generate(1)];
    assert_eq!(
        store
            .resend_failed(&other.id, msgs.clone(), 30)
            .await
            .expect("resend"),
        0,
        "another app's message is not resent"
    );
    assert_eq!(
        store.resend_failed(&a.id, msgs, 30).await.expect("resend"),
        1
    );
    let back = claim_deliveries(&store, "n", 30, 10).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].delivery.id, dead.id);
    assert_eq!(back[0].trigger, TriggerType::Manual);
}
