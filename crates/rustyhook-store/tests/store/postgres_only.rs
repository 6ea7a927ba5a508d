//! What only the PostgreSQL store does: several nodes share its database. Each test opens two
//! (or more) stores on one fresh database, as two rustyhook nodes would.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::id::{DeliveryId, EndpointId};
use rustyhook_core::model::DeliveryStatus;
use rustyhook_store::postgres::{PgOptions, PostgresStore};
use rustyhook_store::*;
use sqlx::Row;

use crate::fixtures::{Postgres, TestDatabase, chain, connect};
use crate::support::*;

#[tokio::test]
async fn secrets_are_not_in_plain_text_in_the_endpoints_table() {
    let f = Postgres::new().await;
    let a = f.store.create_app(app(None)).await.expect("app");
    let ep = f
        .store
        .create_endpoint(endpoint(&a.id, None, None))
        .await
        .expect("ep");
    let exposed = ep.secrets[0].secret.expose();
    let b64 = exposed.trim_start_matches("whsec_");
    let mut raw = f.raw().await;
    let row = sqlx::query("SELECT secrets, endpoints::TEXT FROM endpoints")
        .fetch_one(&mut raw)
        .await
        .expect("row");
    let sealed: String = row.get(0);
    let whole_row: String = row.get(1);
    assert!(sealed.starts_with("v1:"), "sealed by the SecretBox");
    assert!(!whole_row.contains(b64));
    assert!(!whole_row.contains(&exposed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_at_once_never_take_the_same_delivery() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let app_id = app_with_endpoints(&f.store, 25).await.id;
    for i in 0..20 {
        send(&f.store, &app_id, "a", None, 10 + i, None).await;
    }
    assert_eq!(f.store.queue_depth().await.expect("depth"), 500);
    let claim_all = |store: Arc<dyn Store>, node: &'static str| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let got = store
                    .claim_due(&lease(node), 1_000, 7)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return ids;
                }
                ids.extend(got.iter().map(due_id));
            }
        })
    };
    let first = claim_all(f.store.clone(), "node-a");
    let second = claim_all(other, "node-b");
    let (first, second) = (first.await.expect("a"), second.await.expect("b"));
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    let distinct: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), distinct.len(), "a delivery was claimed twice");
    assert_eq!(distinct.len(), 500, "every due delivery was claimed");
}

