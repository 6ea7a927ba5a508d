//! The dispatcher: the in-memory side of the one queue, for both kinds of target.
//!
//! Work is a delivery of a message to an endpoint, or a handler run (a delivery whose target
//! is a handler step). It arrives two ways: straight from where it was created (already leased
//! to this node, in the same transaction: the hot path, no polling) and from the [`poller`],
//! which claims retries that fell due, work left unleased when memory was full, and work
//! released by a dead node. A router hands each to its target's [`lane`], which applies the
//! target's rate limit and in-flight bound (an endpoint's `rateLimit` and `max_in_flight`, a
//! handler's `run_rate` and `concurrency`) and spawns the attempt; so a slow endpoint or
//! handler holds up only its own lane. Each attempt is recorded through the [`recorder`] with
//! the next state ([`decide`]), which releases the lease.
//!
//! Paused work is not claimed (the store's claim leaves it out); what a pause finds already in
//! memory, a lane gives back to the store before attempting it ([`crate::pauses`]).
//!
//! Memory is bounded: at most `queue_capacity` deliveries and runs are held; beyond that new
//! work is left unleased in the store and the poller picks it up as room frees.

mod breaker;
mod decide;
mod lane;
mod poller;
mod recorder;

pub use decide::Tried;
pub(crate) use decide::decide;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use rustyhook_core::id::EndpointId;
use rustyhook_core::model::{Delivery, TriggerType};
use rustyhook_core::names::EventTypeName;
use rustyhook_core::run::Run;
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{Claimed, Due, Lease, Store, Target, WorkId};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::automation::execute::Executor;
use crate::config::EngineConfig;
use crate::observe;
use crate::pauses::Pauses;
use crate::targets::http::{BuildError, HttpTarget, TargetPolicy};

/// One delivery to an endpoint to attempt, with what is needed to send it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The delivery, leased to this node.
    pub delivery: Delivery,
    /// The message's event type.
    pub event_type: EventTypeName,
    /// The payload text; `None` if expunged.
    pub payload: Option<Arc<str>>,
    /// Scheduled or manual.
    pub trigger: TriggerType,
}

impl From<Claimed> for Job {
    fn from(c: Claimed) -> Self {
        Self {
            delivery: c.delivery,
            event_type: c.event_type,
            payload: c.payload,
            trigger: c.trigger,
        }
    }
}

/// Told when a delivery reaches a final state (delivered, or dead), once it is recorded: how a
/// source reports back to its broker (sendhooks's status stream).
#[async_trait::async_trait]
pub trait DeliveryObserver: std::fmt::Debug + Send + Sync + 'static {
    /// Whether deliveries of `app` interest it. Asked on the hot path: keep it cheap.
    fn wants(&self, app: &rustyhook_core::id::AppId) -> bool;
    /// A delivery of a wanted app finished; runs on a task of its own.
    async fn finished(&self, delivery: FinishedDelivery);
}

/// A delivery that reached a final state, as [`DeliveryObserver`]s see it.
#[derive(Debug, Clone)]
pub struct FinishedDelivery {
    /// The app.
    pub app_id: rustyhook_core::id::AppId,
    /// The message.
    pub msg_id: rustyhook_core::id::MessageId,
    /// The endpoint's URL.
    pub url: String,
    /// `Succeeded` or `Dead`.
    pub status: rustyhook_core::model::DeliveryStatus,
    /// Attempts made, the last included.
    pub attempts: u32,
    /// The last attempt's HTTP status (0 if no response).
    pub status_code: u16,
    /// The last attempt's response body or failure reason.
    pub response: String,
    /// When the last attempt ended.
    pub finished_at: rustyhook_core::time::Millis,
}

/// Work of either kind.
#[derive(Debug, Clone)]
enum Work {
    /// A delivery to an endpoint.
    Endpoint(Job),
    /// A handler run.
    Handler(Run),
}

impl From<Due> for Work {
    fn from(due: Due) -> Self {
        match due {
            Due::Endpoint(c) => Self::Endpoint(c.into()),
            Due::Handler(run) => Self::Handler(run),
        }
    }
}

impl Work {
    fn id(&self) -> WorkId {
        match self {
            Self::Endpoint(j) => WorkId::Delivery(j.delivery.id.clone()),
            Self::Handler(r) => WorkId::Run(r.id.clone()),
        }
    }

    /// The lane it waits in.
    fn target(&self) -> Target {
        match self {
            Self::Endpoint(j) => Target::Endpoint(j.delivery.endpoint_id.clone()),
            Self::Handler(r) => Target::Handler(r.handler_id.clone()),
        }
    }

    /// When it fell due: a lane sends the longest-waiting first, so work taken over from a
    /// dead node, or a retry, does not queue behind fresh work.
    fn due(&self) -> Millis {
        match self {
            Self::Endpoint(j) => j.delivery.next_attempt_at.unwrap_or(j.delivery.created_at),
            Self::Handler(r) => r.next_attempt_at.unwrap_or(r.created_at),
        }
    }
}

