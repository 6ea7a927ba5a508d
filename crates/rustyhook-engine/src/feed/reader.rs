//! The node's one reader of the feed: follows `attempts` and `endpoint_changes` while a client
//! listens and broadcasts each new entry once to every [`Subscription`] of this node.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustyhook_core::id::AttemptId;
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{FeedEntry, FeedQuery, Store, StoreResult};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::filter::FeedFilter;
use super::subscription::Subscription;
use crate::observe;

/// How often the reader looks for new attempts while a client listens: well within the second
/// in which an attempt is to reach a client.
pub const POLL: Duration = Duration::from_millis(250);

/// How far back the reader looks again, every [`RESCAN_EVERY`] polls, for rows that became
/// visible after rows with later ids: a transaction that committed late, or a node whose clock
/// is behind by less than this.
pub const LOOKBACK_MS: Millis = 5_000;

/// Every how many polls the reader reads the whole [`LOOKBACK_MS`] window again rather than
/// only what follows the last row it saw: the window costs a read of several seconds of
/// attempts, so it is read about once a second.
const RESCAN_EVERY: u32 = 4;

/// How many rows one read takes; a busier second takes several.
pub(crate) const PAGE: usize = 500;

/// How many rows the ring holds for clients that have not read them yet. A client further
/// behind misses ring entries and reads them again from the store.
const RING: usize = 1024;

/// The live feed of this node; cheap to clone. [`Self::run`] reads, [`Self::subscribe`] adds a
/// client.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Shared>,
}

/// What the reader and the subscriptions share.
pub(crate) struct Shared {
    /// Where rows are read.
    pub store: Arc<dyn Store>,
    /// The ring; its sender lives as long as the feed.
    pub ring: broadcast::Sender<Arc<FeedEntry>>,
    /// Wakes the idle reader when a client subscribes.
    wake: Notify,
    /// Cancelled when the reader stops (the server is shutting down): every subscription ends.
    pub stopped: CancellationToken,
    /// Connected clients, for the metric.
    clients: AtomicUsize,
}

impl Shared {
    /// A client left.
    pub(crate) fn client_left(&self) {
        let n = self.clients.fetch_sub(1, Ordering::Relaxed) - 1;
        observe::stream_clients(n);
    }
}

impl Feed {
    /// A feed reading `store`; it reads nothing until [`Self::run`] runs and a client listens.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (ring, _) = broadcast::channel(RING);
        Self {
            inner: Arc::new(Shared {
                store,
                ring,
                wake: Notify::new(),
                stopped: CancellationToken::new(),
                clients: AtomicUsize::new(0),
            }),
        }
    }

    /// A client that sees what `filter` matches: past `resume` (an attempt id, the last event
    /// it saw) when given, else from now on.
    pub fn subscribe(&self, filter: FeedFilter, resume: Option<AttemptId>) -> Subscription {
        let rx = self.inner.ring.subscribe();
        let n = self.inner.clients.fetch_add(1, Ordering::Relaxed) + 1;
        observe::stream_clients(n);
        self.inner.wake.notify_one();
        let start = resume.map_or_else(|| AttemptId::floor(now_millis()), String::from);
        Subscription::new(self.inner.clone(), rx, filter, start)
    }

    /// Reads while clients listen, until `token` is cancelled; then ends every subscription.
    pub async fn run(self, token: CancellationToken) {
        let mut window: Option<Window> = None;
        let mut polls = 0u32;
        // Whether the last read failed: a store that is down is logged once, not per poll.
        let mut failing = false;
        while !token.is_cancelled() {
            if self.inner.ring.receiver_count() == 0 {
                // Nobody listens: read nothing, and start afresh when someone does.
                window = None;
                tokio::select! {
                    () = token.cancelled() => break,
                    () = self.inner.wake.notified() => continue,
                }
            }
            let w = window.get_or_insert_with(Window::default);
            polls = polls.wrapping_add(1);
            let rescan = polls.is_multiple_of(RESCAN_EVERY);
            match w
                .poll(self.inner.store.as_ref(), &self.inner.ring, rescan)
                .await
            {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e.with_causes(), "the live feed could not read attempts");
                }
                Err(_) => {}
                Ok(()) => failing = false,
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(POLL) => {}
            }
        }
        self.inner.stopped.cancel();
    }
}

/// What the reader has broadcast recently. A reader that starts broadcasts the whole lookback
/// window: each subscription drops what lies before its own start.
#[derive(Default)]
struct Window {
    /// The ids broadcast within the lookback window, so a rescan broadcasts none twice.
    seen: BTreeSet<String>,
}

impl Window {
    /// Reads the rows past the last one seen (or, on a rescan, the whole lookback window) and
    /// broadcasts those not seen yet.
    async fn poll(
        &mut self,
        store: &dyn Store,
        ring: &broadcast::Sender<Arc<FeedEntry>>,
        rescan: bool,
    ) -> StoreResult<()> {
        let floor = AttemptId::floor(now_millis() - LOOKBACK_MS);
        let mut after = match self.seen.last() {
            Some(last) if !rescan && *last > floor => last.clone(),
            _ => floor.clone(),
        };
        loop {
            let rows = store
                .feed(FeedQuery {
                    after,
                    limit: PAGE,
                    ..FeedQuery::default()
                })
                .await?;
            // At least a page back: there may be more (see `Store::feed`).
            let full = rows.len() >= PAGE;
            let Some(last) = rows.last() else { break };
            after = last.id().to_string();
            for row in rows {
                if self.seen.insert(row.id().to_string()) {
                    // No receiver is not an error: the last client just left.
                    let _ = ring.send(Arc::new(row));
                }
            }
            if !full {
                break;
            }
        }
        // Keep the last id even when it is older than the window: it is where the next poll
        // starts.
        let last = self.seen.last().cloned();
        self.seen = self.seen.split_off(&floor);
        if let Some(last) = last {
            self.seen.insert(last);
        }
        Ok(())
    }
}