#[tokio::test]
async fn opening_another_node_leaves_existing_leases_alone() {
    let f = Postgres::new().await;
    let app_id = app_with_endpoints(&f.store, 1).await.id;
    send(&f.store, &app_id, "a", None, 10, Some("node-a")).await;
    let other = f.another_node().await;
    assert!(
        other
            .claim_due(&lease("node-b"), 1_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

#[tokio::test]
async fn releasing_dead_nodes_frees_a_dead_nodes_leases_but_not_a_live_ones() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let app_id = app_with_endpoints(&f.store, 1).await.id;
    let first = f.store.heartbeat("node-a").await.expect("beat");
    assert!(!first.known, "a first heartbeat finds no record");
    other.heartbeat("node-b").await.expect("beat");
    send(&f.store, &app_id, "a", None, 10, Some("node-a")).await;
    send(&other, &app_id, "a", None, 10, Some("node-b")).await;
    // A lease whose owner never sent a heartbeat at all.
    send(&other, &app_id, "a", None, 10, Some("node-ghost")).await;
    let running = run("h", 10);
    f.store
        .create_runs(vec![running.clone()], Some(lease("node-a")))
        .await
        .expect("run");
    f.store.start_run(&running.id, 20).await.expect("start");
    // node-b lives on; node-a stopped beating a minute ago, by the database's clock.
    let mut raw = f.raw().await;
    sqlx::query("UPDATE nodes SET heartbeat_at = heartbeat_at - 60000 WHERE id = 'node-a'")
        .execute(&mut raw)
        .await
        .expect("age node-a");
    assert!(other.heartbeat("node-b").await.expect("beat").known);

    let (x, y) = tokio::join!(
        other.release_dead_nodes(5_000),
        f.store.release_dead_nodes(5_000)
    );
    assert_eq!(
        x.expect("reap") + y.expect("reap"),
        3,
        "node-a's delivery and run and the ghost's delivery, released once between two reapers"
    );

    let claimed = other
        .claim_due(&lease("node-c"), 1_000, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3, "node-b's delivery stays leased");
    let back: Vec<_> = claimed
        .into_iter()
        .filter_map(|due| match due {
            Due::Handler(r) => Some(r),
            Due::Endpoint(_) => None,
        })
        .collect();
    assert_eq!(back.len(), 1, "two deliveries and the run");
    assert_eq!(
        back[0].status,
        DeliveryStatus::Pending,
        "a running run is due again"
    );

    let nodes: Vec<String> = sqlx::query_scalar("SELECT id FROM nodes ORDER BY id")
        .fetch_all(&mut raw)
        .await
        .expect("nodes");
    assert_eq!(nodes, ["node-b"], "the dead node is forgotten");
    let back = f.store.heartbeat("node-a").await.expect("beat");
    assert!(
        !back.known,
        "a node taken for dead finds so at its next heartbeat"
    );
}

#[tokio::test]
async fn a_late_attempt_of_a_node_taken_for_dead_is_kept_but_moves_nothing_another_node_holds() {
    let f = Postgres::new().await;
    let app_id = app_with_endpoints(&f.store, 1).await.id;
    send(&f.store, &app_id, "a", None, 10, Some("node-a")).await;
    // node-a is taken for dead; node-b claims the delivery.
    let mut raw = f.raw().await;
    sqlx::query("UPDATE deliveries SET lease_owner = NULL")
        .execute(&mut raw)
        .await
        .expect("release");
    let claimed = claim_deliveries(&f.store, "node-b", 1_000, 10).await;
    assert_eq!(claimed.len(), 1);
    let delivery = claimed[0].delivery.clone();
    // node-a's attempt, made before it knew, arrives late.
    let record = |node: &str| AttemptRecord {
        attempt: Attempted::Endpoint(failed_attempt(&delivery, 2_000)),
        status: DeliveryStatus::Succeeded,
        next_attempt_at: None,
        disable_endpoint: false,
        leased_to: Some(lease(node)),
    };
    f.store
        .record_attempt(record("node-a"))
        .await
        .expect("record");
    let owner: Option<String> =
        sqlx::query_scalar("SELECT lease_owner FROM deliveries WHERE id = $1")
            .bind(delivery.id.as_str())
            .fetch_one(&mut raw)
            .await
            .expect("owner");
    assert_eq!(owner.as_deref(), Some("node-b"), "node-b still holds it");
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE delivery_id = $1")
        .bind(delivery.id.as_str())
        .fetch_one(&mut raw)
        .await
        .expect("attempts");
    assert_eq!(attempts, 1, "the attempt that was made is on record");
    // node-b's own attempt moves it on.
    f.store
        .record_attempt(record("node-b"))
        .await
        .expect("record");
    let status: String = sqlx::query_scalar("SELECT status FROM deliveries WHERE id = $1")
        .bind(delivery.id.as_str())
        .fetch_one(&mut raw)
        .await
        .expect("status");
    assert_eq!(status, "succeeded");
}

#[tokio::test]
async fn a_wakeup_fires_when_another_node_creates_an_unleased_message() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let wakeups = f.store.wakeups().expect("PostgreSQL offers wake-ups");
    let app_id = app_with_endpoints(&other, 1).await.id;
    send(&other, &app_id, "a", None, 10, Some("node-b")).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), wakeups.due.notified())
            .await
            .is_err(),
        "work leased to its creator wakes no one"
    );
    send(&other, &app_id, "a", None, 11, None).await;
    tokio::time::timeout(Duration::from_secs(10), wakeups.due.notified())
        .await
        .expect("the other node's unleased message wakes this node");
}

#[tokio::test]
async fn exactly_one_node_leads_and_another_takes_over_when_it_stops() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let first = f.store.hold_leadership("cron").await.expect("lead");
    let second = other.hold_leadership("cron").await.expect("lead");
    assert!(first ^ second, "exactly one leads ({first}, {second})");
    let (leader, follower) = if first {
        (f.store.clone(), other)
    } else {
        (other, f.store.clone())
    };
    assert!(leader.hold_leadership("cron").await.expect("lead"));
    assert!(!follower.hold_leadership("cron").await.expect("lead"));
    drop(leader);
    if first {
        // The fixture holds the leader too; a node that stops drops its store.
        drop(f.store);
    }
    let mut took_over = false;
    for _ in 0..100 {
        if follower.hold_leadership("cron").await.expect("lead") {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(took_over, "the follower leads once the leader is gone");
}

#[tokio::test]
async fn two_nodes_storing_the_same_tick_create_its_run_once() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let (x, y) = tokio::join!(
        f.store
            .create_tick_runs("cron:h", 60_000, vec![run("h", 60_000)], None),
        other.create_tick_runs("cron:h", 60_000, vec![run("h", 60_000)], None)
    );
    let (x, y) = (x.expect("tick"), y.expect("tick"));
    assert!(x ^ y, "exactly one stores the tick ({x}, {y})");
    let runs = other
        .list_runs(Some("h".into()), None, Page::first(10, Order::Ascending))
        .await
        .expect("runs");
    assert_eq!(runs.items.len(), 1);
}

