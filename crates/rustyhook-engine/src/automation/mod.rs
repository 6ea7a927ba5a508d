//! Automation: what a handler means, on top of the one queue.
//!
//! A trigger (webhook, cron tick, changed files, queue message, plugin event, forward) becomes a
//! [`Run`], a delivery whose target is a handler step, stored (already leased to this node when
//! its dispatcher has room) before anyone is told it was accepted. The dispatcher queues,
//! leases, rate-limits, retries and records it like any delivery, in the handler's lane; this
//! module decides what a step does and what follows it.
//!
//! - [`Automation`]: starting runs (trigger, at most once per key or tick, re-run), backlog
//!   limits, and waiting for a run's first result (`response: wait`).
//! - [`execute`]: one attempt of one run (`depends_on` waits, the command, routes, publish),
//!   and what follows from its result (forwards, `on_success`, `on_failure`, exports).
//! - `substitute`: `$NAME` in argv commands, expanded once.
//! - `backlog`: how many runs may wait, per handler and in all.

mod backlog;
pub mod execute;
mod substitute;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyhook_core::handlers::HandlerSet;
use rustyhook_core::id::RunId;
use rustyhook_core::run::{Event, Run, RunAttempt, RunKey, RunStep};
use rustyhook_core::time::now_millis;
use rustyhook_store::{Lease, Store};
use tokio::sync::oneshot;

pub use self::backlog::Backlog;
pub use self::execute::{Executor, ExecutorConfig};
use crate::dispatcher::Dispatcher;
use crate::ingest::Ingest;
use crate::targets::child_env::BaseEnv;

/// The result of a run's attempt, for a caller waiting on it (`response: wait`).
pub type Finished = (Run, RunAttempt);

/// Callers waiting for a run's first result on this node, by run.
#[derive(Clone, Default)]
pub(crate) struct Waiters(Arc<Mutex<HashMap<RunId, oneshot::Sender<Finished>>>>);

impl Waiters {
    fn insert(&self, id: RunId, tx: oneshot::Sender<Finished>) {
        lock(&self.0).insert(id, tx);
    }

    fn remove(&self, id: &RunId) {
        lock(&self.0).remove(id);
    }

    /// Tells whoever waits on `run` how its attempt ended.
    pub(crate) fn finished(&self, run: &Run, attempt: &RunAttempt) {
        if let Some(tx) = lock(&self.0).remove(&run.id) {
            let _ = tx.send((run.clone(), attempt.clone()));
        }
    }
}

