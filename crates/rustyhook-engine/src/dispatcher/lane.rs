//! One target's lane (an endpoint's, or a handler's): applies its rate limit and in-flight
//! bound, then spawns each attempt. Lanes retire after idling and are started again by the
//! router on demand.
//!
//! An endpoint's lane takes its `rateLimit` and `max_in_flight`, and each request also takes
//! one of the node's `max_in_flight_total`; a handler's lane takes its `run_rate` and
//! `concurrency`, and each command also one of the node's `max_running_commands`.
//!
//! Within a lane the work due longest ago goes first (not what arrived first), so a retry or
//! work taken over from a dead node does not wait behind fresh work. Before each attempt the
//! lane waits for this node's [`Fence`](crate::cluster::Fence) and drops work taken under an
//! older epoch: another node holds it now. It also asks whether a pause holds its target: if
//! so, it gives all it holds back to the store, due as it was, unattempted; the claim brings it
//! back, oldest first, once the pause is lifted, and the rate limit applies to it as to any.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rustyhook_core::id::AttemptId;
use rustyhook_core::model::{Attempt, DeliveryStatus, Endpoint};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::ratelimit::{Gcra, Rate};
use rustyhook_core::run::Run;
use rustyhook_core::signing::{HeaderStyle, recorded_headers};
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{AttemptRecord, Attempted, Lease, Target, WorkId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::breaker::{Breaker, Change, Gate};
use super::decide::{Tried, build_request, decide};
use super::{Dispatcher, FinishedDelivery, Held, Job, Shared, Work};
use crate::automation::execute::Step;
use crate::ingest::Ingest;
use crate::observe;
use crate::targets::http::{SendResult, USER_AGENT};

/// A lane with nothing to do for this long retires.
const IDLE: Duration = Duration::from_secs(60);
/// A lane re-reads its endpoint at least this often, for changes made on other nodes.
const ENDPOINT_TTL: Duration = Duration::from_secs(5);

struct CachedEndpoint {
    endpoint: Option<Endpoint>,
    generation: u64,
    loaded: Instant,
}

/// A held job in a lane's heap: earliest due first, then first come.
struct Waiting {
    due: i64,
    seq: u64,
    held: Held,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

pub(super) struct Lane {
    shared: Arc<Shared>,
    target: Target,
    rx: mpsc::UnboundedReceiver<Held>,
    /// Jobs taken from `rx`, waiting for their turn.
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// Arrival order, to break ties in `waiting`.
    seq: u64,
    cached: Option<CachedEndpoint>,
    limiter: Option<Gcra>,
    /// Bounds this target's attempts in flight; sized from the endpoint's `max_in_flight` or
    /// the handler's `concurrency`.
    permits: Option<(u32, Arc<Semaphore>)>,
    origin: Instant,
    /// The key of the cluster-wide rate limit.
    limit_key: String,
    /// An endpoint's circuit breaker, shared with its attempts, which report to it.
    breaker: Arc<Mutex<Breaker>>,
}

/// What a lane holds its work to, read before each attempt.
struct LaneLimits {
    /// Attempts started per second at most.
    rate: Option<u32>,
    /// Attempts in flight at most.
    max_in_flight: u32,
}

impl Lane {
    pub(super) fn new(
        shared: Arc<Shared>,
        target: Target,
        rx: mpsc::UnboundedReceiver<Held>,
    ) -> Self {
        let limit_key = match &target {
            Target::Endpoint(id) => id.to_string(),
            Target::Handler(id) => format!("handler:{id}"),
        };
        let breaker = Breaker::new(
            shared.config.breaker_threshold,
            shared.config.breaker_failing_for,
            shared.config.breaker_max_probe_interval,
        );
        Self {
            breaker: Arc::new(Mutex::new(breaker)),
            shared,
            target,
            limit_key,
            rx,
            waiting: BinaryHeap::new(),
            seq: 0,
            cached: None,
            limiter: None,
            permits: None,
            origin: Instant::now(),
        }
    }

    pub(super) async fn run(mut self, token: CancellationToken) {
        loop {
            if self.waiting.is_empty() {
                let next = tokio::select! {
                    biased;
                    () = token.cancelled() => break,
                    next = tokio::time::timeout(IDLE, self.rx.recv()) => next,
                };
                match next {
                    Ok(Some(held)) => self.wait(held),
                    Ok(None) => return,
                    Err(_idle) => {
                        // Retire; anything that raced in is handled before leaving.
                        self.rx.close();
                        self.take_arrived();
                        while let Some(Reverse(w)) = self.waiting.pop() {
                            if let Err(held) = self.process(w.held, &token).await {
                                release(&self.shared, vec![held.leased()]).await;
                            }
                        }
                        return;
                    }
                }
            }
            self.take_arrived();
            let Some(Reverse(next)) = self.waiting.pop() else {
                continue;
            };
            if let Err(held) = self.process(next.held, &token).await {
                release(&self.shared, vec![held.leased()]).await;
                break;
            }
        }
        self.rx.close();
        self.take_arrived();
        let unstarted = self
            .waiting
            .drain()
            .map(|Reverse(w)| w.held.leased())
            .collect();
        release(&self.shared, unstarted).await;
    }

    fn wait(&mut self, held: Held) {
        self.seq += 1;
        self.waiting.push(Reverse(Waiting {
            due: held.work.due(),
            seq: self.seq,
            held,
        }));
    }

    /// Moves every job that arrived into the heap.
    fn take_arrived(&mut self) {
        while let Ok(held) = self.rx.try_recv() {
            self.wait(held);
        }
    }

    /// Waits for the rate limit and a permit, then spawns the attempt. Gives the work back if
    /// shutdown interrupts the wait.
    async fn process(&mut self, held: Held, token: &CancellationToken) -> Result<(), Held> {
        let fence = self.shared.fence().clone();
        if !fence.is_up() {
            tokio::select! {
                () = token.cancelled() => return Err(held),
                () = fence.up() => {}
            }
        }
        if !fence.holds(held.epoch) {
            // This node was taken for dead meanwhile: another node holds the work now.
            observe::dropped_not_held(1);
            self.shared.finished_one();
            return Ok(());
        }
        if self.held_back(&held.work).await {
            self.hold_back(held, token).await;
            return Ok(());
        }
        let mut probe = false;
        let (limits, endpoint) = match &held.work {
            Work::Endpoint(job) => {
                let id = (WorkId::Delivery(job.delivery.id.clone()), held.claim);
                let Some(endpoint) = self.endpoint().await else {
                    // Deleted: the store has already canceled its deliveries.
                    release(&self.shared, vec![id]).await;
                    return Ok(());
                };
                if !endpoint.disabled {
                    let gate = lock(&self.breaker).gate(Instant::now());
                    match gate {
                        Gate::Go => {}
                        Gate::Probe => probe = true,
                        Gate::Wait(until) => {
                            // Back to the store, due at the next probe, its attempts unspent.
                            let wait = until.saturating_duration_since(Instant::now());
                            let due = now_millis() + wait.as_millis() as i64;
                            return match self.postpone(id, due, token).await {
                                Ok(()) => Ok(()),
                                Err(()) => Err(held),
                            };
                        }
                    }
                }
                let limits = LaneLimits {
                    rate: endpoint.rate_limit.filter(|_| !endpoint.disabled),
                    max_in_flight: endpoint.max_in_flight,
                };
                (limits, Some(endpoint))
            }
            Work::Handler(run) => {
                let handler = self.shared.executor.handler(&run.handler_id);
                let limits = LaneLimits {
                    rate: handler.and_then(|h| h.run_rate),
                    max_in_flight: handler.map_or(1, |h| h.concurrency),
                };
                (limits, None)
            }
        };
        if let Some(limit) = limits.rate.filter(|r| *r > 0)
            && self.wait_for_rate(limit, token).await.is_err()
        {
            return Err(held);
        }
        let own = self.permits(limits.max_in_flight);
        let node_wide = match &held.work {
            Work::Endpoint(_) => self.shared.global.clone(),
            Work::Handler(_) => self.shared.commands.clone(),
        };
        let permits = tokio::select! {
            () = token.cancelled() => return Err(held),
            p = acquire_both(own, node_wide) => p,
        };
        // Paused while it waited for its turn.
        if self.held_back(&held.work).await {
            drop(permits);
            self.hold_back(held, token).await;
            return Ok(());
        }
        let shared = self.shared.clone();
        let breaker = self.breaker.clone();
        let lease = Lease {
            node: shared.config.node_id.clone(),
            claim: held.claim,
        };
        self.shared.attempts.spawn(async move {
            match (held.work, endpoint) {
                (Work::Endpoint(job), Some(endpoint)) => {
                    let endpoint_id = endpoint.id.clone();
                    let outcome = attempt(&shared, job, endpoint, lease).await;
                    let change = match outcome {
                        // Not sent: nothing learnt of the endpoint.
                        OutcomeCode::EndpointDisabled | OutcomeCode::NoContent => {
                            if probe {
                                lock(&breaker).probe_told_nothing(Instant::now());
                            }
                            Change::None
                        }
                        outcome => {
                            let failed = outcome != OutcomeCode::Ok;
                            lock(&breaker).record(failed, probe, Instant::now())
                        }
                    };
                    match change {
                        Change::Opened => {
                            observe::breaker_opened();
                            tracing::warn!(%endpoint_id, "endpoint keeps failing: its breaker is open; probing it before sending the rest");
                            feed_breaker(&shared, endpoint_id, "breaker_opened");
                        }
                        Change::Closed => {
                            tracing::info!(%endpoint_id, "endpoint answered a probe: its breaker is closed");
                            // What waits in the store for the next probe can come now.
                            shared.wake.notify_one();
                            feed_breaker(&shared, endpoint_id, "breaker_closed");
                        }
                        Change::None => {}
                    }
                }
                (Work::Handler(run), _) => run_step(&shared, run, lease).await,
                (Work::Endpoint(_), None) => unreachable!("an endpoint's work is sent with it"),
            }
            drop(permits);
            shared.finished_one();
        });
        Ok(())
    }

    /// Whether a pause holds back `work` now (all of a lane's work shares the answer: one
    /// endpoint of one app, or one handler).
    async fn held_back(&self, work: &Work) -> bool {
        let pauses = &self.shared.pauses;
        match work {
            Work::Endpoint(job) => {
                let d = &job.delivery;
                pauses.holds_endpoint(&d.app_id, &d.endpoint_id).await
            }
            Work::Handler(run) => pauses.holds_handler(&run.handler_id).await,
        }
    }

    /// Gives `held` and all this lane has waiting back to the store, due as they were and
    /// unattempted: a pause holds them, and the claim brings them back once it is lifted. The
    /// release is tried again through a store outage (a lease the store never heard released
    /// would keep them from the claim after the resume); on shutdown the leases stay, and are
    /// released on the next start (or when this node is taken for dead).
    async fn hold_back(&mut self, held: Held, token: &CancellationToken) {
        self.take_arrived();
        let mut ids = vec![held.leased()];
        ids.extend(self.waiting.drain().map(|Reverse(w)| w.held.leased()));
        tracing::debug!(lane = ?self.target, works = ids.len(), "paused: given back to the store until resumed");
        let shared = &self.shared;
        let node = &shared.config.node_id;
        let given_back = tokio::select! {
            r = shared.config.health.keep_trying("attempts", || {
                shared.store.release(node, ids.clone(), None)
            }) => r,
            () = token.cancelled() => Ok(()),
        };
        if let Err(e) = given_back {
            tracing::warn!(lane = ?self.target, error = %e, "could not give paused work back; it is released on the next start");
        }
        for _ in 0..ids.len() {
            shared.finished_one();
        }
    }

    /// Gives a delivery back to the store, due at `due`, and frees its room. Waits out a store
    /// that is down or full rather than drop it (a lease the store never heard released would
    /// hold the delivery until this node restarts); `Err` if shutdown came first, when the
    /// lease stays for the next start.
    async fn postpone(
        &self,
        (id, claim): (WorkId, i64),
        due: Millis,
        token: &CancellationToken,
    ) -> Result<(), ()> {
        let shared = &self.shared;
        let node = &shared.config.node_id;
        let given_back = tokio::select! {
            r = shared.config.health.keep_trying("attempts", || {
                shared.store.release(node, vec![(id.clone(), claim)], Some(due))
            }) => r,
            () = token.cancelled() => return Err(()),
        };
        match given_back {
            Ok(()) => shared.due_at(due),
            Err(e) => {
                tracing::warn!(delivery_id = %id, error = %e, "could not postpone a delivery; it is released on the next start")
            }
        }
        shared.finished_one();
        Ok(())
    }

    /// Waits until the target's rate limit lets one more attempt go: the cluster-wide limit
    /// when there is one (falling back to this node's while it is unreachable), else this
    /// node's. `Err` if shutdown came first.
    async fn wait_for_rate(&mut self, limit: u32, token: &CancellationToken) -> Result<(), ()> {
        loop {
            let verdict = match &self.shared.config.shared_limits {
                Some(shared) => match shared.take(&self.limit_key, limit).await {
                    Ok(()) => Ok(()),
                    Err(Some(wait)) => Err(wait),
                    Err(None) => self.local_limit(limit),
                },
                None => self.local_limit(limit),
            };
            let Err(wait) = verdict else { return Ok(()) };
            tokio::select! {
                () = token.cancelled() => return Err(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn local_limit(&mut self, limit: u32) -> Result<(), Duration> {
        let limiter = match &mut self.limiter {
            Some(l) if l.rate().count == limit => l,
            other => other.insert(Gcra::new(Rate::per_second(limit))),
        };
        limiter.check(self.origin.elapsed())
    }

    fn permits(&mut self, max: u32) -> Arc<Semaphore> {
        let max = max.max(1);
        match &self.permits {
            Some((n, s)) if *n == max => s.clone(),
            _ => {
                let s = Arc::new(Semaphore::new(max as usize));
                self.permits = Some((max, s.clone()));
                s
            }
        }
    }

    /// The endpoint's current settings, re-read when changed or stale (an endpoint's lane
    /// only).
    async fn endpoint(&mut self) -> Option<Endpoint> {
        let Target::Endpoint(endpoint_id) = &self.target else {
            return None;
        };
        let endpoint_id = endpoint_id.clone();
        let generation = self.shared.endpoint_generation.load(Ordering::Acquire);
        let fresh = self
            .cached
            .as_ref()
            .is_some_and(|c| c.generation == generation && c.loaded.elapsed() < ENDPOINT_TTL);
        if !fresh {
            match self.shared.store.get_endpoint_by_id(&endpoint_id).await {
                Ok(endpoint) => {
                    let endpoint = match endpoint {
                        Some(e) => Some(self.resolve_header_style(e).await),
                        None => None,
                    };
                    self.cached = Some(CachedEndpoint {
                        endpoint,
                        generation,
                        loaded: Instant::now(),
                    });
                }
                Err(e) => {
                    tracing::error!(endpoint_id = %endpoint_id, error = %e, "could not load endpoint; using the last copy");
                }
            }
        }
        self.cached.as_ref().and_then(|c| c.endpoint.clone())
    }

    /// The endpoint with the header style it is sent with filled in: its own, else its app's,
    /// else the server's. Resolved with each reload, so an app's change shows within
    /// [`ENDPOINT_TTL`]; if the app cannot be read, the server's default is used for now.
    async fn resolve_header_style(&self, mut endpoint: Endpoint) -> Endpoint {
        if endpoint.header_style.is_some() {
            return endpoint;
        }
        let app_style = match self.shared.store.get_app(endpoint.app_id.as_str()).await {
            Ok(app) => app.and_then(|a| a.header_style),
            Err(e) => {
                tracing::warn!(endpoint_id = %endpoint.id, error = %e, "could not load the endpoint's app; using the server's header style");
                None
            }
        };
        endpoint.header_style = Some(HeaderStyle::effective(
            None,
            app_style,
            self.shared.config.header_style,
        ));
        endpoint
    }
}

async fn acquire_both(
    endpoint: Arc<Semaphore>,
    global: Arc<Semaphore>,
) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
    let a = endpoint
        .acquire_owned()
        .await
        .expect("lane semaphores are never closed");
    let b = global
        .acquire_owned()
        .await
        .expect("the global semaphore is never closed");
    (a, b)
}

/// Sends one delivery held under `lease` and records the attempt with the delivery's next
/// state. Returns how it ended.
async fn attempt(shared: &Shared, job: Job, endpoint: Endpoint, lease: Lease) -> OutcomeCode {
    let started = now_millis();
    // The headers sent, as the attempt records them; none when nothing is sent.
    let mut sent_headers = None;
    let result = if endpoint.disabled {
        SendResult {
            outcome: OutcomeCode::EndpointDisabled,
            status: 0,
            body: "the endpoint is disabled; re-enable it and recover to send".into(),
            retry_after: None,
            took: Duration::ZERO,
        }
    } else if let Some(payload) = &job.payload {
        let request = build_request(
            &endpoint,
            job.delivery.msg_id.as_str(),
            payload,
            started,
            shared.config.request_timeout,
        );
        sent_headers = Some(recorded_headers(&request.headers, USER_AGENT));
        let n = shared.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        observe::in_flight(n);
        let result = shared.target.send(request).await;
        let n = shared.in_flight.fetch_sub(1, Ordering::AcqRel) - 1;
        observe::in_flight(n);
        result
    } else {
        SendResult {
            outcome: OutcomeCode::NoContent,
            status: 0,
            body: "the message's payload was deleted".into(),
            retry_after: None,
            took: Duration::ZERO,
        }
    };
    let finished = now_millis();
    let jitter = rand::rng().random_range(-1.0..=1.0);
    let decision = decide(
        Tried::from(&result),
        job.delivery.attempts,
        &shared.config.retry,
        finished,
        jitter,
    );
    observe::attempt_finished(result.outcome, result.took);
    let d = &job.delivery;
    match decision.status {
        DeliveryStatus::Succeeded => {
            observe::delivered(Duration::from_millis(
                (finished - d.created_at).max(0) as u64
            ));
            tracing::debug!(msg_id = %d.msg_id, endpoint_id = %d.endpoint_id, status = result.status, "delivered");
        }
        DeliveryStatus::Dead => {
            observe::delivery_dead();
            tracing::warn!(msg_id = %d.msg_id, endpoint_id = %d.endpoint_id, outcome = result.outcome.as_str(),
                status = result.status, attempts = d.attempts + 1, "delivery is dead: no attempts left");
        }
        _ => {
            tracing::info!(msg_id = %d.msg_id, endpoint_id = %d.endpoint_id, outcome = result.outcome.as_str(),
                status = result.status, attempt = d.attempts + 1, next_attempt_at = decision.next_attempt_at,
                "attempt failed; retry scheduled");
        }
    }
    if decision.disable_endpoint {
        tracing::warn!(endpoint_id = %d.endpoint_id, "endpoint answered 410 Gone; disabled");
        shared.endpoint_generation.fetch_add(1, Ordering::AcqRel);
    }
    // Observers are rare (sendhooks sources): build their record, with a copy of the response,
    // only when one wants this delivery.
    let observers: Vec<_> = if matches!(
        decision.status,
        DeliveryStatus::Succeeded | DeliveryStatus::Dead
    ) {
        shared
            .config
            .observers
            .iter()
            .filter(|o| o.wants(&d.app_id))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let finished_delivery = (!observers.is_empty()).then(|| FinishedDelivery {
        app_id: d.app_id.clone(),
        msg_id: d.msg_id.clone(),
        url: endpoint.url.clone(),
        status: decision.status,
        attempts: d.attempts + 1,
        status_code: result.status,
        response: result.body.clone(),
        finished_at: finished,
    });
    let record = AttemptRecord {
        attempt: Attempted::Endpoint(Attempt {
            id: AttemptId::generate(started),
            delivery_id: d.id.clone(),
            msg_id: d.msg_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            app_id: d.app_id.clone(),
            url: endpoint.url.clone(),
            outcome: result.outcome,
            status_code: result.status,
            response: Some(result.body),
            duration_ms: result.took.as_millis() as i64,
            trigger: job.trigger,
            created_at: started,
            request_headers: sent_headers,
        }),
        status: decision.status,
        next_attempt_at: decision.next_attempt_at,
        disable_endpoint: decision.disable_endpoint,
        leased_to: Some(lease),
    };
    let retry_at = record.next_attempt_at;
    let (done, recorded) = tokio::sync::oneshot::channel();
    if shared.recorder.send((record, done)).is_ok() {
        let _ = recorded.await;
    }
    if let Some(at) = retry_at {
        shared.due_at(at);
    }
    if let Some(f) = finished_delivery {
        for observer in observers {
            let f = f.clone();
            tokio::spawn(async move { observer.finished(f).await });
        }
    }
    result.outcome
}

/// Runs one handler step and records it with the run's next state (or gives the run back,
/// due later, when it waits on a dependency). Killed with its command when the shutdown grace
/// is over; its lease then stays, and the run runs again after the next start.
async fn run_step(shared: &Arc<Shared>, run: Run, lease: Lease) {
    let node = &lease.node;
    let id = (WorkId::Run(run.id.clone()), lease.claim);
    // Made here, not kept: the executor lives in the dispatcher, and an ingest it held would
    // hold the dispatcher in turn.
    let ingest = Ingest::new(
        shared.store.clone(),
        Dispatcher {
            shared: shared.clone(),
        },
        shared.executor.max_payload_bytes(),
    );
    let step = tokio::select! {
        step = shared.executor.attempt(run, &lease, &ingest) => step,
        () = shared.hard_stop.cancelled() => return,
    };
    match step {
        Step::Wait { until } => {
            let released = shared
                .config
                .health
                .keep_trying("runs", || {
                    shared.store.release(node, vec![id.clone()], Some(until))
                })
                .await;
            match released {
                Ok(()) => shared.due_at(until),
                Err(e) => {
                    tracing::warn!(run_id = %id.0, error = %e, "could not postpone a waiting run")
                }
            }
        }
        Step::Done { record, run } => {
            let (outcome, took, more) = match &record.attempt {
                Attempted::Handler {
                    attempt,
                    follow_ups,
                    ..
                } => (
                    attempt.outcome,
                    Duration::from_millis(attempt.duration_ms.max(0) as u64),
                    !follow_ups.is_empty(),
                ),
                Attempted::Endpoint(_) => unreachable!("a handler step records a run attempt"),
            };
            observe::run_attempt_finished(outcome, took);
            if record.status == DeliveryStatus::Dead {
                observe::run_dead();
            }
            let retry_at = record.next_attempt_at;
            let attempted = record.attempt.clone();
            let (done, recorded) = tokio::sync::oneshot::channel();
            if shared.recorder.send((*record, done)).is_ok() {
                let _ = recorded.await;
            }
            if let Attempted::Handler { attempt, .. } = &attempted {
                shared.executor.finished(&run, attempt);
            }
            if let Some(at) = retry_at {
                shared.due_at(at);
            }
            if more {
                // Follow-ups are stored unleased, due now.
                shared.wake.notify_one();
            }
        }
    }
}

/// Gives leases back without an attempt (shutdown, deleted endpoint) and frees their room.
pub(super) async fn release(shared: &Shared, ids: Vec<(WorkId, i64)>) {
    if ids.is_empty() {
        return;
    }
    let n = ids.len();
    if let Err(e) = shared
        .store
        .release(&shared.config.node_id, ids, None)
        .await
    {
        tracing::warn!(error = %e, "could not release leases; they are released on the next start");
    }
    for _ in 0..n {
        shared.finished_one();
    }
}

/// Puts the breaker's opening or closing in the live feed, named with this node (the breaker is
/// the node's own), on a task of its own: a feed entry is worth no delay of an attempt, and one
/// lost to a store outage is only logged.
fn feed_breaker(
    shared: &Arc<Shared>,
    endpoint_id: rustyhook_core::id::EndpointId,
    change: &'static str,
) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let node = &shared.config.node_id;
        let at = now_millis();
        if let Err(e) = shared
            .store
            .feed_endpoint_change(&endpoint_id, change, node, at)
            .await
        {
            tracing::warn!(%endpoint_id, change, error = %e, "could not put the breaker's change in the live feed");
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic mid-update of a breaker; its state is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use rustyhook_core::id::{AppId, DeliveryId, EndpointId, MessageId};
    use rustyhook_core::model::{Delivery, TriggerType};
    use rustyhook_core::names::EventTypeName;

    use super::*;

    fn held(created_at: i64, next_attempt_at: Option<i64>) -> Held {
        Held {
            work: Work::Endpoint(Job {
                delivery: Delivery {
                    id: DeliveryId::generate(created_at),
                    msg_id: MessageId::generate(created_at),
                    endpoint_id: EndpointId::generate(created_at),
                    app_id: AppId::generate(created_at),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    next_attempt_at,
                    created_at,
                    updated_at: created_at,
                },
                event_type: EventTypeName::parse("a.b").expect("name"),
                payload: None,
                trigger: TriggerType::Scheduled,
            }),
            epoch: 0,
            claim: 0,
        }
    }

    #[test]
    fn the_delivery_due_longest_ago_leaves_a_lane_first_whatever_its_arrival() {
        let mut heap = BinaryHeap::new();
        // Fresh messages arrive first; then a retry and work taken over from a dead node.
        let arrivals = [
            held(5_000, None),
            held(5_001, Some(5_001)),
            held(900, Some(1_000)),
            held(1_000, None),
            held(3_000, Some(4_000)),
        ];
        for (seq, h) in arrivals.into_iter().enumerate() {
            heap.push(Reverse(Waiting {
                due: h.work.due(),
                seq: seq as u64,
                held: h,
            }));
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|Reverse(w)| w.seq)).collect();
        assert_eq!(
            order,
            [2, 3, 4, 0, 1],
            "earliest due first, ties in arrival order"
        );
    }
}
