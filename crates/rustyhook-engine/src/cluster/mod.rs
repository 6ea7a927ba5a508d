//! Several nodes on one database: who is alive, who leads the schedules, and rate limits that
//! hold across nodes.
//!
//! - Liveness: each node heartbeats into the store and, on the same beat, releases the leases of
//!   nodes that went silent ([`run_liveness`]), so a killed node's deliveries and runs go to the
//!   others.
//! - Leadership: cron schedules (and handlers marked `cluster: {mode: leader}`) run on one node
//!   at a time. A [`Coordinator`] decides — the store (a PostgreSQL advisory lock; SQLite always
//!   leads) or Redis ([`redis::RedisCoordinator`]) — and a [`Leader`] handle carries the answer
//!   to the sources, refreshed every heartbeat. Leadership is an efficiency, not the guarantee:
//!   a tick is stored once per schedule even if two nodes both think they lead for a moment.
//! - Rate limits: with Redis configured, an endpoint's limit is one GCRA cell in Redis shared by
//!   every node ([`redis::RedisRateLimiter`]); without it, each node limits on its own.

pub mod redis;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rustyhook_core::time::now_millis;
use rustyhook_store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The name under which schedules are led.
pub const SCHEDULES: &str = "schedules";

/// Decides which node leads a named duty.
#[async_trait]
pub trait Coordinator: Send + Sync + 'static {
    /// True while this node leads `name`; called every heartbeat.
    async fn lead(&self, name: &str) -> bool;
}

/// Leadership kept by the store: a PostgreSQL advisory lock, or always (SQLite).
pub struct StoreCoordinator(pub Arc<dyn Store>);

#[async_trait]
impl Coordinator for StoreCoordinator {
    async fn lead(&self, name: &str) -> bool {
        match self.0.hold_leadership(name).await {
            Ok(leads) => leads,
            Err(e) => {
                tracing::warn!(error = %e, "could not check leadership; not leading until it can be");
                false
            }
        }
    }
}

/// Whether this node leads the schedules now. Cheap to clone and to read.
#[derive(Clone, Debug)]
pub struct Leader(watch::Receiver<bool>);

impl Leader {
    /// A node that always leads (one node, or tests).
    pub fn always() -> Self {
        Self(watch::channel(true).1)
    }

    /// Whether this node leads right now.
    pub fn is_leader(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until this node leads; returns false if the leadership task ended first.
    pub async fn acquired(&mut self) -> bool {
        self.0.wait_for(|l| *l).await.is_ok()
    }

    /// Waits until this node no longer leads.
    pub async fn lost(&mut self) {
        let _ = self.0.wait_for(|l| !*l).await;
    }
}

/// Asks `coordinator` now, then every `interval` until `token` is cancelled, publishing the
/// answer through the returned [`Leader`].
pub async fn lead(
    coordinator: Arc<dyn Coordinator>,
    interval: Duration,
    token: CancellationToken,
) -> Leader {
    let (tx, rx) = watch::channel(coordinator.lead(SCHEDULES).await);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
            let leads = coordinator.lead(SCHEDULES).await;
            tx.send_if_modified(|was| {
                if *was != leads {
                    tracing::info!(leads, "schedule leadership changed");
                    *was = leads;
                    return true;
                }
                false
            });
        }
        // Stopping: hand the schedules over.
        tx.send_replace(false);
    });
    Leader(rx)
}

/// Heartbeats for `node` every `interval` and releases the leases of nodes silent for longer
/// than `timeout`, until `token` is cancelled.
pub async fn run_liveness(
    store: Arc<dyn Store>,
    node: String,
    interval: Duration,
    timeout: Duration,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let now = now_millis();
        if let Err(e) = store.heartbeat(&node, now).await {
            tracing::warn!(error = %e, "could not send a heartbeat");
            continue;
        }
        match store
            .release_dead_nodes(now - timeout.as_millis() as i64)
            .await
        {
            Ok(0) => {}
            Ok(released) => {
                tracing::warn!(released, "took over the work of a node that went silent")
            }
            Err(e) => tracing::warn!(error = %e, "could not release the leases of silent nodes"),
        }
    }
}

/// Waits for `notify`, or forever when there is none (a store no other node writes to).
pub async fn notified(notify: Option<&tokio::sync::Notify>) {
    match notify {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// A rate limit shared by every node.
#[async_trait]
pub trait SharedRateLimiter: Debug + Send + Sync + 'static {
    /// Takes one request under `key` at `per_second`: `Ok` if it may go now, else how long to
    /// wait. An `Err(None)` means the limiter is unreachable; the caller limits locally.
    async fn take(&self, key: &str, per_second: u32) -> Result<(), Option<Duration>>;
}
