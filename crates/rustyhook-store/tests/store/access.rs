//! API tokens and the audit log, on every backend.

use std::sync::Arc;

use rustyhook_store::*;

use crate::support::app;

on_every_backend!(
    a_token_is_found_by_its_hash_and_revoking_it_keeps_the_first_time,
    a_token_of_an_app_goes_with_its_app,
    audit_entries_are_listed_newest_first_by_filter_and_purged_by_age,
);

fn token(id: &str, hash: &str, role: TokenRole) -> ApiToken {
    ApiToken {
        id: id.into(),
        name: format!("{id} label"),
        role,
        app_id: None,
        read_only: false,
        token_hash: hash.into(),
        created_at: 10,
        expires_at: Some(1_000),
        last_used_at: None,
        revoked_at: None,
    }
}

fn entry(id: &str, actor: &str, method: &str, at: i64) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        actor: actor.into(),
        method: method.into(),
        route: "/api/v1/app/{app_id}".into(),
        resource: r#"{"app_id":"app_1"}"#.into(),
        address: "10.0.0.7".into(),
        status: 204,
        created_at: at,
    }
}

async fn a_token_is_found_by_its_hash_and_revoking_it_keeps_the_first_time(store: Arc<dyn Store>) {
    let t = token("tok_1", "aa11", TokenRole::ReadOnly);
    store.create_token(t.clone()).await.expect("created");
    let again = store
        .create_token(token("tok_2", "aa11", TokenRole::Admin))
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a taken hash is a conflict: {again:?}"
    );
    let found = store
        .find_token("aa11")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found, t);
    assert!(
        found.is_live(999) && !found.is_live(1_000),
        "expiry is exclusive"
    );
    assert_eq!(store.find_token("bb22").await.expect("read"), None);

    store.touch_token("tok_1", 50).await.expect("touched");
    store.revoke_token("tok_1", 60).await.expect("revoked");
    store
        .revoke_token("tok_1", 70)
        .await
        .expect("revoked again");
    let read = store
        .get_token("tok_1")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.last_used_at, Some(50));
    assert_eq!(read.revoked_at, Some(60), "the first revocation stands");
    assert!(!read.is_live(61));
    assert!(matches!(
        store.revoke_token("tok_nope", 1).await,
        Err(StoreError::NotFound)
    ));
    let listed = store
        .list_tokens(Page::first(10, Order::Ascending))
        .await
        .expect("listed");
    assert_eq!(listed.items, vec![read]);
}

async fn a_token_of_an_app_goes_with_its_app(store: Arc<dyn Store>) {
    let a = store.create_app(app(None)).await.expect("app");
    let mut t = token("tok_app", "cc33", TokenRole::App);
    t.app_id = Some(a.id.clone());
    t.read_only = true;
    store.create_token(t.clone()).await.expect("created");
    assert_eq!(store.find_token("cc33").await.expect("read"), Some(t));
    store.delete_app(&a.id).await.expect("deleted");
    assert_eq!(store.find_token("cc33").await.expect("read"), None);
}

async fn audit_entries_are_listed_newest_first_by_filter_and_purged_by_age(store: Arc<dyn Store>) {
    store
        .record_audit(vec![
            entry("aud_1", "admin", "POST", 100),
            entry("aud_2", "tok_1", "DELETE", 200),
            entry("aud_3", "tok_1", "POST", 300),
        ])
        .await
        .expect("recorded");
    store
        .record_audit(Vec::new())
        .await
        .expect("nothing to record");
    let all = store
        .list_audit(AuditFilter::default(), Page::first(10, Order::Descending))
        .await
        .expect("listed");
    let ids: Vec<&str> = all.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["aud_3", "aud_2", "aud_1"]);
    assert_eq!(all.items[2], entry("aud_1", "admin", "POST", 100));
    let by_token = store
        .list_audit(
            AuditFilter {
                actor: Some("tok_1".into()),
                method: Some("POST".into()),
                ..Default::default()
            },
            Page::first(10, Order::Descending),
        )
        .await
        .expect("listed");
    assert_eq!(by_token.items, vec![entry("aud_3", "tok_1", "POST", 300)]);
    let after = store
        .list_audit(
            AuditFilter {
                after: Some(150),
                before: Some(300),
                ..Default::default()
            },
            Page::first(10, Order::Descending),
        )
        .await
        .expect("listed");
    assert_eq!(after.items.len(), 1);
    assert_eq!(store.audit_purge(250).await.expect("purged"), 2);
    let left = store
        .list_audit(AuditFilter::default(), Page::first(10, Order::Descending))
        .await
        .expect("listed");
    assert_eq!(left.items.len(), 1);
}
