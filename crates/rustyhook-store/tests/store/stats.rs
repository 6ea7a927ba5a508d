//! Stats over time: what the writes count, in their own transactions, read back per scope and
//! bucket; the queue sampled; old buckets purged; two PostgreSQL nodes adding up.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::id::AttemptId;
use rustyhook_core::model::{Attempt, DeliveryStatus};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::stats::{Counts, Scope, Width};
use rustyhook_store::*;

use crate::support::*;

on_every_backend!(
    attempts_deliveries_and_dead_letters_are_counted_per_scope_and_bucket,
    a_batch_that_fails_counts_nothing,
    runs_and_broker_messages_are_counted_for_their_handler_and_source,
    queue_samples_keep_the_highest_depth_of_a_bucket,
    a_source_s_lag_is_its_depth_and_a_bucket_keeps_the_highest_sample,
    buckets_past_their_retention_are_purged_by_width,
);

/// The minute two stats tests write in (an hour and a half after the epoch).
const T: i64 = 5_400_000;

/// Everything counted for `scope` in `width` buckets over `[since, until)`, merged.
async fn total(
    store: &Arc<dyn Store>,
    scope: Scope,
    width: Width,
    since: i64,
    until: i64,
) -> Counts {
    let buckets = store
        .stats_series(&scope, width, since, until)
        .await
        .expect("series");
    buckets.iter().fold(Counts::default(), |mut all, b| {
        all.merge(&b.counts);
        all
    })
}

fn attempt_of(
    d: &rustyhook_core::model::Delivery,
    outcome: OutcomeCode,
    ms: i64,
    at: i64,
) -> Attempt {
    Attempt {
        outcome,
        duration_ms: ms,
        status_code: if outcome == OutcomeCode::Ok { 200 } else { 500 },
        ..failed_attempt(d, at)
    }
}

fn record(a: Attempt, status: DeliveryStatus) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempted::Endpoint(a),
        status,
        next_attempt_at: None,
        disable_endpoint: false,
        leased_to: None,
    }
}

async fn attempts_deliveries_and_dead_letters_are_counted_per_scope_and_bucket(
    store: Arc<dyn Store>,
) {
    let a = app_with_endpoints(&store, 2).await;
    let mut created = Vec::new();
    for i in 0..3 {
        created.extend(send(&store, &a.id, "a", None, T + i, None).await.deliveries);
    }
    assert_eq!(created.len(), 6);
    let ep = created[0].endpoint_id.clone();
    let records: Vec<_> = created
        .iter()
        .enumerate()
        .map(|(i, d)| match i % 3 {
            0 => record(
                attempt_of(d, OutcomeCode::Ok, 4, T + 100),
                DeliveryStatus::Succeeded,
            ),
            1 => record(
                attempt_of(d, OutcomeCode::HttpStatus, 40, T + 100),
                DeliveryStatus::Dead,
            ),
            _ => record(
                attempt_of(d, OutcomeCode::Timeout, 900, T + 100),
                DeliveryStatus::Failed,
            ),
        })
        .collect();
    store.record_attempts(records).await.expect("recorded");

    for width in Width::ALL {
        let server = total(&store, Scope::Server, width, 0, T + 3_600_000).await;
        assert_eq!(
            (server.ok, server.rejected, server.timeout, server.other),
            (2, 2, 2, 0),
            "{width:?}"
        );
        assert_eq!((server.created, server.dead), (6, 2), "{width:?}");
        assert_eq!(server.latency.iter().sum::<i64>(), 6);
        let p99 = server.percentile(0.99).expect("latencies were counted");
        assert!((500.0..=1_000.0).contains(&p99), "p99 {p99}");
        let app = total(
            &store,
            Scope::App(a.id.to_string()),
            width,
            0,
            T + 3_600_000,
        )
        .await;
        assert_eq!((app.attempts(), app.created), (6, 6));
    }
    let one = total(
        &store,
        Scope::Endpoint(ep.to_string()),
        Width::Minute,
        0,
        T + 60_000,
    )
    .await;
    assert_eq!((one.attempts(), one.created), (3, 3));
    // Every attempt started in the minute at T: that bucket alone holds them.
    let minutes = store
        .stats_series(&Scope::Server, Width::Minute, 0, T + 3_600_000)
        .await
        .expect("series");
    assert_eq!(minutes.len(), 1);
    assert_eq!(minutes[0].start, T);
    let elsewhere = total(
        &store,
        Scope::App("app_other".into()),
        Width::Hour,
        0,
        T * 2,
    )
    .await;
    assert!(elsewhere.is_empty());
}

