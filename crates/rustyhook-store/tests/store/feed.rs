//! What the live feed reads, on every backend: attempts of endpoints and handler runs alike,
//! past a cursor, oldest first, narrowed by app, endpoint or handler, each saying whether it
//! made a dead letter.

use std::sync::Arc;

use rustyhook_core::id::{AppId, AttemptId, EndpointId};
use rustyhook_core::model::{Attempt, DeliveryStatus};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_store::*;

use crate::support::{
    app, claim_deliveries, claim_runs, endpoint, failed_attempt, run, run_attempt, run_record, send,
};

on_every_backend!(
    the_feed_reads_attempts_past_a_cursor_in_order_and_marks_dead_letters,
    endpoint_changes_are_in_the_feed_with_their_change_s_transaction,
);

fn record(attempt: Attempt, status: DeliveryStatus, next: Option<i64>) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempted::Endpoint(attempt),
        status,
        next_attempt_at: next,
        disable_endpoint: false,
        leased_to: None,
    }
}

/// The attempts the feed reads (the endpoints' changes left out).
async fn read(store: &Arc<dyn Store>, query: FeedQuery) -> Vec<FeedRow> {
    let entries = store.feed(query).await.expect("the feed reads");
    entries
        .into_iter()
        .filter_map(|e| match e {
            FeedEntry::Attempt(row) => Some(row),
            FeedEntry::Endpoint(_) => None,
        })
        .collect()
}

/// The endpoint changes the feed reads: (endpoint, change, detail).
async fn changes(
    store: &Arc<dyn Store>,
    query: FeedQuery,
) -> Vec<(String, String, Option<String>)> {
    let entries = store.feed(query).await.expect("the feed reads");
    entries
        .into_iter()
        .filter_map(|e| match e {
            FeedEntry::Endpoint(c) => Some((c.endpoint_id.to_string(), c.change, c.detail)),
            FeedEntry::Attempt(_) => None,
        })
        .collect()
}

async fn the_feed_reads_attempts_past_a_cursor_in_order_and_marks_dead_letters(
    store: Arc<dyn Store>,
) {
    let shop = store.create_app(app(None)).await.expect("app");
    let bank = store.create_app(app(None)).await.expect("app");
    let shop_ep = store
        .create_endpoint(endpoint(&shop.id, None, None))
        .await
        .expect("ep");
    let bank_ep = store
        .create_endpoint(endpoint(&bank.id, None, None))
        .await
        .expect("ep");
    send(&store, &shop.id, "a", None, 10, None).await;
    send(&store, &bank.id, "a", None, 10, None).await;
    let claimed = claim_deliveries(&store, "n", 10, 2).await;
    let of = |ep: &EndpointId| {
        claimed
            .iter()
            .find(|c| c.delivery.endpoint_id == *ep)
            .expect("claimed")
            .delivery
            .clone()
    };
    let (to_shop, to_bank) = (of(&shop_ep.id), of(&bank_ep.id));
    // The shop's delivery fails, then fails again and is dead; the bank's succeeds.
    let first = failed_attempt(&to_shop, 20);
    store
        .record_attempt(record(first.clone(), DeliveryStatus::Failed, Some(30)))
        .await
        .expect("record");
    let ok = Attempt {
        outcome: OutcomeCode::Ok,
        status_code: 200,
        ..failed_attempt(&to_bank, 25)
    };
    store
        .record_attempt(record(ok.clone(), DeliveryStatus::Succeeded, None))
        .await
        .expect("record");
    assert_eq!(claim_deliveries(&store, "n", 30, 1).await.len(), 1);
    let last = failed_attempt(&to_shop, 40);
    store
        .record_attempt(record(last.clone(), DeliveryStatus::Dead, None))
        .await
        .expect("record");
    store
        .create_runs(vec![run("deploy", 45)], None)
        .await
        .expect("run");
    let r = claim_runs(&store, "n", 45, 1).await.remove(0);
    store
        .record_attempt(run_record(
            run_attempt(&r, 50, Vec::new(), Vec::new()),
            DeliveryStatus::Succeeded,
            None,
        ))
        .await
        .expect("record");

    let all = read(
        &store,
        FeedQuery {
            after: AttemptId::floor(0),
            limit: 10,
            ..FeedQuery::default()
        },
    )
    .await;
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "oldest first");
    assert_eq!(all.len(), 4);
    assert_eq!(
        (all[0].id.clone(), all[0].dead, all[0].status_code),
        (first.id.clone(), false, 500)
    );
    assert_eq!(
        (all[1].id.clone(), all[1].dead, all[1].outcome),
        (ok.id.clone(), false, OutcomeCode::Ok)
    );
    assert_eq!(
        (all[2].id.clone(), all[2].dead),
        (last.id.clone(), true),
        "the last attempt of a dead delivery is its dead letter"
    );
    assert_eq!(
        all[2].target,
        FeedTarget::Endpoint {
            app_id: shop.id.clone(),
            endpoint_id: shop_ep.id.clone(),
            msg_id: to_shop.msg_id.clone(),
        }
    );
    assert_eq!(
        (
            all[3].target.clone(),
            all[3].delivery_id.as_str(),
            all[3].exit_code
        ),
        (
            FeedTarget::Handler {
                handler_id: "deploy".into()
            },
            r.id.as_str(),
            Some(0)
        )
    );

    let past = |after: &AttemptId| FeedQuery {
        after: after.to_string(),
        limit: 10,
        ..FeedQuery::default()
    };
    assert_eq!(read(&store, past(&first.id)).await, all[1..].to_vec());
    assert_eq!(read(&store, past(&all[3].id)).await, Vec::new());
    let one = FeedQuery {
        limit: 1,
        ..past(&first.id)
    };
    assert_eq!(read(&store, one).await, all[1..2].to_vec());
    let shops = FeedQuery {
        app_id: Some(shop.id.clone()),
        ..past(&AttemptId::generate(0))
    };
    assert_eq!(
        read(&store, shops).await,
        vec![all[0].clone(), all[2].clone()]
    );
    let bank_only = FeedQuery {
        endpoint_id: Some(bank_ep.id.clone()),
        ..past(&AttemptId::generate(0))
    };
    assert_eq!(read(&store, bank_only).await, vec![all[1].clone()]);
    let deploys = FeedQuery {
        handler_id: Some("deploy".into()),
        ..past(&AttemptId::generate(0))
    };
    assert_eq!(read(&store, deploys).await, vec![all[3].clone()]);
}

