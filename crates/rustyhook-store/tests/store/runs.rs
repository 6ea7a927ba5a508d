//! Handler runs on every backend: claimed once, recorded with what follows, given back.

use std::sync::Arc;

use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::Run;
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    a_run_is_claimed_once_and_its_record_starts_what_follows,
    released_and_postponed_runs_fall_due_again,
    handlers_are_busy_while_any_of_their_runs_is_unfinished,
    open_runs_are_counted_per_handler_and_in_all_until_they_finish,
    a_keyed_run_is_stored_once_and_a_repeated_key_stores_nothing,
    one_claim_hands_out_due_deliveries_and_runs_earliest_first,
    a_handlers_dead_runs_are_listed_and_recovered_with_their_attempts,
    release_with_a_due_time_postpones_work_and_a_running_run_is_pending_again,
    a_run_shows_its_last_attempts_exit_code_and_output_even_when_it_had_none,
    a_release_or_record_under_an_earlier_claim_leaves_a_later_claim_alone,
);

fn record(r: &Run, status: DeliveryStatus, follow_ups: Vec<Run>) -> AttemptRecord {
    let exports = vec![
        ("A".into(), "1".into()),
        ("B".into(), "2".into()),
        ("A".into(), "3".into()),
    ];
    run_record(run_attempt(r, 30, follow_ups, exports), status, None)
}