#[tokio::test]
async fn two_nodes_storing_the_same_event_id_at_once_store_one_message() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let app_id = app_with_endpoints(&f.store, 2).await.id;
    let (x, y) = tokio::join!(
        send(&f.store, &app_id, "a", Some("evt-1"), 10, None),
        send(&other, &app_id, "a", Some("evt-1"), 11, None)
    );
    assert_eq!(x.message.id, y.message.id);
    assert!(x.existing ^ y.existing);
    assert_eq!(f.store.queue_depth().await.expect("depth"), 2);
}

#[tokio::test]
async fn nodes_starting_at_once_migrate_the_schema_once() {
    let db = TestDatabase::create().await;
    let key = rustyhook_core::crypto::SecretBox::generate_key();
    let (a, b, c) = tokio::join!(
        connect(&db.url, &key),
        connect(&db.url, &key),
        connect(&db.url, &key)
    );
    let created = a.create_app(app(None)).await.expect("app");
    assert!(c.get_app(created.id.as_str()).await.expect("get").is_some());
    drop((a, b, c));
}

#[tokio::test]
async fn an_unreachable_server_is_named_in_the_error_without_the_password() {
    let key = rustyhook_core::crypto::SecretBox::generate_key();
    let failed = PostgresStore::connect(
        "postgres://rh:hunter2@127.0.0.1:1/rustyhook",
        PgOptions::default(),
        rustyhook_core::crypto::SecretBox::new(&key),
    )
    .await;
    let Err(e) = failed else {
        panic!("nothing listens on port 1");
    };
    let text = chain(&e);
    assert!(
        text.contains("could not connect to PostgreSQL at 127.0.0.1:1/rustyhook"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn the_listener_reconnects_and_wakes_the_queue_after_losing_its_connection() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let wakeups = f.store.wakeups().expect("PostgreSQL offers wake-ups");
    let mut raw = f.raw().await;
    let terminated: Vec<bool> = sqlx::query_scalar(
        r#"SELECT pg_terminate_backend(pid)
        FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%'"#,
    )
    .fetch_all(&mut raw)
    .await
    .expect("terminate");
    assert!(!terminated.is_empty(), "the listeners' sessions were found");
    let wait = Duration::from_secs(10);
    tokio::time::timeout(wait, wakeups.due.notified())
        .await
        .expect("a reconnect wakes the queue: notifications may have been missed");
    other
        .create_runs(vec![run("h", 10)], None)
        .await
        .expect("runs");
    tokio::time::timeout(wait, wakeups.due.notified())
        .await
        .expect("the new connection listens");
}

/// How many sessions LISTEN on the test database.
async fn listening(raw: &mut sqlx::PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        r#"SELECT COUNT(*)
        FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%'"#,
    )
    .fetch_one(raw)
    .await
}

#[tokio::test]
async fn a_dropped_store_stops_listening() {
    let f = Postgres::new().await;
    let mut raw = f.raw().await;
    assert_eq!(listening(&mut raw).await.expect("count"), 1);
    let Postgres { store, db, .. } = f;
    drop(store);
    let mut stopped = false;
    for _ in 0..100 {
        if listening(&mut raw).await.expect("count") == 0 {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped, "the listener's session ended with the store");
    drop(raw);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_storing_under_one_key_at_once_store_one_run() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    for i in 0..20 {
        let key = format!("src:orders:{i}-0");
        let (x, y) = tokio::join!(
            f.store.create_keyed_run(&key, run("h", 10 + i), None),
            other.create_keyed_run(&key, run("h", 10 + i), Some(lease("node-b")))
        );
        let (x, y) = (x.expect("create"), y.expect("create"));
        assert!(x ^ y, "exactly one stores under {key} ({x}, {y})");
    }
    let runs = other
        .list_runs(Some("h".into()), None, Page::first(100, Order::Ascending))
        .await
        .expect("runs");
    assert_eq!(runs.items.len(), 20);
}

#[tokio::test]
async fn a_repeated_key_wakes_no_one_and_deleting_its_run_frees_it() {
    let f = Postgres::new().await;
    let other = f.another_node().await;
    let wakeups = f.store.wakeups().expect("PostgreSQL offers wake-ups");
    let first = run("h", 10);
    assert!(
        other
            .create_keyed_run("k", first.clone(), None)
            .await
            .expect("create")
    );
    tokio::time::timeout(Duration::from_secs(10), wakeups.due.notified())
        .await
        .expect("an unleased keyed run wakes the other node");
    assert!(
        !other
            .create_keyed_run("k", run("h", 11), None)
            .await
            .expect("create")
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), wakeups.due.notified())
            .await
            .is_err(),
        "a run that was not stored wakes no one"
    );
    // As a retention purge would.
    let mut raw = f.raw().await;
    sqlx::query("DELETE FROM deliveries WHERE id = $1")
        .bind(first.id.as_str())
        .execute(&mut raw)
        .await
        .expect("delete");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_keys")
        .fetch_one(&mut raw)
        .await
        .expect("count");
    assert_eq!(keys, 0, "no key outlives its run");
    assert!(
        other
            .create_keyed_run("k", run("h", 20), None)
            .await
            .expect("create"),
        "the key is free again"
    );
}