async fn endpoint_changes_are_in_the_feed_with_their_change_s_transaction(store: Arc<dyn Store>) {
    // The fixtures make their endpoints at the start of time.
    let from = AttemptId::floor(0);
    let shop = store.create_app(app(None)).await.expect("app");
    let bank = store.create_app(app(None)).await.expect("app");
    let ep = store
        .create_endpoint(endpoint(&shop.id, None, None))
        .await
        .expect("ep");
    let other = store
        .create_endpoint(endpoint(&bank.id, None, None))
        .await
        .expect("ep");
    let paused = store
        .pause(Pause {
            scope: PauseScope::Endpoint,
            target: ep.id.to_string(),
            reason: Some("deploy".into()),
            paused_by: "admin".into(),
            paused_at: rustyhook_core::time::now_millis(),
        })
        .await
        .expect("paused");
    // Pausing again keeps the first pause, and changes nothing.
    store.pause(paused.clone()).await.expect("paused");
    store
        .resume(PauseScope::Endpoint, ep.id.as_str())
        .await
        .expect("resumed");
    store
        .resume(PauseScope::Endpoint, ep.id.as_str())
        .await
        .expect("nothing to resume");
    // A pause of something that is not an endpoint is no endpoint's change.
    store
        .pause(Pause {
            scope: PauseScope::App,
            target: shop.id.to_string(),
            ..paused
        })
        .await
        .expect("paused");
    let query = |app_id: Option<&AppId>| FeedQuery {
        after: from.clone(),
        app_id: app_id.cloned(),
        limit: 10,
        ..FeedQuery::default()
    };
    let e = |id: &EndpointId, change: &str, detail: Option<&str>| {
        (id.to_string(), change.to_owned(), detail.map(str::to_owned))
    };
    assert_eq!(
        changes(&store, query(None)).await,
        [
            e(&ep.id, "created", None),
            e(&other.id, "created", None),
            e(&ep.id, "paused", Some("deploy")),
            e(&ep.id, "resumed", None),
        ]
    );
    assert_eq!(
        changes(&store, query(Some(&bank.id))).await,
        [e(&other.id, "created", None)]
    );
    let runs_only = FeedQuery {
        handler_id: Some("deploy".into()),
        ..query(None)
    };
    assert_eq!(changes(&store, runs_only).await, []);
    // Read a page at a time, each page ends where the next starts.
    let mut after = from.clone();
    let mut paged = Vec::new();
    loop {
        let page = store
            .feed(FeedQuery {
                after: after.clone(),
                limit: 1,
                ..FeedQuery::default()
            })
            .await
            .expect("the feed reads");
        let Some(last) = page.last() else { break };
        after = last.id().to_string();
        paged.extend(page);
    }
    assert_eq!(paged.len(), 4, "{paged:?}");
    assert_eq!(
        store
            .feed_purge(rustyhook_core::time::now_millis() + 1)
            .await
            .expect("purged"),
        4
    );
    assert_eq!(changes(&store, query(None)).await, []);
}
