//! Automation: handler runs on the same durable footing as deliveries.
//!
//! A trigger (webhook, cron tick, changed files, queue message, plugin event, forward) becomes a
//! [`Run`] stored in the store — already leased to this node — before anyone is told it was
//! accepted. The runner executes it (per-handler concurrency, `depends_on` waits), records each
//! attempt with the run's next state and whatever follows it (forwards, `on_success`,
//! `on_failure`, exports) in one transaction, and retries per the handler's policy. A poller
//! claims retries that fell due and runs released by a crash.
//!
//! - [`execute`]: one attempt of one run, and what follows from its result.
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
use rustyhook_store::{Store, StoreResult};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::backlog::Backlog;
use crate::ingest::Ingest;
use crate::targets::child_env::BaseEnv;
use crate::targets::groups::GroupLedger;

/// What the automation runner needs to know.
#[derive(Debug, Clone)]
pub struct AutomationConfig {
    /// This process's name in leases.
    pub node_id: String,
    /// Longest pause between scans for due runs.
    pub poll_interval: Duration,
    /// How long shutdown waits for running commands before killing them.
    pub shutdown_grace: Duration,
    /// Output beyond this is dropped before it is stored.
    pub max_output_bytes: usize,
    /// Where running commands' process groups are written down (see [`GroupLedger`]); `None`
    /// leaves commands orphaned if the server is killed.
    pub ledger: Option<Arc<GroupLedger>>,
    /// Whether this node runs commands. An `api` node only stores runs, unleased, for the
    /// workers.
    pub runs_here: bool,
    /// Whether this node may act on its leases; runs start only while it is up (shared with
    /// the dispatcher).
    pub fence: crate::cluster::Fence,
    /// The store's health; run results wait on it while the store is down.
    pub health: crate::health::StoreHealth,
    /// What commands and plugins start from: the server's environment without its secrets.
    pub base_env: Arc<BaseEnv>,
    /// How many runs may wait before triggers are refused.
    pub backlog: Backlog,
    /// Commands running at once on this node, over all handlers.
    pub max_running_commands: u32,
}

/// The result of a run's attempt, for a caller waiting on it (`response: wait`).
pub type Finished = (Run, RunAttempt);

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) handlers: HandlerSet,
    pub(crate) config: AutomationConfig,
    /// Where `publish:` steps create their messages.
    pub(crate) ingest: Ingest,
    wake: Notify,
    waiters: Mutex<HashMap<RunId, oneshot::Sender<Finished>>>,
    lanes: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// `max_running_commands` permits, taken after the handler's lane.
    commands: Arc<Semaphore>,
    tasks: TaskTracker,
    /// Cancelled when the shutdown grace is over: running commands are killed.
    hard_stop: CancellationToken,
    accepting: CancellationToken,
}

