//! One client of the feed: where it is (an attempt id), what it asked to see, and what it was
//! sent lately. It reads from the store what lies past its position, then follows the node's
//! ring; when it falls behind the ring it reads from the store again. Memory per client is
//! bounded: one page of rows and the ids of the last [`RECENT`] events sent.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::id::AttemptId;
use rustyhook_core::time::now_millis;
use rustyhook_store::FeedEntry;
use tokio::sync::broadcast::{self, error::RecvError};

use super::filter::FeedFilter;
use super::reader::{PAGE, Shared};
use crate::observe;

/// How many events a client may be behind and still catch up from the store; further behind,
/// it is told to start over from now (`reset`), so one old cursor cannot keep a client reading
/// the store for long.
pub const MAX_CATCH_UP: usize = 10_000;

/// How many of the last events sent a subscription remembers, so an event both read from the
/// store and then met in the ring is sent once: more than the ring holds.
const RECENT: usize = 2_048;

/// How long a subscription waits before reading the store again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// What a client is sent next.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// An attempt (with, when it was a delivery's last, the dead letter it made) or an
    /// endpoint's change. `cursor` is where the client resumes after it: its SSE `id:`.
    Row {
        /// The attempt or change.
        row: Arc<FeedEntry>,
        /// The position after it.
        cursor: String,
    },
    /// The client fell behind the ring by `missed` events (of every client's); they are read
    /// again from the store, so none is lost.
    Lag {
        /// Ring entries the client missed.
        missed: u64,
    },
    /// The client was more than [`MAX_CATCH_UP`] events behind: what lies between is skipped
    /// (the attempts list has it) and the feed goes on from `cursor`, now.
    Reset {
        /// The new position.
        cursor: String,
    },
}

/// A client's view of the feed. Dropping it leaves the feed.
pub struct Subscription {
    shared: Arc<Shared>,
    rx: broadcast::Receiver<Arc<FeedEntry>>,
    filter: FeedFilter,
    /// Where the client started: what lies at or before it is not for this client, though the
    /// ring may carry it.
    start: String,
    /// The position the client is given: the highest id sent (or where it started). Never goes
    /// back.
    cursor: String,
    /// The id past which the store is read next: at or past `cursor` (rows read but filtered
    /// out, or not sent yet, lie between).
    read_to: String,
    /// Whether the store has rows past `cursor` that were not read yet.
    catching_up: bool,
    /// Rows read from the store, not yet sent.
    pending: VecDeque<FeedEntry>,
    /// Rows read from the store since the catch-up began.
    caught_up: usize,
    /// The ids of the last events sent, oldest first, and the same as a set.
    recent: VecDeque<String>,
    recent_set: HashSet<String>,
}

impl Subscription {
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: broadcast::Receiver<Arc<FeedEntry>>,
        filter: FeedFilter,
        cursor: String,
    ) -> Self {
        Self {
            shared,
            rx,
            filter,
            read_to: cursor.clone(),
            start: cursor.clone(),
            cursor,
            catching_up: true,
            pending: VecDeque::new(),
            caught_up: 0,
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
        }
    }

    /// The next item for the client; `None` once the feed stopped (the server is shutting
    /// down). Cancel-safe: nothing changes until an await has completed.
    pub async fn next(&mut self) -> Option<FeedItem> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Some(self.sent(Arc::new(row)));
            }
            if self.catching_up {
                if let Some(reset) = self.catch_up().await? {
                    return Some(reset);
                }
                continue;
            }
            let received = tokio::select! {
                () = self.shared.stopped.cancelled() => return None,
                r = self.rx.recv() => r,
            };
            match received {
                Ok(row) if self.wants(&row) => return Some(self.sent(row)),
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    observe::stream_dropped(missed);
                    self.catching_up = true;
                    self.caught_up = 0;
                    return Some(FeedItem::Lag { missed });
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the next page past the cursor into `pending`. `Some(Some(reset))` when the client
    /// is too far behind; `None` when the feed stopped.
    async fn catch_up(&mut self) -> Option<Option<FeedItem>> {
        let from = self.read_to.clone().max(self.cursor.clone());
        let query = self.filter.query(from, PAGE);
        let read = tokio::select! {
            () = self.shared.stopped.cancelled() => return None,
            r = self.shared.store.feed(query) => r,
        };
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e.with_causes(), "the live feed could not catch a client up");
                tokio::select! {
                    () = self.shared.stopped.cancelled() => return None,
                    () = tokio::time::sleep(RETRY) => return Some(None),
                }
            }
        };
        // At least a page back: there may be more (see `Store::feed`).
        self.catching_up = rows.len() >= PAGE;
        self.caught_up += rows.len();
        if self.catching_up && self.caught_up >= MAX_CATCH_UP {
            self.catching_up = false;
            self.caught_up = 0;
            self.cursor = AttemptId::floor(now_millis());
            self.read_to.clone_from(&self.cursor);
            self.start.clone_from(&self.cursor);
            return Some(Some(FeedItem::Reset {
                cursor: self.cursor.clone(),
            }));
        }
        if let Some(last) = rows.last() {
            self.read_to = last.id().to_string();
        }
        self.pending
            .extend(rows.into_iter().filter(|r| self.filter.matches(r)));
        Some(None)
    }

    /// Whether a row met in the ring is to be sent: matched, after the start, and not sent yet.
    /// A row at or before the cursor that was not sent became visible late (see the reader),
    /// and is sent now.
    fn wants(&self, row: &FeedEntry) -> bool {
        row.id().as_str() > self.start.as_str()
            && self.filter.matches(row)
            && !self.recent_set.contains(row.id().as_str())
    }

    /// Notes that `row` is sent, and makes its item.
    fn sent(&mut self, row: Arc<FeedEntry>) -> FeedItem {
        let id = row.id().to_string();
        if id > self.cursor {
            self.cursor.clone_from(&id);
        }
        if self.recent.len() == RECENT
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
        self.recent_set.insert(id.clone());
        self.recent.push_back(id);
        FeedItem::Row {
            row,
            cursor: self.cursor.clone(),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.client_left();
    }
}