#[tokio::test]
async fn runs_of_a_database_from_before_the_one_queue_survive_in_deliveries() {
    let migrations = released_migrations(include_str!("../../src/postgres/schema.rs"));
    // Version 9 is the last with `runs` and `run_attempts` of their own.
    const BEFORE_ONE_QUEUE: usize = 9;
    assert!(
        migrations.len() > BEFORE_ONE_QUEUE,
        "the one queue's migration is released"
    );
    let db = TestDatabase::create().await;
    let mut raw = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("connect");
    sqlx::raw_sql(
        r#"CREATE TABLE schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"#,
    )
    .execute(&mut raw)
    .await
    .expect("schema_migrations");
    for (i, sql) in migrations[..BEFORE_ONE_QUEUE].iter().enumerate() {
        sqlx::raw_sql(sql)
            .execute(&mut raw)
            .await
            .expect("an old migration applies");
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(i as i64 + 1)
            .execute(&mut raw)
            .await
            .expect("version");
    }
    let old = OldRun::new();
    let a = app(None);
    let m = message(&a.id, "a", None, 10);
    let delivery = DeliveryId::generate(10);
    let endpoint_id = EndpointId::generate(2);
    sqlx::query(
        "INSERT INTO apps (id, name, metadata, created_at, updated_at) \
         VALUES ($1, 'Acme', '{}', 1, 1)",
    )
    .bind(a.id.as_str())
    .execute(&mut raw)
    .await
    .expect("app");
    sqlx::query(
        "INSERT INTO messages (id, app_id, event_type, payload, created_at) \
         VALUES ($1, $2, 'a', $3, 10)",
    )
    .bind(m.id.as_str())
    .bind(a.id.as_str())
    .bind(m.payload.as_deref())
    .execute(&mut raw)
    .await
    .expect("message");
    sqlx::query(
        "INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, \
            next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'failed', 1, 30, 10, 20)",
    )
    .bind(delivery.as_str())
    .bind(m.id.as_str())
    .bind(endpoint_id.as_str())
    .bind(a.id.as_str())
    .execute(&mut raw)
    .await
    .expect("delivery");
    let r = &old.run;
    sqlx::query(
        "INSERT INTO runs (id, handler_id, step, status, attempts, next_attempt_at, \
            triggered_by, parent_id, event, exit_code, output, lease_owner, created_at, \
            updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13)",
    )
    .bind(r.id.as_str())
    .bind(&r.handler_id)
    .bind(r.step.as_str())
    .bind(r.status.as_str())
    .bind(i64::from(r.attempts))
    .bind(r.next_attempt_at)
    .bind(&r.triggered_by)
    .bind(r.parent_id.as_ref().map(|p| p.as_str()))
    .bind(old.event_json())
    .bind(r.exit_code.map(i64::from))
    .bind(r.output.as_deref())
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut raw)
    .await
    .expect("run");
    let ra = &old.attempt;
    sqlx::query(
        "INSERT INTO run_attempts (id, run_id, handler_id, outcome, exit_code, output, \
            duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ra.id.as_str())
    .bind(ra.run_id.as_str())
    .bind(&ra.handler_id)
    .bind(ra.outcome.as_str())
    .bind(ra.exit_code.map(i64::from))
    .bind(&ra.output)
    .bind(ra.duration_ms)
    .bind(ra.created_at)
    .execute(&mut raw)
    .await
    .expect("run attempt");
    sqlx::query("INSERT INTO run_keys (key, run_id) VALUES ($1, $2)")
        .bind(old.key)
        .bind(r.id.as_str())
        .execute(&mut raw)
        .await
        .expect("run key");

    let key = rustyhook_core::crypto::SecretBox::generate_key();
    let store: Arc<dyn Store> = Arc::new(connect(&db.url, &key).await);
    let latest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut raw)
        .await
        .expect("version");
    assert_eq!(latest as usize, migrations.len(), "migrated to the latest");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name LIKE 'run%' ORDER BY 1",
    )
    .fetch_all(&mut raw)
    .await
    .expect("tables");
    assert_eq!(tables, ["run_keys"], "runs and run_attempts are gone");
    old.check_survived(&store, &delivery).await;
    // The key now follows its run in deliveries: deleting the run frees it.
    sqlx::query("DELETE FROM deliveries WHERE id = $1")
        .bind(r.id.as_str())
        .execute(&mut raw)
        .await
        .expect("delete");
    assert!(
        store
            .create_keyed_run(old.key, run("h", 60), None)
            .await
            .expect("create"),
        "the key went with its run"
    );
    drop(raw);
    drop(store);
    drop(db);
}