/// Work in memory, with the fence epoch it was taken under and the number of its claim.
struct Held {
    work: Work,
    epoch: u64,
    claim: i64,
}

impl Held {
    /// The work's id and claim, for giving it back.
    fn leased(&self) -> (WorkId, i64) {
        (self.work.id(), self.claim)
    }
}

/// State shared by the router, lanes, poller and attempt tasks.
struct Shared {
    store: Arc<dyn Store>,
    config: EngineConfig,
    target: HttpTarget,
    /// Runs handler steps.
    executor: Arc<Executor>,
    /// Deliveries and runs held in memory, from hand-over until their attempt is recorded.
    queued: AtomicUsize,
    /// Attempts whose request is in flight.
    in_flight: AtomicUsize,
    /// Bounds requests in flight across all endpoints.
    global: Arc<Semaphore>,
    /// Bounds commands running across all handlers.
    commands: Arc<Semaphore>,
    /// Where work handed over goes, to be routed to its lane.
    router: mpsc::UnboundedSender<Held>,
    /// Cancelled when the shutdown grace is over: running commands are killed.
    hard_stop: CancellationToken,
    /// Cancelled when the dispatcher stops: no new run is accepted.
    stopping: CancellationToken,
    /// Bumped whenever an endpoint changes, so lanes reload their copy.
    endpoint_generation: AtomicU64,
    /// Wakes the poller early (recover, resend, room freed, a resume).
    wake: Notify,
    /// The pauses in force, checked by lanes before each attempt.
    pauses: Pauses,
    /// The earliest time work this node gave back to the store falls due (a retry, a
    /// postponed run, a delivery waiting for its endpoint's probe): the poller sleeps no
    /// longer than this, without asking the store. `i64::MAX` when none is known.
    next_due: AtomicI64,
    /// Attempt tasks, awaited on shutdown.
    attempts: TaskTracker,
    /// Where attempt tasks hand their records for batched writing.
    recorder: mpsc::UnboundedSender<recorder::Request>,
    /// The next claim's number (see [`Lease`]). Started from the clock in microseconds, so a
    /// node restarted under the same name does not count from where its previous life did.
    claims: AtomicI64,
}

impl Shared {
    fn fence(&self) -> &crate::cluster::Fence {
        &self.config.fence
    }

    /// Notes that work this node gave back falls due at `at`, waking the poller when that is
    /// sooner than what it sleeps toward.
    fn due_at(&self, at: Millis) {
        if self.next_due.fetch_min(at, Ordering::AcqRel) > at {
            self.wake.notify_one();
        }
    }

    fn finished_one(&self) {
        let before = self.queued.fetch_sub(1, Ordering::AcqRel);
        observe::in_memory_queue(before.saturating_sub(1));
        // Room is free again: deliveries waiting in the store can come in.
        if before == self.config.queue_capacity {
            self.wake.notify_one();
        }
    }
}

/// A handle for handing work to the dispatcher. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

/// The dispatcher's tasks, run until shutdown by [`Runner::run`].
pub struct Runner {
    shared: Arc<Shared>,
    /// The recorder's queue, drained by the task [`Runner::run`] starts.
    records: mpsc::UnboundedReceiver<recorder::Request>,
    inbox: mpsc::UnboundedReceiver<Held>,
    /// Handed to the poller, which submits what it claims like the API does.
    dispatcher: Dispatcher,
}