async fn a_batch_that_fails_counts_nothing(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 2).await;
    let ds = send(&store, &a.id, "a", None, T, None).await.deliveries;
    let first = attempt_of(&ds[0], OutcomeCode::Ok, 3, T);
    store
        .record_attempts(vec![record(first.clone(), DeliveryStatus::Succeeded)])
        .await
        .expect("recorded");
    // The second batch's last attempt reuses an id: the batch fails as a whole, so neither its
    // attempts nor their counts are kept.
    let fresh = Attempt {
        id: AttemptId::generate(T + 1),
        ..attempt_of(&ds[1], OutcomeCode::Ok, 3, T + 1)
    };
    let again = attempt_of(&ds[1], OutcomeCode::Ok, 3, T + 2);
    let failed = store
        .record_attempts(vec![
            record(fresh, DeliveryStatus::Succeeded),
            record(
                Attempt {
                    id: first.id,
                    ..again
                },
                DeliveryStatus::Succeeded,
            ),
        ])
        .await;
    assert!(failed.is_err(), "a repeated attempt id must fail the batch");
    let server = total(&store, Scope::Server, Width::Minute, 0, T + 60_000).await;
    assert_eq!((server.ok, server.created), (1, 2));
}

async fn runs_and_broker_messages_are_counted_for_their_handler_and_source(store: Arc<dyn Store>) {
    store
        .create_runs(vec![run("deploy", T), run("deploy", T + 1)], None)
        .await
        .expect("runs");
    let r = claim_runs(&store, "n", T + 10, 10).await;
    assert_eq!(r.len(), 2);
    store
        .record_attempts(vec![run_record(
            run_attempt(&r[0], T + 20, Vec::new(), Vec::new()),
            DeliveryStatus::Succeeded,
            None,
        )])
        .await
        .expect("recorded");
    let h = total(
        &store,
        Scope::Handler("deploy".into()),
        Width::Minute,
        0,
        T + 60_000,
    )
    .await;
    assert_eq!((h.created, h.ok, h.attempts()), (2, 1, 1));

    store
        .count_source("orders", SourceTaken::Stored, T)
        .await
        .expect("counted");
    store
        .count_source("orders", SourceTaken::Duplicate, T)
        .await
        .expect("counted");
    store
        .record_rejected(RejectedMessage {
            id: "rej_1".into(),
            source: "orders".into(),
            broker_id: "1-0".into(),
            reason: "not JSON".into(),
            body: "{".into(),
            created_at: T,
        })
        .await
        .expect("kept");
    let s = total(
        &store,
        Scope::Source("orders".into()),
        Width::Hour,
        0,
        T + 60_000,
    )
    .await;
    assert_eq!((s.stored, s.duplicate, s.source_rejected), (1, 1, 1));
}

async fn queue_samples_keep_the_highest_depth_of_a_bucket(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 3).await;
    send(&store, &a.id, "a", None, T, None).await;
    let now = store.stats_sample(T + 5_000).await.expect("sampled");
    assert_eq!(now.depth, 3);
    assert_eq!(now.oldest_age(T + 5_000), Some(5_000));
    assert_eq!(store.queue_now().await.expect("queue"), now);
    // Work drains; a later sample in the same minute leaves the highest depth standing.
    let ds = claim_deliveries(&store, "n", T + 6_000, 10).await;
    let records = ds
        .iter()
        .map(|c| {
            record(
                attempt_of(&c.delivery, OutcomeCode::Ok, 2, T + 6_000),
                DeliveryStatus::Succeeded,
            )
        })
        .collect();
    store.record_attempts(records).await.expect("recorded");
    assert_eq!(
        store.stats_sample(T + 7_000).await.expect("sampled").depth,
        0
    );
    let minute = total(&store, Scope::Server, Width::Minute, T, T + 60_000).await;
    assert_eq!(
        (minute.depth, minute.oldest_pending_ms),
        (Some(3), Some(5_000))
    );
}

async fn a_source_s_lag_is_its_depth_and_a_bucket_keeps_the_highest_sample(store: Arc<dyn Store>) {
    // Two nodes read one source: each samples the lag it measures.
    for (lag, at) in [(40, T + 1_000), (250, T + 6_000), (90, T + 11_000)] {
        store
            .sample_source_lag("orders", lag, at)
            .await
            .expect("sampled");
    }
    store
        .sample_source_lag("orders", 3, T + 61_000)
        .await
        .expect("sampled");
    let orders = Scope::Source("orders".into());
    let series = store
        .stats_series(&orders, Width::Minute, T, T + 120_000)
        .await
        .expect("series");
    let depths: Vec<_> = series.iter().map(|b| (b.start, b.counts.depth)).collect();
    assert_eq!(depths, [(T, Some(250)), (T + 60_000, Some(3))]);
    let hour = total(&store, orders, Width::Hour, 0, T + 3_600_000).await;
    assert_eq!(hour.depth, Some(250));
    assert_eq!(
        (hour.stored, hour.oldest_pending_ms),
        (0, None),
        "a lag sample counts no message and has no age"
    );
    let server = total(&store, Scope::Server, Width::Minute, T, T + 120_000).await;
    assert_eq!(server.depth, None, "the server's queue is not the source's");
}

