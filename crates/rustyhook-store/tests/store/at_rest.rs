//! What the store keeps readable by anyone holding a copy of the database: no endpoint header
//! value and no saved idempotent response may be there in clear, on either backend. Each test
//! writes through the `Store` trait, then reads the raw columns.

use std::sync::Arc;

use rustyhook_store::*;

use crate::fixtures::{Postgres, Sqlite};
use crate::support::*;

const HEADER_VALUE: &str = "Bearer header-secret-0123456789";
const SAVED_SECRET: &str = "whsec_c2F2ZWQtcmVzcG9uc2Utc2VjcmV0";

/// Stores an endpoint with an `Authorization` header and a completed idempotency key whose
/// saved answer holds a secret, and checks both read back as written.
async fn store_secrets(store: &Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let mut ep = endpoint(&a.id, None, None);
    ep.headers
        .insert("Authorization".into(), HEADER_VALUE.into());
    let ep = store.create_endpoint(ep).await.expect("ep");
    let back = store
        .get_endpoint(&a.id, ep.id.as_str())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(back.headers["Authorization"], HEADER_VALUE);
    let body = format!(r#"{{"key":"{SAVED_SECRET}"}}"#).into_bytes();
    assert_eq!(
        store
            .idempotency_begin("k", 100, 0, 0)
            .await
            .expect("begin"),
        IdempotencyBegin::Started
    );
    store
        .idempotency_complete("k", 200, body.clone())
        .await
        .expect("complete");
    assert_eq!(
        store
            .idempotency_begin("k", 101, 0, 0)
            .await
            .expect("begin"),
        IdempotencyBegin::Completed { status: 200, body }
    );
}

fn assert_sealed(what: &str, raw: &str) {
    assert!(raw.starts_with("v1:"), "{what} is not sealed: {raw}");
    assert!(!raw.contains("header-secret"), "{what} holds the header");
    assert!(
        !raw.contains("c2F2ZWQtcmVzcG9uc2Utc2VjcmV0"),
        "{what} holds the secret"
    );
}

#[tokio::test]
async fn sqlite_keeps_endpoint_headers_and_saved_responses_sealed() {
    let f = Sqlite::new();
    store_secrets(&f.store).await;
    drop(f.store);
    let raw = rusqlite::Connection::open(f.dir.path().join("db.sqlite")).expect("open");
    let headers: String = raw
        .query_row("SELECT headers FROM endpoints", [], |r| r.get(0))
        .expect("headers");
    assert_sealed("endpoints.headers", &headers);
    let body: Vec<u8> = raw
        .query_row("SELECT body FROM idempotency", [], |r| r.get(0))
        .expect("body");
    assert_sealed("idempotency.body", &String::from_utf8_lossy(&body));
    drop(raw);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(f.dir.path()).expect("dir") {
        files.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let files = String::from_utf8_lossy(&files);
    assert!(!files.contains("header-secret") && !files.contains("c2F2ZWQtcmVzcG9uc2Utc2VjcmV0"));
}

#[tokio::test]
async fn postgres_keeps_endpoint_headers_and_saved_responses_sealed() {
    let f = Postgres::new().await;
    store_secrets(&f.store).await;
    let mut raw = f.raw().await;
    let headers: String = sqlx::query_scalar("SELECT headers FROM endpoints")
        .fetch_one(&mut raw)
        .await
        .expect("headers");
    assert_sealed("endpoints.headers", &headers);
    let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM idempotency")
        .fetch_one(&mut raw)
        .await
        .expect("body");
    assert_sealed("idempotency.body", &String::from_utf8_lossy(&body));
}
