//! Several nodes on one database: who is alive, who leads the schedules, and rate limits that
//! hold across nodes.
//!
//! - Liveness: each node heartbeats into the store and, on the same beat, releases the leases of
//!   nodes that went silent ([`run_liveness`]), so a killed node's deliveries and runs go to the
//!   others. A node that cannot heartbeat stops starting attempts ([`Fence`]), so no two live
//!   nodes work on one lease.
//! - Leadership: cron schedules (and handlers marked `cluster: {mode: leader}`) run on one node
//!   at a time. A [`Coordinator`] decides — the store (a PostgreSQL advisory lock; SQLite always
//!   leads) or Redis ([`redis::RedisCoordinator`]) — and a [`Leader`] handle carries the answer
//!   to the sources, refreshed every heartbeat. Leadership is an efficiency, not the guarantee:
//!   a tick is stored once per schedule even if two nodes both think they lead for a moment.
//! - Rate limits: with Redis configured, an endpoint's limit is one GCRA cell in Redis shared by
//!   every node ([`redis::RedisRateLimiter`]); without it, each node limits on its own.

mod fence;
pub mod redis;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rustyhook_store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use self::fence::Fence;
use crate::observe;

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

/// How long a node may go without a heartbeat before it stops starting attempts: half the
/// node timeout, so it stops well before another node can take its leases.
fn fence_after(timeout: Duration) -> Duration {
    timeout / 2
}

/// What [`run_liveness`] needs.
#[derive(Debug, Clone)]
pub struct Liveness {
    /// This process's lease name.
    pub node: String,
    /// How often to heartbeat.
    pub interval: Duration,
    /// A node silent for this long (by the database's clock) is taken for dead.
    pub timeout: Duration,
    /// Lowered while this node cannot heartbeat; revoked when it finds it was taken for dead.
    pub fence: Fence,
    /// What the node says of itself on each heartbeat (its name, role and leadership), for
    /// the node list and `node_gone` alerts; `leader` is read from [`Self::leader`].
    pub seen: rustyhook_store::NodeSeen,
    /// Whether this node leads; `None` for a node that never leads (an API node).
    pub leader: Option<Leader>,
}

/// Heartbeats every `interval` and releases the leases of nodes silent for longer than
/// `timeout`, until `token` is cancelled.
///
/// Two rules keep live nodes from taking each other's work after an outage of the database:
/// - silence is judged on the database's clock, and only by a node whose own heartbeats have
///   gone through for a whole `timeout`: after an outage every node first beats again, and
///   only a node still silent after that is dead;
/// - a node whose heartbeats fail lowers its [`Fence`] after half the timeout, so it starts
///   nothing it might no longer hold, and if a later heartbeat shows it was taken for dead,
///   it drops what it held.
pub async fn run_liveness(store: Arc<dyn Store>, liveness: Liveness, token: CancellationToken) {
    let Liveness {
        node,
        interval,
        timeout,
        fence,
        mut seen,
        leader,
    } = liveness;
    let record = |seen: rustyhook_store::NodeSeen| {
        let store = store.clone();
        async move {
            if let Err(e) = store.record_node(seen).await {
                tracing::warn!(error = %e, "could not record this node in the node list");
            }
        }
    };
    seen.leader = leader.as_ref().is_some_and(Leader::is_leader);
    record(seen.clone()).await;
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    // The server registered this node just before starting this task.
    let mut last_beat = Instant::now();
    let mut healthy_since: Option<Instant> = Some(last_beat);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let beat = match store.heartbeat(&node).await {
            Ok(beat) => beat,
            Err(e) => {
                healthy_since = None;
                let silent = last_beat.elapsed();
                if silent >= fence_after(timeout) && fence.is_up() {
                    tracing::warn!(error = %e, silent_ms = silent.as_millis() as u64,
                        "no heartbeat for half the node timeout; starting no attempts until one goes through");
                    fence.lower();
                } else {
                    tracing::warn!(error = %e, "could not send a heartbeat");
                }
                continue;
            }
        };
        last_beat = Instant::now();
        seen.leader = leader.as_ref().is_some_and(Leader::is_leader);
        record(seen.clone()).await;
        if !beat.known {
            tracing::warn!(
                "this node was taken for dead while it could not heartbeat; dropping the work it held, which other nodes took over"
            );
            observe::node_revoked();
            fence.revoke();
        } else if !fence.is_up() {
            tracing::info!("heartbeats go through again; attempts resume");
            fence.raise();
        }
        let healthy = *healthy_since.get_or_insert(last_beat);
        if healthy.elapsed() < timeout {
            // Peers may still be coming back from the same outage.
            continue;
        }
        match store.release_dead_nodes(timeout_ms).await {
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
