//! What only the SQLite store does: it owns its file alone, so it locks it and releases every
//! lease on open, and its secrets must not appear anywhere in the files it writes.

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{DeliveryId, EndpointId};
use rustyhook_core::model::{Delivery, DeliveryStatus};
use rustyhook_store::sqlite::{SqliteOptions, SqliteStore};

use crate::fixtures::Sqlite;
use crate::support::*;

#[tokio::test]
async fn leases_of_a_crashed_process_are_released_when_the_store_reopens() {
    let f = Sqlite::new();
    let a = app_with_endpoints(&f.store, 1).await;
    send(&f.store, &a.id, "a", None, 10, Some("dead-node")).await;
    let Sqlite { store, dir, key } = f;
    drop(store);
    let reopened = Sqlite::open_at(dir.path(), &key);
    assert_eq!(
        reopened
            .claim_due(&lease("n"), 10, 10)
            .await
            .expect("claim")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_database() {
    let f = Sqlite::new();
    let second = SqliteStore::open(
        &f.dir.path().join("db.sqlite"),
        SecretBox::new(&f.key),
        SqliteOptions::default(),
    );
    assert!(second.is_err());
}

#[tokio::test]
async fn endpoint_secrets_are_encrypted_at_rest_and_read_back_with_the_key() {
    let f = Sqlite::new();
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
async fn deleting_a_keyed_run_deletes_its_key_and_frees_it() {
    let f = Sqlite::new();
    let first = run("h", 10);
    assert!(
        f.store
            .create_keyed_run("k", first.clone(), None)
            .await
            .expect("create")
    );
    // As a retention purge would: on a connection with foreign keys on, as the store's writer
    // has them.
    let raw = rusqlite::Connection::open(f.dir.path().join("db.sqlite")).expect("open");
    raw.execute_batch("PRAGMA foreign_keys = ON")
        .expect("foreign keys");
    raw.execute("DELETE FROM deliveries WHERE id = ?", [first.id.as_str()])
        .expect("delete");
    let keys: i64 = raw
        .query_row("SELECT COUNT(*) FROM run_keys", [], |r| r.get(0))
        .expect("count");
    assert_eq!(keys, 0, "no key outlives its run");
    assert!(
        f.store
            .create_keyed_run("k", run("h", 20), None)
            .await
            .expect("create"),
        "the key is free again"
    );
}

#[tokio::test]
async fn runs_of_a_database_from_before_the_one_queue_survive_in_deliveries() {
    let migrations = released_migrations(include_str!("../../src/sqlite/schema.rs"));
    // Version 8 is the last with `runs`, `run_attempts` and `run_keys` of their own.
    const BEFORE_ONE_QUEUE: usize = 8;
    assert!(
        migrations.len() > BEFORE_ONE_QUEUE,
        "the one queue's migration is released"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite");
    let old = OldRun::new();
    let a = app(None);
    let m = message(&a.id, "a", None, 10);
    let d = Delivery {
        id: DeliveryId::generate(10),
        msg_id: m.id.clone(),
        endpoint_id: EndpointId::generate(2),
        app_id: a.id.clone(),
        status: DeliveryStatus::Failed,
        attempts: 1,
        next_attempt_at: Some(30),
        created_at: 10,
        updated_at: 20,
    };
    let attempt = failed_attempt(&d, 20);
    {
        let raw = rusqlite::Connection::open(&path).expect("open");
        for sql in &migrations[..BEFORE_ONE_QUEUE] {
            raw.execute_batch(sql).expect("an old migration applies");
        }
        raw.execute_batch(&format!("PRAGMA user_version = {BEFORE_ONE_QUEUE}"))
            .expect("version");
        raw.execute(
            "INSERT INTO apps (id, name, metadata, created_at, updated_at) \
             VALUES (?, 'Acme', '{}', 1, 1)",
            [a.id.as_str()],
        )
        .expect("app");
        raw.execute(
            "INSERT INTO messages (id, app_id, event_type, payload, created_at) \
             VALUES (?, ?, 'a', ?, 10)",
            rusqlite::params![m.id.as_str(), a.id.as_str(), m.payload.as_deref()],
        )
        .expect("message");
        raw.execute(
            "INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, \
                next_attempt_at, manual, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'failed', 1, 30, 0, 10, 20)",
            [
                d.id.as_str(),
                m.id.as_str(),
                d.endpoint_id.as_str(),
                a.id.as_str(),
            ],
        )
        .expect("delivery");
        raw.execute(
            "INSERT INTO attempts (id, delivery_id, msg_id, endpoint_id, app_id, url, outcome, \
                status_code, response, duration_ms, trigger_type, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rusqlite::params![
                attempt.id.as_str(),
                d.id.as_str(),
                m.id.as_str(),
                d.endpoint_id.as_str(),
                a.id.as_str(),
                attempt.url,
                attempt.outcome.as_str(),
                attempt.status_code,
                attempt.response,
                attempt.duration_ms,
                attempt.trigger as i64,
                attempt.created_at
            ],
        )
        .expect("attempt");
        let r = &old.run;
        raw.execute(
            "INSERT INTO runs (id, handler_id, step, status, attempts, next_attempt_at, \
                triggered_by, parent_id, event, exit_code, output, lease_owner, created_at, \
                updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'old-node', ?, ?)",
            rusqlite::params![
                r.id.as_str(),
                r.handler_id,
                r.step.as_str(),
                r.status.as_str(),
                r.attempts,
                r.next_attempt_at,
                r.triggered_by,
                r.parent_id.as_ref().map(|p| p.as_str()),
                old.event_json(),
                r.exit_code,
                r.output,
                r.created_at,
                r.updated_at
            ],
        )
        .expect("run");
        let ra = &old.attempt;
        raw.execute(
            "INSERT INTO run_attempts (id, run_id, handler_id, outcome, exit_code, output, \
                duration_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rusqlite::params![
                ra.id.as_str(),
                ra.run_id.as_str(),
                ra.handler_id,
                ra.outcome.as_str(),
                ra.exit_code,
                ra.output,
                ra.duration_ms,
                ra.created_at
            ],
        )
        .expect("run attempt");
        raw.execute(
            "INSERT INTO run_keys (key, run_id) VALUES (?, ?)",
            [old.key, r.id.as_str()],
        )
        .expect("run key");
    }

    let key = rustyhook_core::crypto::SecretBox::generate_key();
    let store = Sqlite::open_at(dir.path(), &key);
    {
        let raw = rusqlite::Connection::open(&path).expect("open");
        let version: i64 = raw
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, migrations.len(), "migrated to the latest");
        let tables: Vec<String> = raw
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'run%'")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("tables");
        assert_eq!(tables, ["run_keys"], "runs and run_attempts are gone");
    }
    assert_eq!(
        store
            .get_attempt(&m.id, attempt.id.as_str())
            .await
            .expect("get"),
        Some(attempt),
        "the delivery's attempt survived"
    );
    // The lease of the process that wrote the old file was released on open.
    old.check_survived(&store, &d.id).await;
    // The key now follows its run in deliveries: deleting the run frees it.
    let raw = rusqlite::Connection::open(&path).expect("open");
    raw.execute_batch("PRAGMA foreign_keys = ON")
        .expect("foreign keys");
    raw.execute("DELETE FROM deliveries WHERE id = ?", [old.run.id.as_str()])
        .expect("delete");
    assert!(
        store
            .create_keyed_run(old.key, run("h", 60), None)
            .await
            .expect("create"),
        "the key went with its run"
    );
}

/// SQLite's writer folds `stats_pending` as it goes; a pending row that cannot be read fails
/// that fold alone, not the writes it runs among, and fails the read that folds it, with what
/// is wrong. Nothing is lost: once the row is gone every count is there.
#[tokio::test]
async fn a_fold_that_fails_stops_no_write_and_keeps_every_pending_count() {
    use rustyhook_core::stats::{Scope, Width};
    let f = Sqlite::new();
    let a = app_with_endpoints(&f.store, 2).await;
    let raw = rusqlite::Connection::open(f.dir.path().join("db.sqlite")).expect("open");
    raw.execute(
        "INSERT INTO stats_pending (tally) VALUES ('not a tally')",
        [],
    )
    .expect("bad row");
    // Past the writer's fold interval, so the first of these writes' groups folds, and fails.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    for i in 0..3 {
        send(&f.store, &a.id, "a", None, 5_400_000 + i, None).await;
    }
    let e = f
        .store
        .stats_series(&Scope::Server, Width::Minute, 0, 5_460_000)
        .await
        .expect_err("the bad row fails the fold");
    assert!(e.to_string().contains("stats_pending"), "{e}");
    let (bad, others): (i64, i64) = raw
        .query_row(
            "SELECT SUM(tally = 'not a tally'), SUM(tally != 'not a tally') FROM stats_pending",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(bad, 1, "the bad row is kept");
    assert!(others >= 1, "so are the writes' counts, unfolded");
    raw.execute("DELETE FROM stats_pending WHERE tally = 'not a tally'", [])
        .expect("bad row removed");
    let series = f
        .store
        .stats_series(&Scope::Server, Width::Minute, 0, 5_460_000)
        .await
        .expect("series");
    let created: i64 = series.iter().map(|b| b.counts.created).sum();
    assert_eq!(
        created, 6,
        "three messages to two endpoints, each counted once"
    );
    let waiting: i64 = raw
        .query_row("SELECT COUNT(*) FROM stats_pending", [], |r| r.get(0))
        .expect("count");
    assert_eq!(waiting, 0, "the read's fold took everything pending");
}
