//! The fence: whether this node may still act on the leases it holds in memory.
//!
//! Another node releases a node's leases once its heartbeat is older than the node timeout. A
//! node that cannot heartbeat therefore stops starting attempts well before that can happen
//! (the fence is *down*), and starts again once a heartbeat goes through. If that heartbeat
//! shows the node was taken for dead meanwhile, everything it held was given to others: the
//! fence's *epoch* moves on, and work taken under an older epoch is dropped unsent (neither
//! attempted nor released: it is no longer this node's).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// Shared by the liveness task, which moves it, and the dispatcher and automation, which obey
/// it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Fence(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// True while this node's heartbeats go through (or have gone through recently enough).
    up: watch::Sender<bool>,
    /// Moves on each time this node finds it was taken for dead.
    epoch: AtomicU64,
}

impl Default for Fence {
    fn default() -> Self {
        Self::new()
    }
}

impl Fence {
    /// A fence that is up, at epoch 0.
    pub fn new() -> Self {
        Self(Arc::new(Inner {
            up: watch::channel(true).0,
            epoch: AtomicU64::new(0),
        }))
    }

    /// The current epoch: record it when work is taken, compare it before the work is done.
    pub fn epoch(&self) -> u64 {
        self.0.epoch.load(Ordering::Acquire)
    }

    /// Whether work taken at `epoch` is still this node's.
    pub fn holds(&self, epoch: u64) -> bool {
        self.epoch() == epoch
    }

    /// Whether attempts may start now.
    pub fn is_up(&self) -> bool {
        *self.0.up.borrow()
    }

    /// Waits until attempts may start.
    pub async fn up(&self) {
        let mut rx = self.0.up.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we wait on it.
        let _ = rx.wait_for(|up| *up).await;
    }

    /// Stops new attempts (heartbeats fail).
    pub(crate) fn lower(&self) {
        self.0.up.send_replace(false);
    }

    /// Lets attempts start again (a heartbeat went through and the node was still known).
    pub(crate) fn raise(&self) {
        self.0.up.send_replace(true);
    }

    /// The node was taken for dead: work taken before now is dropped, and attempts may start
    /// again on work taken from now on.
    pub(crate) fn revoke(&self) {
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
        self.0.up.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_taken_before_a_revoke_is_no_longer_held() {
        let fence = Fence::new();
        let taken = fence.epoch();
        assert!(fence.holds(taken));
        fence.lower();
        assert!(!fence.is_up());
        fence.revoke();
        assert!(fence.is_up(), "a revoke lets new work start");
        assert!(!fence.holds(taken), "old work is dropped");
        assert!(fence.holds(fence.epoch()));
    }

    #[tokio::test]
    async fn waiting_for_the_fence_ends_when_it_is_raised() {
        let fence = Fence::new();
        fence.lower();
        let waiter = tokio::spawn({
            let fence = fence.clone();
            async move { fence.up().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        fence.raise();
        waiter.await.expect("the waiter ends");
    }
}