/// A handle for starting runs. Cheap to clone.
#[derive(Clone)]
pub struct Automation {
    dispatcher: Dispatcher,
    ingest: Ingest,
    backlog: Backlog,
}

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// No handler has this id.
    #[error("no handler has the id {0:?}")]
    UnknownHandler(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The store failed; nothing was queued.
    #[error("the run could not be stored")]
    Store(#[from] rustyhook_store::StoreError),
    /// Too many runs are waiting already; nothing was queued.
    #[error("too many runs are waiting: {why}")]
    Backlogged {
        /// Which limit, and how far it is reached.
        why: String,
        /// When to try again.
        retry_after: Duration,
    },
}

impl Automation {
    /// Starts runs through `dispatcher`, whose executor knows the handlers, holding triggers
    /// to `backlog`; `ingest` is what broker sources store messages with.
    pub fn new(dispatcher: Dispatcher, ingest: Ingest, backlog: Backlog) -> Self {
        Self {
            dispatcher,
            ingest,
            backlog,
        }
    }

    /// Where messages are created, for sources that turn broker messages into messages.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    fn executor(&self) -> &Executor {
        self.dispatcher.executor()
    }

    /// The store runs are kept in.
    pub fn store(&self) -> Arc<dyn Store> {
        self.dispatcher.store().clone()
    }

    /// The pauses in force, as this node sees them (a paused source stops reading).
    pub fn pauses(&self) -> &crate::pauses::Pauses {
        self.dispatcher.pauses()
    }

    /// The configured handlers.
    pub fn handlers(&self) -> &HandlerSet {
        self.executor().handlers()
    }

    /// What child processes start from (see [`BaseEnv`]).
    pub fn base_env(&self) -> &BaseEnv {
        self.executor().base_env()
    }

    /// Durably queues a run of `handler` for `event` and starts it. Returns once it is stored.
    pub async fn trigger(
        &self,
        handler: &str,
        event: Event,
        triggered_by: &str,
    ) -> Result<Run, TriggerError> {
        let run = self.new_run(handler, event, triggered_by, None)?;
        self.queue(run).await
    }

    /// Queues a run like [`Self::trigger`] (or, under `key`, like [`Self::trigger_once`]:
    /// `None` when a run was stored under it before) and waits for its first attempt to finish.
    pub async fn trigger_and_wait(
        &self,
        handler: &str,
        event: Event,
        triggered_by: &str,
        key: Option<&RunKey>,
    ) -> Result<Option<(Run, oneshot::Receiver<Finished>)>, TriggerError> {
        let run = self.new_run(handler, event, triggered_by, None)?;
        let (tx, rx) = oneshot::channel();
        self.admit(&run.handler_id).await?;
        let lease = self.lease();
        if lease.is_none() {
            // Another node (or this one's poller, later) runs it: watch the store for its
            // first attempt.
            let Some(run) = self.store_once(run, key, None).await? else {
                return Ok(None);
            };
            let store = self.store();
            tokio::spawn(watch_first_attempt(store, run.clone(), tx));
            return Ok(Some((run, rx)));
        }
        // Registered before the run can start, so its result cannot be missed.
        let waiters = self.executor().waiters();
        waiters.insert(run.id.clone(), tx);
        let stored = self.store_once(run.clone(), key, lease).await;
        if !matches!(stored, Ok(Some(_))) {
            waiters.remove(&run.id);
        }
        Ok(stored?.map(|run| (run, rx)))
    }

    /// `Ok` when one more run of `handler` fits in the backlog (see [`Backlog`]): for a caller
    /// that wants to refuse before reading a request's body. Triggering checks it again.
    pub async fn admit(&self, handler: &str) -> Result<(), TriggerError> {
        self.backlog
            .admit(self.dispatcher.store().as_ref(), handler)
            .await
    }

    /// Stores `run` (under `key`, only if nothing was stored under it before: `None` then),
    /// leased to `lease`, and hands it to this node's dispatcher when leased here.
    async fn store_once(
        &self,
        run: Run,
        key: Option<&RunKey>,
        lease: Option<Lease>,
    ) -> Result<Option<Run>, TriggerError> {
        let store = self.dispatcher.store();
        let stored = match key {
            None => {
                store.create_runs(vec![run.clone()], lease.clone()).await?;
                true
            }
            Some(key) => {
                store
                    .create_keyed_run(key.as_str(), run.clone(), lease.clone())
                    .await?
            }
        };
        Ok(stored.then(|| self.start(run, lease.as_ref())))
    }

    /// Queues a new run with the same event as `original` (the API's re-run).
    pub async fn rerun(&self, original: &Run) -> Result<Run, TriggerError> {
        let mut run = self.new_run(
            &original.handler_id,
            original.event.clone(),
            "rerun",
            Some(original.id.clone()),
        )?;
        run.step = original.step;
        self.queue(run).await
    }

    fn new_run(
        &self,
        handler: &str,
        event: Event,
        triggered_by: &str,
        parent: Option<RunId>,
    ) -> Result<Run, TriggerError> {
        if self.dispatcher.is_stopping() {
            return Err(TriggerError::ShuttingDown);
        }
        if self.handlers().get(handler).is_none() {
            return Err(TriggerError::UnknownHandler(handler.to_owned()));
        }
        Ok(Run::new(
            handler,
            RunStep::Main,
            event,
            triggered_by,
            parent,
            now_millis(),
        ))
    }

    /// Queues the run of one schedule tick, unless another node already did: `key` names the
    /// schedule and `tick` the time it fires. `None` when the tick was already stored.
    pub async fn trigger_tick(
        &self,
        handler: &str,
        event: Event,
        triggered_by: &str,
        key: &str,
        tick: i64,
    ) -> Result<Option<Run>, TriggerError> {
        let run = self.new_run(handler, event, triggered_by, None)?;
        let lease = self.lease();
        let stored = self
            .dispatcher
            .store()
            .create_tick_runs(key, tick, vec![run.clone()], lease.clone())
            .await?;
        Ok(stored.then(|| self.start(run, lease.as_ref())))
    }

    /// Queues a run like [`Self::trigger`], at most once per `key` (a broker message's id):
    /// `None` when a run stored under `key` is still kept, as when a broker delivers a message
    /// again because its acknowledgement was lost.
    pub async fn trigger_once(
        &self,
        handler: &str,
        event: Event,
        triggered_by: &str,
        key: &RunKey,
    ) -> Result<Option<Run>, TriggerError> {
        let run = self.new_run(handler, event, triggered_by, None)?;
        self.admit(&run.handler_id).await?;
        self.store_once(run, Some(key), self.lease()).await
    }

    /// Hands a run just stored to this node's dispatcher when it was leased here; otherwise
    /// wakes the poller (here, or on the node that claims it).
    fn start(&self, run: Run, leased_here: Option<&Lease>) -> Run {
        if let Some(lease) = leased_here {
            self.dispatcher.submit_run(lease, run.clone());
        } else {
            self.dispatcher.wake();
        }
        run
    }

    /// The claim new runs are stored under: one of this node's while its dispatcher has room,
    /// as for new messages; otherwise none, and the poller of a node with room claims them.
    fn lease(&self) -> Option<Lease> {
        self.dispatcher.has_room(1).then(|| self.dispatcher.lease())
    }

    async fn queue(&self, run: Run) -> Result<Run, TriggerError> {
        self.admit(&run.handler_id).await?;
        let stored = self.store_once(run, None, self.lease()).await?;
        Ok(stored.expect("a run stored without a key is always stored"))
    }

    /// Asks the poller to look for due runs now.
    pub fn wake(&self) {
        self.dispatcher.wake();
    }
}

/// How often an `api` node looks for the first attempt of a run a worker executes.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Sends `run`'s first attempt to `tx` once a worker has recorded it (for `response: wait` on
/// an `api` node). Gives up when the waiter does.
async fn watch_first_attempt(store: Arc<dyn Store>, run: Run, tx: oneshot::Sender<Finished>) {
    while !tx.is_closed() {
        let first = rustyhook_store::Page::first(1, rustyhook_store::Order::Ascending);
        if let Ok(listed) = store.list_run_attempts(&run.id, first).await
            && let Some(attempt) = listed.items.into_iter().next()
        {
            let run = match store.get_run(run.id.as_str()).await {
                Ok(Some(r)) => r,
                _ => run,
            };
            let _ = tx.send((run, attempt));
            return;
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere mid-update of a map; the map is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