async fn a_run_is_claimed_once_and_its_record_starts_what_follows(store: Arc<dyn Store>) {
    let first = run("h", 10);
    store
        .create_runs(vec![first.clone()], None)
        .await
        .expect("create");
    assert_eq!(store.next_due().await.expect("next"), Some(10));
    let claimed = claim_runs(&store, "n", 10, 10).await;
    assert_eq!(claimed, vec![first.clone()]);
    assert!(
        store
            .claim_due(&lease("n"), 10, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    store.start_run(&first.id, 20).await.expect("start");
    assert_eq!(
        store
            .get_run(first.id.as_str())
            .await
            .expect("get")
            .expect("run")
            .status,
        DeliveryStatus::Sending
    );

    let next = run("after", 30);
    store
        .record_attempt(record(
            &first,
            DeliveryStatus::Succeeded,
            vec![next.clone()],
        ))
        .await
        .expect("record");
    let done = store
        .get_run(first.id.as_str())
        .await
        .expect("get")
        .expect("run");
    assert_eq!(done.status, DeliveryStatus::Succeeded);
    assert_eq!((done.attempts, done.exit_code), (1, Some(0)));
    assert_eq!(done.output.as_deref(), Some("done\n"));
    assert_eq!(done.updated_at, 35);
    let attempts = store
        .list_run_attempts(&first.id, Page::first(10, Order::Ascending))
        .await
        .expect("attempts");
    assert_eq!(attempts.items.len(), 1);
    assert_eq!(
        store.exports().await.expect("exports"),
        [("A".into(), "3".into()), ("B".into(), "2".into())],
        "the last value of a name wins"
    );
    let follow = claim_runs(&store, "n", 30, 10).await;
    assert_eq!(follow, vec![next]);
}

async fn released_and_postponed_runs_fall_due_again(store: Arc<dyn Store>) {
    let (a, b) = (run("h", 10), run("h", 11));
    store
        .create_runs(vec![a.clone(), b.clone()], Some(lease("n")))
        .await
        .expect("create");
    assert_eq!(store.next_due().await.expect("next"), None, "all leased");
    store.start_run(&a.id, 20).await.expect("start");
    store
        .release("someone-else", vec![(WorkId::Run(a.id.clone()), 0)], None)
        .await
        .expect("release");
    assert!(
        store
            .claim_due(&lease("m"), 100, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    store
        .release("n", vec![(WorkId::Run(a.id.clone()), 0)], None)
        .await
        .expect("release");
    store
        .release("n", vec![(WorkId::Run(b.id.clone()), 0)], Some(500))
        .await
        .expect("postpone");
    let back = claim_runs(&store, "m", 100, 10).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, a.id);
    assert_eq!(
        back[0].status,
        DeliveryStatus::Pending,
        "a running run is due again"
    );
    assert_eq!(store.next_due().await.expect("next"), Some(500));
    assert!(
        store
            .claim_due(&lease("m"), 499, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(&lease("m"), 500, 10)
            .await
            .expect("claim")
            .len(),
        1
    );
}

async fn handlers_are_busy_while_any_of_their_runs_is_unfinished(store: Arc<dyn Store>) {
    let (a, b) = (run("h", 10), run("h", 11));
    store
        .create_runs(vec![a.clone()], None)
        .await
        .expect("create");
    let busy = |except: Run| {
        let store = store.clone();
        async move {
            store
                .handlers_busy(vec!["other".into(), "h".into()], &except.id)
                .await
                .expect("busy")
        }
    };
    assert!(
        !busy(a.clone()).await,
        "a run does not make its own handler busy"
    );
    store
        .create_runs(vec![b.clone()], None)
        .await
        .expect("create");
    assert!(busy(a.clone()).await);
    store
        .record_attempt(record(&b, DeliveryStatus::Dead, Vec::new()))
        .await
        .expect("record");
    assert!(!busy(a).await, "a finished run keeps no one busy");
}

async fn open_runs_are_counted_per_handler_and_in_all_until_they_finish(store: Arc<dyn Store>) {
    let (a, b, c) = (run("h", 10), run("h", 11), run("other", 12));
    store
        .create_runs(vec![a.clone(), b.clone(), c], None)
        .await
        .expect("create");
    let count = || async { store.count_open_runs("h").await.expect("count") };
    assert_eq!(
        count().await,
        OpenRuns {
            handler: 2,
            total: 3
        }
    );
    store
        .record_attempt(record(&a, DeliveryStatus::Failed, Vec::new()))
        .await
        .expect("record");
    assert_eq!(
        count().await,
        OpenRuns {
            handler: 2,
            total: 3
        },
        "a run waiting to retry still counts"
    );
    store
        .record_attempt(record(&b, DeliveryStatus::Succeeded, Vec::new()))
        .await
        .expect("record");
    assert_eq!(
        count().await,
        OpenRuns {
            handler: 1,
            total: 2
        }
    );
    assert_eq!(
        store.count_open_runs("none").await.expect("count"),
        OpenRuns {
            handler: 0,
            total: 2
        }
    );
}

async fn a_keyed_run_is_stored_once_and_a_repeated_key_stores_nothing(store: Arc<dyn Store>) {
    let (first, again, other) = (run("h", 10), run("h", 11), run("h", 12));
    let create = |key: &'static str, r: Run, lease: Option<&str>| {
        let (store, lease) = (store.clone(), lease.map(self::lease));
        async move { store.create_keyed_run(key, r, lease).await.expect("create") }
    };
    assert!(create("src:orders:1-0", first.clone(), Some("n")).await);
    assert!(
        !create("src:orders:1-0", again.clone(), None).await,
        "the same key stores no second run"
    );
    assert!(
        store
            .get_run(again.id.as_str())
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .claim_due(&lease("m"), 100, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the first run stays leased and the refused one is nowhere"
    );
    assert!(create("src:orders:2-0", other.clone(), None).await);
    let stored: Vec<_> = store
        .list_runs(Some("h".into()), None, Page::first(10, Order::Ascending))
        .await
        .expect("runs")
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(stored, [first.id, other.id]);
}

async fn one_claim_hands_out_due_deliveries_and_runs_earliest_first(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    let (early, late) = (run("h", 10), run("h", 30));
    store
        .create_runs(vec![late.clone(), early.clone()], None)
        .await
        .expect("create");
    let sent = send(&store, &a.id, "a", None, 20, None).await;
    let delivery = sent.deliveries[0].id.clone();
    assert_eq!(store.next_due().await.expect("next"), Some(10));

    let first = store.claim_due(&lease("n"), 25, 10).await.expect("claim");
    assert_eq!(
        first.iter().map(due_id).collect::<Vec<_>>(),
        [WorkId::Run(early.id.clone()), WorkId::Delivery(delivery)],
        "the run due at 10, then the delivery due at 20; the run due at 30 is not due yet"
    );
    let Due::Handler(claimed_run) = &first[0] else {
        panic!("a run is handed out as a run");
    };
    assert_eq!(claimed_run, &early);
    let Due::Endpoint(claimed_delivery) = &first[1] else {
        panic!("a delivery is handed out as a delivery");
    };
    assert_eq!(claimed_delivery.payload.as_deref(), Some(r#"{"n":1}"#));
    assert_eq!(claimed_delivery.event_type.as_str(), "a");

    assert!(
        store
            .claim_due(&lease("m"), 25, 10)
            .await
            .expect("claim")
            .is_empty(),
        "both are leased to n"
    );
    assert_eq!(
        store.next_due().await.expect("next"),
        Some(30),
        "only the later run is unleased"
    );
    let later = store
        .claim_due(&lease("m"), 1_000, 10)
        .await
        .expect("claim");
    assert_eq!(
        later.iter().map(due_id).collect::<Vec<_>>(),
        [WorkId::Run(late.id)],
        "what n holds is never handed out again"
    );

    // Both results are recorded in one call, as one batch of the one queue.
    let mut delivered = run_record(
        Attempted::Endpoint(failed_attempt(&claimed_delivery.delivery, 40)),
        DeliveryStatus::Succeeded,
        None,
    );
    delivered.leased_to = Some(lease("n"));
    let mut ran = run_record(
        run_attempt(&early, 40, Vec::new(), Vec::new()),
        DeliveryStatus::Succeeded,
        None,
    );
    ran.leased_to = Some(lease("n"));
    store
        .record_attempts(vec![delivered, ran])
        .await
        .expect("record");
    let done = store
        .get_run(early.id.as_str())
        .await
        .expect("get")
        .expect("run");
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Succeeded, 1));
    let stats = store
        .endpoint_stats(&claimed_delivery.delivery.endpoint_id, None, None)
        .await
        .expect("stats");
    assert_eq!((stats.success, stats.pending, stats.sending), (1, 0, 0));
    assert_eq!(
        store.queue_depth().await.expect("depth"),
        1,
        "only the later run, leased to m, still waits"
    );
}

async fn a_handlers_dead_runs_are_listed_and_recovered_with_their_attempts(store: Arc<dyn Store>) {
    let (dead, other_dead, alive) = (run("h", 10), run("other", 11), run("h", 12));
    store
        .create_runs(
            vec![dead.clone(), other_dead.clone(), alive.clone()],
            Some(lease("n")),
        )
        .await
        .expect("create");
    for r in [&dead, &other_dead] {
        let mut rec = run_record(
            run_attempt(r, 20, Vec::new(), Vec::new()),
            DeliveryStatus::Dead,
            None,
        );
        rec.leased_to = Some(lease("n"));
        store.record_attempt(rec).await.expect("record");
    }
    let dead_of = |handler: &'static str| {
        let store = store.clone();
        async move {
            store
                .list_runs(
                    Some(handler.into()),
                    Some(DeliveryStatus::Dead),
                    Page::first(10, Order::Ascending),
                )
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        dead_of("h").await,
        std::slice::from_ref(&dead.id),
        "h's dead letters"
    );
    assert_eq!(
        store
            .list_runs(Some("h".into()), None, Page::first(10, Order::Ascending))
            .await
            .expect("list")
            .items
            .len(),
        2,
        "without a status filter, every run of h"
    );
    assert!(
        store
            .claim_due(&lease("m"), 1_000_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a dead run is never due"
    );

    // A window that ends before the run was created recovers nothing.
    let h = Target::Handler("h".into());
    assert_eq!(
        store.recover(&h, 0, Some(10), 30).await.expect("recover"),
        0
    );
    assert_eq!(store.recover(&h, 0, None, 30).await.expect("recover"), 1);
    assert!(dead_of("h").await.is_empty(), "no longer a dead letter");
    assert_eq!(
        dead_of("other").await,
        std::slice::from_ref(&other_dead.id),
        "another handler's dead run stays dead"
    );

    let back = claim_runs(&store, "m", 30, 10).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, dead.id);
    assert_eq!(back[0].status, DeliveryStatus::Pending);
    assert_eq!(back[0].attempts, 1, "the attempt made before is counted");
    let attempts = store
        .list_run_attempts(&dead.id, Page::first(10, Order::Ascending))
        .await
        .expect("attempts");
    assert_eq!(attempts.items.len(), 1, "the attempt made before is kept");
    assert_eq!(attempts.items[0].output, "done\n");
    assert_eq!(attempts.items[0].exit_code, Some(0));
}

async fn release_with_a_due_time_postpones_work_and_a_running_run_is_pending_again(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 1).await;
    let waiting = run("h", 10);
    store
        .create_runs(vec![waiting.clone()], Some(lease("n")))
        .await
        .expect("create");
    store.start_run(&waiting.id, 20).await.expect("start");
    let sent = send(&store, &a.id, "a", None, 10, Some("n")).await;
    let delivery = sent.deliveries[0].id.clone();
    let ids = vec![
        (WorkId::Run(waiting.id.clone()), 0),
        (WorkId::Delivery(delivery.clone()), 0),
    ];

    store
        .release("someone-else", ids.clone(), Some(50))
        .await
        .expect("release");
    assert_eq!(
        store
            .get_run(waiting.id.as_str())
            .await
            .expect("get")
            .expect("run")
            .status,
        DeliveryStatus::Sending,
        "a node releases only what it holds"
    );

    store.release("n", ids, Some(500)).await.expect("release");
    let released = store
        .get_run(waiting.id.as_str())
        .await
        .expect("get")
        .expect("run");
    assert_eq!(released.status, DeliveryStatus::Pending);
    assert_eq!(released.next_attempt_at, Some(500));
    assert_eq!(released.attempts, 0, "a release is no attempt");
    assert_eq!(store.next_due().await.expect("next"), Some(500));
    assert!(
        store
            .claim_due(&lease("m"), 499, 10)
            .await
            .expect("claim")
            .is_empty(),
        "neither is due before 500"
    );
    let back = store.claim_due(&lease("m"), 500, 10).await.expect("claim");
    let mut ids: Vec<_> = back.iter().map(due_id).collect();
    ids.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    let mut expected = vec![WorkId::Run(waiting.id.clone()), WorkId::Delivery(delivery)];
    expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(ids, expected, "both fall due at 500");
    for due in back {
        if let Due::Handler(r) = due {
            assert_eq!(r.status, DeliveryStatus::Pending, "the run runs again");
        }
    }
}

async fn a_run_shows_its_last_attempts_exit_code_and_output_even_when_it_had_none(
    store: Arc<dyn Store>,
) {
    let r = run("h", 10);
    store
        .create_runs(vec![r.clone()], None)
        .await
        .expect("create");
    let exited = run_attempt(&r, 20, Vec::new(), Vec::new());
    store
        .record_attempt(run_record(exited, DeliveryStatus::Failed, Some(100)))
        .await
        .expect("record");
    let Attempted::Handler { mut attempt, .. } = run_attempt(&r, 200, Vec::new(), Vec::new())
    else {
        unreachable!("a run's attempt")
    };
    // The command was killed at its timeout: no exit code.
    attempt.outcome = OutcomeCode::Timeout;
    attempt.exit_code = None;
    attempt.output = "partial".into();
    let timed_out = Attempted::Handler {
        attempt,
        follow_ups: Vec::new(),
        exports: Vec::new(),
    };
    store
        .record_attempt(run_record(timed_out, DeliveryStatus::Dead, None))
        .await
        .expect("record");
    let back = store
        .get_run(r.id.as_str())
        .await
        .expect("get")
        .expect("run");
    assert_eq!(back.attempts, 2);
    assert_eq!(
        (back.exit_code, back.output.as_deref()),
        (None, Some("partial")),
        "the last attempt's, not an earlier one's"
    );
}

/// A node gives work back and claims it again; a second copy of the first release (a write
/// tried again through an outage after its first try did commit) and a late record of the
/// first claim must leave the new claim's work alone, or two copies would be sent.
async fn a_release_or_record_under_an_earlier_claim_leaves_a_later_claim_alone(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 1).await;
    let first = Lease {
        node: "n".into(),
        claim: 7,
    };
    let second = Lease {
        node: "n".into(),
        claim: 8,
    };
    let sent = store
        .create_message(NewMessage {
            message: message(&a.id, "a", None, 10),
            lease_to: Some(first.clone()),
            only_endpoint: None,
            deliver_at: None,
        })
        .await
        .expect("message");
    let delivery = sent.deliveries[0].clone();
    let under_first = vec![(WorkId::Delivery(delivery.id.clone()), first.claim)];
    store
        .release("n", under_first.clone(), None)
        .await
        .expect("release");
    let again = store.claim_due(&second, 20, 10).await.expect("claim");
    assert_eq!(again.len(), 1, "given back, it is claimed again");

    // The first claim's release, once more, and its attempt's record, late.
    store
        .release("n", under_first, None)
        .await
        .expect("release");
    let mut late = run_record(
        Attempted::Endpoint(failed_attempt(&delivery, 30)),
        DeliveryStatus::Succeeded,
        None,
    );
    late.leased_to = Some(first);
    store.record_attempt(late).await.expect("record");
    assert!(
        store
            .claim_due(&lease("m"), 1_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the second claim still holds the delivery"
    );
    let stats = store
        .endpoint_stats(&delivery.endpoint_id, None, None)
        .await
        .expect("stats");
    assert_eq!(
        (stats.success, stats.pending),
        (0, 1),
        "the late record did not move the delivery on"
    );

    // Under its own claim, the release takes.
    store
        .release(
            "n",
            vec![(WorkId::Delivery(delivery.id), second.claim)],
            None,
        )
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_due(&lease("m"), 1_000, 10)
            .await
            .expect("claim")
            .len(),
        1
    );
}