async fn buckets_past_their_retention_are_purged_by_width(store: Arc<dyn Store>) {
    let a = app_with_endpoints(&store, 1).await;
    send(&store, &a.id, "a", None, T, None).await;
    send(&store, &a.id, "a", None, 3 * T, None).await;
    let purged = store
        .stats_purge(Width::Minute, 2 * T)
        .await
        .expect("purged");
    assert!(purged >= 1);
    let minutes = total(&store, Scope::Server, Width::Minute, 0, 4 * T).await;
    let hours = total(&store, Scope::Server, Width::Hour, 0, 4 * T).await;
    assert_eq!((minutes.created, hours.created), (1, 2));
    store.stats_purge(Width::Hour, 4 * T).await.expect("purged");
    assert!(
        total(&store, Scope::Server, Width::Hour, 0, 4 * T)
            .await
            .is_empty()
    );
}

/// Two nodes recording at once into the same buckets: every count lands, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_counts_of_two_nodes_add_up() {
    let f = crate::fixtures::Postgres::new().await;
    let other = f.another_node().await;
    let a = app_with_endpoints(&f.store, 4).await;
    let mut all = Vec::new();
    for i in 0..25 {
        all.extend(
            send(&f.store, &a.id, "a", None, T + i, None)
                .await
                .deliveries,
        );
    }
    let halves: Vec<Vec<_>> = all.chunks(50).map(<[_]>::to_vec).collect();
    let mut tasks = Vec::new();
    for (store, half) in [f.store.clone(), other].into_iter().zip(halves) {
        tasks.push(tokio::spawn(async move {
            for chunk in half.chunks(5) {
                let batch = chunk
                    .iter()
                    .map(|d| {
                        record(
                            attempt_of(d, OutcomeCode::Ok, 7, T + 500),
                            DeliveryStatus::Succeeded,
                        )
                    })
                    .collect();
                store.record_attempts(batch).await.expect("recorded");
            }
        }));
    }
    for t in tasks {
        t.await.expect("node task");
    }
    for width in Width::ALL {
        let server = total(&f.store, Scope::Server, width, 0, T + 3_600_000).await;
        assert_eq!((server.ok, server.created), (100, 100), "{width:?}");
    }
    // Both nodes fold in the background: once they have, nothing waits and nothing was
    // added twice.
    let mut raw = f.raw().await;
    let mut waiting = i64::MAX;
    for _ in 0..100 {
        waiting = sqlx::query_scalar("SELECT COUNT(*) FROM stats_pending")
            .fetch_one(&mut raw)
            .await
            .expect("count");
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(waiting, 0, "the background folds emptied stats_pending");
    let rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM stats WHERE scope = 'server' AND width = 60000 AND start_at = 5400000",
    )
    .fetch_one(&mut raw)
    .await
    .expect("count");
    assert_eq!(rows, 1, "one row per scope and bucket");
    let server = total(&f.store, Scope::Server, Width::Minute, 0, T + 60_000).await;
    assert_eq!((server.ok, server.created), (100, 100));
}

/// A pending row that cannot be read fails the read that folds it, with what is wrong, and
/// loses nothing: the fold is rolled back whole, and once the row is gone every count is there.
#[tokio::test]
async fn postgres_a_fold_that_fails_keeps_every_pending_count() {
    let f = crate::fixtures::Postgres::new().await;
    let a = app_with_endpoints(&f.store, 2).await;
    let mut raw = f.raw().await;
    // Held in a transaction of its own, so no background fold can run while the rows are
    // written; released once the bad row is in.
    let mut hold = f.raw().await;
    sqlx::raw_sql("BEGIN; SELECT pg_advisory_xact_lock(8243966061673671780)")
        .execute(&mut hold)
        .await
        .expect("lock");
    for i in 0..3 {
        send(&f.store, &a.id, "a", None, T + i, None).await;
    }
    sqlx::query("INSERT INTO stats_pending (tally) VALUES ('not a tally')")
        .execute(&mut raw)
        .await
        .expect("bad row");
    sqlx::raw_sql("COMMIT")
        .execute(&mut hold)
        .await
        .expect("unlock");
    let e = f
        .store
        .stats_series(&Scope::Server, Width::Minute, 0, T + 60_000)
        .await
        .expect_err("the bad row fails the fold");
    assert!(e.to_string().contains("stats_pending"), "{e}");
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stats_pending")
        .fetch_one(&mut raw)
        .await
        .expect("count");
    assert_eq!(waiting, 4, "every pending row is kept");
    sqlx::query("DELETE FROM stats_pending WHERE tally = 'not a tally'")
        .execute(&mut raw)
        .await
        .expect("bad row removed");
    let server = total(&f.store, Scope::Server, Width::Minute, 0, T + 60_000).await;
    assert_eq!(server.created, 6, "three messages to two endpoints");
}
