//! The poller: claims work that is due and leased to no one (deliveries and handler runs
//! alike): retries whose time came, recovered and resent deliveries, new runs and follow-ups
//! stored unleased, what a dead node held, and what was left in the store while memory was
//! full. As far as there is room in memory, and never before it is due: it sleeps until the
//! earliest due time this node knows of (at most the poll interval) unless woken.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rustyhook_core::time::now_millis;
use tokio_util::sync::CancellationToken;

use super::{Dispatcher, Work};

/// Most deliveries claimed in one transaction.
const BATCH: usize = 500;

pub(super) async fn run(dispatcher: Dispatcher, token: CancellationToken) {
    let shared = dispatcher.shared.clone();
    let elsewhere = shared.store.wakeups().map(|w| w.due);
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
        let mut wait = shared.config.poll_interval;
        if room > 0 && !token.is_cancelled() && shared.fence().is_up() && store_up {
            // What falls due by now is about to be claimed: forget it, keep what comes later.
            let now = now_millis();
            let _ = shared
                .next_due
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |at| {
                    (at <= now).then_some(i64::MAX)
                });
            let lease = dispatcher.lease();
            match shared.store.claim_due(&lease, now_millis(), room).await {
                Ok(claimed) => {
                    let full = claimed.len() == room;
                    dispatcher.hand_over(lease.claim, claimed.into_iter().map(Work::from));
                    if full {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    // Until the earliest work this node gave back falls due, but never longer
                    // than the poll interval (what other nodes make due wakes this one, or is
                    // found then). Without room, a wake-up comes when room frees.
                    let at = shared.next_due.load(Ordering::Acquire);
                    let until = at.saturating_sub(now_millis()).max(0) as u64;
                    wait = wait.min(Duration::from_millis(until));
                }
                Err(e) => {
                    shared.config.health.report(&e);
                    tracing::error!(error = %e, "could not claim due work");
                }
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = shared.wake.notified() => {}
            () = crate::cluster::notified(elsewhere.as_deref()) => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
