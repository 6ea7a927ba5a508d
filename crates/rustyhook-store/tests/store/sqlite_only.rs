//! What only the SQLite store does: it owns its file alone, so it locks it and releases every
//! lease on open, and its secrets must not appear anywhere in the files it writes.

use rustyhook_core::crypto::SecretBox;
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
        reopened.claim_due("n", 10, 10).await.expect("claim").len(),
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
    raw.execute("DELETE FROM runs WHERE id = ?", [first.id.as_str()])
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
