//! Handler runs on every backend: claimed once, recorded with what follows, given back.

use std::sync::Arc;

use rustyhook_core::id::AttemptId;
use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    a_run_is_claimed_once_and_its_record_starts_what_follows,
    released_and_postponed_runs_fall_due_again,
    handlers_are_busy_while_any_of_their_runs_is_unfinished,
    open_runs_are_counted_per_handler_and_in_all_until_they_finish,
    a_keyed_run_is_stored_once_and_a_repeated_key_stores_nothing,
);

fn record(r: &Run, status: DeliveryStatus, follow_ups: Vec<Run>) -> RunRecord {
    RunRecord {
        attempt: RunAttempt {
            id: AttemptId::generate(30),
            run_id: r.id.clone(),
            handler_id: r.handler_id.clone(),
            outcome: OutcomeCode::Ok,
            exit_code: Some(0),
            output: "done\n".into(),
            duration_ms: 5,
            created_at: 30,
        },
        status,
        next_attempt_at: None,
        follow_ups,
        exports: vec![
            ("A".into(), "1".into()),
            ("B".into(), "2".into()),
            ("A".into(), "3".into()),
        ],
    }
}

async fn a_run_is_claimed_once_and_its_record_starts_what_follows(store: Arc<dyn Store>) {
    let first = run("h", 10);
    store
        .create_runs(vec![first.clone()], None)
        .await
        .expect("create");
    assert_eq!(store.next_run_due().await.expect("next"), Some(10));
    let claimed = store.claim_due_runs("n", 10, 10).await.expect("claim");
    assert_eq!(claimed, vec![first.clone()]);
    assert!(
        store
            .claim_due_runs("n", 10, 10)
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
        .record_run(record(
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
    let follow = store.claim_due_runs("n", 30, 10).await.expect("claim");
    assert_eq!(follow, vec![next]);
}

async fn released_and_postponed_runs_fall_due_again(store: Arc<dyn Store>) {
    let (a, b) = (run("h", 10), run("h", 11));
    store
        .create_runs(vec![a.clone(), b.clone()], Some("n".into()))
        .await
        .expect("create");
    assert_eq!(
        store.next_run_due().await.expect("next"),
        None,
        "all leased"
    );
    store.start_run(&a.id, 20).await.expect("start");
    store
        .release_runs("someone-else", vec![a.id.clone()])
        .await
        .expect("release");
    assert!(
        store
            .claim_due_runs("m", 100, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    store
        .release_runs("n", vec![a.id.clone()])
        .await
        .expect("release");
    store.postpone_run("n", &b.id, 500).await.expect("postpone");
    let back = store.claim_due_runs("m", 100, 10).await.expect("claim");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, a.id);
    assert_eq!(
        back[0].status,
        DeliveryStatus::Pending,
        "a running run is due again"
    );
    assert_eq!(store.next_run_due().await.expect("next"), Some(500));
    assert!(
        store
            .claim_due_runs("m", 499, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due_runs("m", 500, 10)
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
        .record_run(record(&b, DeliveryStatus::Dead, Vec::new()))
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
        .record_run(record(&a, DeliveryStatus::Failed, Vec::new()))
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
        .record_run(record(&b, DeliveryStatus::Succeeded, Vec::new()))
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
        let (store, lease) = (store.clone(), lease.map(str::to_owned));
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
            .claim_due_runs("m", 100, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the first run stays leased and the refused one is nowhere"
    );
    assert!(create("src:orders:2-0", other.clone(), None).await);
    let stored: Vec<_> = store
        .list_runs(Some("h".into()), Page::first(10, Order::Ascending))
        .await
        .expect("runs")
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(stored, [first.id, other.id]);
}
