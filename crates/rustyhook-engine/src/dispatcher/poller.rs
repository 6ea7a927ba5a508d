//! The poller: claims deliveries that are due and leased to no one — retries whose time came,
//! recovered and resent deliveries, and those left in the store while memory was full — as far
//! as there is room in memory.

use std::sync::atomic::Ordering;

use rustyhook_core::time::now_millis;
use tokio_util::sync::CancellationToken;

use super::{Dispatcher, Job};

/// Most deliveries claimed in one transaction.
const BATCH: usize = 500;

pub(super) async fn run(dispatcher: Dispatcher, token: CancellationToken) {
    let shared = dispatcher.shared.clone();
    let elsewhere = shared.store.wakeups().map(|w| w.deliveries);
    loop {
        let queued = shared.queued.load(Ordering::Acquire);
        let room = shared
            .config
            .queue_capacity
            .saturating_sub(queued)
            .min(BATCH);
        // A node that cannot heartbeat takes nothing it might not be able to keep.
        // Nor does it ask a store known to be down or full: the health monitor's probe says
        // when it can be asked again.
        let store_up = shared.config.health.state() == crate::health::StoreState::Up;
        if room > 0 && !token.is_cancelled() && shared.fence().is_up() && store_up {
            match shared
                .store
                .claim_due(&shared.config.node_id, now_millis(), room)
                .await
            {
                Ok(claimed) => {
                    let full = claimed.len() == room;
                    dispatcher.submit(claimed.into_iter().map(Job::from));
                    if full {
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                Err(e) => {
                    shared.config.health.report(&e);
                    tracing::error!(error = %e, "could not claim due deliveries");
                }
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = shared.wake.notified() => {}
            () = crate::cluster::notified(elsewhere.as_deref()) => {}
            () = tokio::time::sleep(shared.config.poll_interval) => {}
        }
    }
}