impl Dispatcher {
    /// A dispatcher over `store` that runs handler steps with `executor`, and the runner that
    /// drives it.
    pub fn new(
        store: Arc<dyn Store>,
        config: EngineConfig,
        executor: Executor,
    ) -> Result<(Self, Runner), BuildError> {
        let target = HttpTarget::new(TargetPolicy {
            allow_private: config.allow_private_networks,
            proxy: config.proxy.clone(),
            max_response_bytes: config.max_response_bytes,
        })?;
        let (recorder, records) = mpsc::unbounded_channel();
        let (router, inbox) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store: store.clone(),
            global: Arc::new(Semaphore::new(config.max_in_flight_total.max(1) as usize)),
            commands: Arc::new(Semaphore::new(config.max_running_commands.max(1) as usize)),
            config,
            target,
            executor: Arc::new(executor),
            queued: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            router,
            hard_stop: CancellationToken::new(),
            stopping: CancellationToken::new(),
            endpoint_generation: AtomicU64::new(0),
            wake: Notify::new(),
            pauses: Pauses::new(store.clone()),
            next_due: AtomicI64::new(i64::MAX),
            attempts: TaskTracker::new(),
            recorder,
            claims: AtomicI64::new(now_millis().saturating_mul(1000)),
        });
        let dispatcher = Self {
            shared: shared.clone(),
        };
        let runner = Runner {
            shared,
            records,
            inbox,
            dispatcher: dispatcher.clone(),
        };
        Ok((dispatcher, runner))
    }

    /// This node's lease name.
    pub fn node_id(&self) -> &str {
        &self.shared.config.node_id
    }

    /// A new claim by this node, for work it is about to store leased or to claim: each claim
    /// has its own number, so what is given back or recorded under one cannot touch another.
    pub fn lease(&self) -> Lease {
        Lease {
            node: self.shared.config.node_id.clone(),
            claim: self.shared.claims.fetch_add(1, Ordering::AcqRel),
        }
    }

    /// Whether `n` more deliveries fit in memory. When not, create them unleased and let the
    /// poller bring them in later.
    ///
    /// New messages may fill memory only up to a reserve below the capacity: the rest is kept
    /// for the poller, so that work already late (retries, work taken over from a dead node)
    /// is not locked out of memory by a steady stream of new messages.
    pub fn has_room(&self, n: usize) -> bool {
        let capacity = self.shared.config.queue_capacity;
        let reserve = capacity / 10;
        self.shared.config.dispatches
            && self.shared.fence().is_up()
            && self.shared.queued.load(Ordering::Acquire) + n <= capacity - reserve
    }

    /// Hands over deliveries stored under `lease` (one of this node's, from [`Self::lease`]).
    pub fn submit(&self, lease: &Lease, jobs: impl IntoIterator<Item = Job>) {
        self.hand_over(lease.claim, jobs.into_iter().map(Work::Endpoint));
    }

    /// Hands over a run stored under `lease` (one of this node's, from [`Self::lease`]).
    pub fn submit_run(&self, lease: &Lease, run: Run) {
        self.hand_over(lease.claim, std::iter::once(Work::Handler(run)));
    }

    fn hand_over(&self, claim: i64, work: impl IntoIterator<Item = Work>) {
        let epoch = self.shared.fence().epoch();
        for work in work {
            let queued = self.shared.queued.fetch_add(1, Ordering::AcqRel) + 1;
            observe::in_memory_queue(queued);
            let held = Held { work, epoch, claim };
            if self.shared.router.send(held).is_err() {
                // Shutting down: the lease stays and is released on the next start.
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Whether the dispatcher has stopped (or is stopping): no new work should be taken.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.is_cancelled()
    }

    /// The store work is kept in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// What runs handler steps.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.shared.executor
    }

    /// The pauses in force as this node sees them. After pausing or resuming, call
    /// [`Pauses::changed`] and, for a resume, [`Self::wake`].
    pub fn pauses(&self) -> &Pauses {
        &self.shared.pauses
    }

    /// Asks the poller to look for due work now (after a resend, a recover or a resume).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Tells lanes that an endpoint changed, so the next attempt uses its new settings.
    pub fn endpoint_changed(&self, _id: &EndpointId) {
        self.shared
            .endpoint_generation
            .fetch_add(1, Ordering::AcqRel);
    }

    /// Deliveries held in memory.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }
}

impl Runner {
    /// Routes work to lanes and runs the poller until `token` is cancelled, then waits (up to
    /// the shutdown grace) for attempts in flight, killing commands still running after it.
    /// Work not yet started is released.
    pub async fn run(mut self, token: CancellationToken) {
        let recorder = tokio::spawn(recorder::run(
            self.shared.store.clone(),
            self.shared.config.health.clone(),
            self.records,
        ));
        let poller = tokio::spawn(poller::run(self.dispatcher.clone(), token.clone()));
        let lanes_tracker = TaskTracker::new();
        let mut lanes: HashMap<Target, mpsc::UnboundedSender<Held>> = HashMap::new();
        loop {
            let held = tokio::select! {
                () = token.cancelled() => break,
                held = self.inbox.recv() => match held {
                    Some(held) => held,
                    None => break,
                },
            };
            let target = held.work.target();
            let mut held = held;
            loop {
                let sender = lanes.entry(target.clone()).or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let lane = lane::Lane::new(self.shared.clone(), target.clone(), rx);
                    lanes_tracker.spawn(lane.run(token.clone()));
                    tx
                });
                match sender.send(held) {
                    Ok(()) => break,
                    // The lane retired after idling; start a new one.
                    Err(mpsc::error::SendError(back)) => {
                        lanes.remove(&target);
                        held = back;
                    }
                }
            }
        }
        self.shared.stopping.cancel();
        // Work still in the router's inbox was never started: release it.
        self.inbox.close();
        let mut unstarted = Vec::new();
        while let Ok(held) = self.inbox.try_recv() {
            unstarted.push(held.leased());
        }
        drop(lanes);
        lanes_tracker.close();
        lanes_tracker.wait().await;
        let _ = poller.await;
        lane::release(&self.shared, unstarted).await;
        self.shared.attempts.close();
        let grace = self.shared.config.shutdown_grace;
        if tokio::time::timeout(grace, self.shared.attempts.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = self.shared.in_flight.load(Ordering::Acquire),
                "attempts still in flight after the shutdown grace; killing running commands (their leases are released on the next start)"
            );
            self.shared.hard_stop.cancel();
            let _ = tokio::time::timeout(grace, self.shared.attempts.wait()).await;
        }
        // Every finished attempt waited for its record, so nothing is left to write.
        recorder.abort();
    }
}
