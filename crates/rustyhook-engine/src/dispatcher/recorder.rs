//! Records attempts in batches: attempt tasks hand their record over and wait for it to be
//! durable; the recorder writes everything waiting in one store call. Under load this turns
//! thousands of small writes (each with its own wake-ups) into a few large ones.

use std::time::Duration;

use rustyhook_store::{AttemptRecord, Store};
use tokio::sync::{mpsc, oneshot};

/// Most records written in one call.
const BATCH: usize = 512;

/// A record and who to tell once it is durable.
pub(super) type Request = (AttemptRecord, oneshot::Sender<()>);

/// Runs until every sender is gone.
pub(super) async fn run(
    store: std::sync::Arc<dyn Store>,
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
        write_with_retries(store.as_ref(), records).await;
        for (_, done) in batch.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The store may be briefly unavailable; an unrecorded attempt keeps its lease and is sent again
/// after the next start, so a few tries here avoid needless duplicates.
async fn write_with_retries(store: &dyn Store, records: Vec<AttemptRecord>) {
    let mut delay = Duration::from_millis(100);
    for _ in 0..5 {
        match store.record_attempts(records.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(error = %e, attempts = records.len(), "could not record attempts; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