/// A handle for starting runs. Cheap to clone.
#[derive(Clone)]
pub struct Automation {
    shared: Arc<Shared>,
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
    /// A runner over `store` for `handlers`, whose `publish:` steps create messages through
    /// `ingest`.
    pub fn new(
        store: Arc<dyn Store>,
        ingest: Ingest,
        handlers: HandlerSet,
        config: AutomationConfig,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                handlers,
                ingest,
                wake: Notify::new(),
                waiters: Mutex::new(HashMap::new()),
                lanes: Mutex::new(HashMap::new()),
                commands: Arc::new(Semaphore::new(config.max_running_commands.max(1) as usize)),
                tasks: TaskTracker::new(),
                hard_stop: CancellationToken::new(),
                accepting: CancellationToken::new(),
                config,
            }),
        }
    }

    /// Where messages are created (for broker sources run beside this runner).
    pub fn ingest(&self) -> &Ingest {
        &self.shared.ingest
    }

    /// The store runs are kept in.
    pub fn store(&self) -> Arc<dyn Store> {
        self.shared.store.clone()
    }

    /// The configured handlers.
    pub fn handlers(&self) -> &HandlerSet {
        &self.shared.handlers
    }

    /// What child processes start from (see [`BaseEnv`]).
    pub fn base_env(&self) -> &BaseEnv {
        &self.shared.config.base_env
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
        if !self.shared.config.runs_here {
            // Another node runs it: watch the store for its first attempt.
            let Some(run) = self.store_once(run, key).await? else {
                return Ok(None);
            };
            tokio::spawn(watch_first_attempt(self.shared.clone(), run.clone(), tx));
            return Ok(Some((run, rx)));
        }
        lock(&self.shared.waiters).insert(run.id.clone(), tx);
        let stored = self.store_once(run.clone(), key).await;
        if !matches!(stored, Ok(Some(_))) {
            lock(&self.shared.waiters).remove(&run.id);
        }
        Ok(stored?.map(|run| (run, rx)))
    }

    /// `Ok` when one more run of `handler` fits in the backlog (see [`Backlog`]): for a caller
    /// that wants to refuse before reading a request's body. Triggering checks it again.
    pub async fn admit(&self, handler: &str) -> Result<(), TriggerError> {
        self.shared
            .config
            .backlog
            .admit(self.shared.store.as_ref(), handler)
            .await
    }

    /// Stores and starts `run`; under `key`, only if nothing was stored under it before
    /// (`None` then).
    async fn store_once(
        &self,
        run: Run,
        key: Option<&RunKey>,
    ) -> Result<Option<Run>, TriggerError> {
        self.admit(&run.handler_id).await?;
        let Some(key) = key else {
            return self.queue(run).await.map(Some);
        };
        let stored = self
            .shared
            .store
            .create_keyed_run(key.as_str(), run.clone(), self.lease())
            .await?;
        Ok(stored.then(|| self.start_here(run)))
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
        if self.shared.accepting.is_cancelled() {
            return Err(TriggerError::ShuttingDown);
        }
        if self.shared.handlers.get(handler).is_none() {
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
        let stored = self
            .shared
            .store
            .create_tick_runs(key, tick, vec![run.clone()], self.lease())
            .await?;
        Ok(stored.then(|| self.start_here(run)))
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
        self.store_once(run, Some(key)).await
    }

    /// Starts a run just stored, when it was leased to this node (see [`Self::lease`]).
    fn start_here(&self, run: Run) -> Run {
        if self.shared.config.runs_here {
            spawn_run(&self.shared, run.clone());
        }
        run
    }

    /// The node new runs are leased to: this one if it runs commands.
    fn lease(&self) -> Option<String> {
        self.shared
            .config
            .runs_here
            .then(|| self.shared.config.node_id.clone())
    }

    async fn queue(&self, run: Run) -> Result<Run, TriggerError> {
        self.admit(&run.handler_id).await?;
        self.shared
            .store
            .create_runs(vec![run.clone()], self.lease())
            .await?;
        Ok(self.start_here(run))
    }

    /// Asks the poller to look for due runs now.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Claims due runs until `token` is cancelled, then lets running commands finish (up to
    /// the shutdown grace), kills what is left and releases what never started.
    pub async fn run(self, token: CancellationToken) {
        let shared = self.shared.clone();
        let elsewhere = shared.store.wakeups().map(|w| w.runs);
        loop {
            let now = now_millis();
            let store_up = shared.config.health.state() == crate::health::StoreState::Up;
            let claimed = if store_up && shared.config.fence.is_up() {
                shared
                    .store
                    .claim_due_runs(&shared.config.node_id, now, 64)
                    .await
            } else {
                Ok(Vec::new())
            };
            match claimed {
                Ok(runs) => {
                    let full = runs.len() == 64;
                    for run in runs {
                        spawn_run(&shared, run);
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    shared.config.health.report(&e);
                    tracing::error!(error = %e, "could not claim due handler runs");
                }
            }
            let wait = match shared.store.next_run_due().await {
                Ok(Some(at)) => {
                    Duration::from_millis((at - now_millis()).clamp(0, i64::MAX) as u64)
                        .min(shared.config.poll_interval)
                }
                _ => shared.config.poll_interval,
            };
            tokio::select! {
                () = token.cancelled() => break,
                () = shared.wake.notified() => {}
                () = crate::cluster::notified(elsewhere.as_deref()) => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        shared.accepting.cancel();
        shared.tasks.close();
        if tokio::time::timeout(shared.config.shutdown_grace, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "handler commands still running after the shutdown grace; killing them (they run again on the next start)"
            );
            shared.hard_stop.cancel();
            shared.tasks.wait().await;
        }
    }
}

/// How often an `api` node looks for the first attempt of a run a worker executes.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Sends `run`'s first attempt to `tx` once a worker has recorded it (for `response: wait` on
/// an `api` node). Gives up when the waiter does.
async fn watch_first_attempt(shared: Arc<Shared>, run: Run, tx: oneshot::Sender<Finished>) {
    while !tx.is_closed() {
        let first = rustyhook_store::Page::first(1, rustyhook_store::Order::Ascending);
        if let Ok(listed) = shared.store.list_run_attempts(&run.id, first).await
            && let Some(attempt) = listed.items.into_iter().next()
        {
            let run = match shared.store.get_run(run.id.as_str()).await {
                Ok(Some(r)) => r,
                _ => run,
            };
            let _ = tx.send((run, attempt));
            return;
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// Starts a leased run in the background, behind its handler's concurrency bound and the
/// node's cap on running commands. A run that must wait keeps only its id in memory: it is read
/// back from the store, payload and all, when its turn comes.
fn spawn_run(shared: &Arc<Shared>, run: Run) {
    let lane = {
        let limit = shared
            .handlers
            .get(&run.handler_id)
            .map_or(1, |h| h.concurrency) as usize;
        lock(&shared.lanes)
            .entry(run.handler_id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(limit)))
            .clone()
    };
    let commands = shared.commands.clone();
    let now = lane
        .clone()
        .try_acquire_owned()
        .ok()
        .and_then(|l| Some((l, commands.clone().try_acquire_owned().ok()?)));
    let id = run.id.clone();
    let ready = now.map(|permits| (permits, run));
    let shared = shared.clone();
    let tasks = shared.tasks.clone();
    let fence = shared.config.fence.clone();
    let epoch = fence.epoch();
    tasks.spawn(async move {
        let (permits, run) = match ready {
            Some(ready) => ready,
            None => {
                let permits = tokio::select! {
                    p = take_permits(lane, commands) => p,
                    () = shared.hard_stop.cancelled() => return release(&shared, &id).await,
                };
                match shared.store.get_run(id.as_str()).await {
                    Ok(Some(run)) => (permits, run),
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(run_id = %id, error = %e, "could not read a queued run back");
                        return release(&shared, &id).await;
                    }
                }
            }
        };
        if !fence.is_up() {
            tokio::select! {
                () = fence.up() => {}
                () = shared.accepting.cancelled() => {}
            }
        }
        if shared.accepting.is_cancelled() {
            // Never started: give it back for the next start.
            return release(&shared, &id).await;
        }
        if !fence.holds(epoch) {
            // This node was taken for dead meanwhile: another node holds the run now.
            crate::observe::dropped_not_held(1);
            return;
        }
        tokio::select! {
            () = execute::attempt(&shared, run) => {}
            () = shared.hard_stop.cancelled() => {
                // The command is killed as its future is dropped; the lease stays and is
                // released on the next start, so the run is not lost.
            }
        }
        drop(permits);
    });
}

/// The handler's lane, then a command slot: always in that order, so no two runs each hold
/// what the other waits for.
async fn take_permits(
    lane: Arc<Semaphore>,
    commands: Arc<Semaphore>,
) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
    let lane = lane.acquire_owned().await.expect("lanes are never closed");
    let command = commands
        .acquire_owned()
        .await
        .expect("the command semaphore is never closed");
    (lane, command)
}

async fn release(shared: &Shared, id: &RunId) {
    if let Err(e) = shared
        .store
        .release_runs(&shared.config.node_id, vec![id.clone()])
        .await
    {
        tracing::warn!(run_id = %id, error = %e, "could not release a run; it is released on the next start");
    }
}

impl Shared {
    pub(crate) fn finished(&self, run: &Run, attempt: &RunAttempt) {
        if let Some(tx) = lock(&self.waiters).remove(&run.id) {
            let _ = tx.send((run.clone(), attempt.clone()));
        }
    }

    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn exports(&self) -> StoreResult<Vec<(String, String)>> {
        self.store.exports().await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere mid-update of a map; the map is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
