//! Records attempts, of deliveries and runs alike, in batches: attempt tasks hand their record
//! over and wait for it to be durable; the recorder writes everything waiting in one store
//! call. Under load this turns thousands of small writes (each with its own wake-ups) into a
//! few large ones.
//!
//! A record is never dropped because the store is down or full: it waits, with its attempt
//! task, until it can be written (see [`StoreHealth::keep_trying`]). What waits is bounded by
//! the dispatcher's queue capacity, since a delivery's room is freed only once its attempt is
//! recorded.

use std::sync::Arc;

use rustyhook_store::{AttemptRecord, Store};
use tokio::sync::{mpsc, oneshot};

use crate::health::StoreHealth;

/// Most records written in one call.
const BATCH: usize = 512;

/// A record and who to tell once it is durable.
pub(super) type Request = (AttemptRecord, oneshot::Sender<()>);

/// Runs until every sender is gone.
pub(super) async fn run(
    store: Arc<dyn Store>,
    health: StoreHealth,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let records: Vec<AttemptRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
        write(store.as_ref(), &health, records).await;
        for (_, done) in batch.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes `records`, waiting out outages. A batch refused for its content (a delivery deleted
/// meanwhile) is written record by record, so one bad record holds back no other; a record
/// refused alone has its lease released, so its delivery is claimed again rather than stranded.
async fn write(store: &dyn Store, health: &StoreHealth, records: Vec<AttemptRecord>) {
    let all = health
        .keep_trying("attempts", || store.record_attempts(records.clone()))
        .await;
    let Err(e) = all else { return };
    if records.len() == 1 {
        let r = &records[0];
        let id = r.attempt.work_id();
        tracing::error!(delivery_id = %id, error = %e,
            "the store refused an attempt's record; releasing its delivery to be tried again");
        if let Some(lease) = &r.leased_to {
            let work = vec![(id.clone(), lease.claim)];
            let released = health
                .keep_trying("attempts", || {
                    store.release(&lease.node, work.clone(), None)
                })
                .await;
            if let Err(e) = released {
                tracing::error!(delivery_id = %id, error = %e, "could not release a delivery");
            }
        }
        return;
    }
    for record in records {
        Box::pin(write(store, health, vec![record])).await;
    }
}
