//! The [`Store`] trait and the types its methods take and return.

use std::sync::Arc;

use async_trait::async_trait;
use rustyhook_core::alert::{Alert, AlertRule, RuleSpec};
use rustyhook_core::id::{AppId, AttemptId, DeliveryId, EndpointId, MessageId, RunId};
use rustyhook_core::model::{
    App, Attempt, Delivery, DeliveryStatus, Endpoint, EventType, Message, TriggerType,
};
use rustyhook_core::names::{Channel, EventTypeName};
use rustyhook_core::operational::{EndpointRef, OperationalEvent};
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::Millis;
use tokio::sync::Notify;

use crate::access::{ApiToken, AuditEntry, AuditFilter};
use crate::alert::{AlertFilter, NodeSeen, Nodes};
use crate::dead::{DeadLetter, DeadLetterFilter, DeadPage};
use crate::feed::{FeedEntry, FeedQuery};
use crate::page::{Listed, Page};
use crate::pause::{Pause, PauseScope, Waiting};
use crate::stats::SourceTaken;
use crate::task::{BackgroundTask, TaskFilter};

/// A fault of the store itself, or a request it cannot satisfy.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (uid, event id, name) is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The database failed.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value could not be read back (including a secret under the wrong key).
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The store has shut down.
    #[error("the store is closed")]
    Closed,
    /// The database cannot be reached now (stopped, restarting, network cut, no free
    /// connection in time). Transient: the same call may succeed later.
    #[error("the database cannot be reached")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database's disk is full: nothing can be written until space is freed. Transient:
    /// reads still work, and writes succeed again once there is room.
    #[error("the database's disk is full")]
    Full(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether the same call may succeed later unchanged: the database was unreachable, full,
    /// or failed in a way that is not about the data (a lock, an I/O error). Conflicts, missing
    /// rows, unreadable data and a closed store are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Full(_) | Self::Database(_)
        )
    }

    /// The error and its causes, as one line, for logs and operators (store errors name no
    /// password or secret).
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// The database's clock when the heartbeat was written: every node judges liveness by this
    /// one clock, never by its own.
    pub at: Millis,
    /// False when the node had no heartbeat on record: its first, or the node had been taken
    /// for dead and its leases released (it must then drop the work it holds in memory).
    pub known: bool,
}

/// A shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A claim of work: the node holding it, and a number no other claim of the same work carries
/// (the node's dispatcher gives each claim its own). Giving work back and moving it on after
/// an attempt act only while the claim they were made under still holds the work, so a write
/// of an older claim that lands late, or twice (a release tried again through an outage whose
/// first try did commit), cannot free or overwrite a newer claim's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node's name, as in its heartbeats.
    pub node: String,
    /// The claim's number.
    pub claim: i64,
}

/// A new message and how its deliveries are to be handed out.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The message to store.
    pub message: Message,
    /// When set, the deliveries are created already leased under this claim, for its node's
    /// dispatcher.
    pub lease_to: Option<Lease>,
    /// When set, only this endpoint receives the message (an example sent to one endpoint).
    pub only_endpoint: Option<EndpointId>,
    /// When set, the deliveries fall due then rather than at once (Svix's `deliverAt`); create
    /// them unleased, so the poller claims them when they are due.
    pub deliver_at: Option<Millis>,
}

/// What storing a message produced.
#[derive(Debug, Clone)]
pub struct MessageCreated {
    /// The stored message; for a repeated `eventId`, the one stored first.
    pub message: Message,
    /// `true` when the `eventId` was already used and nothing new was stored.
    pub existing: bool,
    /// The deliveries created in the same transaction.
    pub deliveries: Vec<Delivery>,
    /// Whether the deliveries were leased to the node [`NewMessage::lease_to`] named: false
    /// when none was named, or when a pause (of the server, the app, or one of the endpoints)
    /// holds one of them. They are then stored unleased, for the claim to bring in once
    /// resumed, and the caller must not hand them to its dispatcher.
    pub leased: bool,
}

/// A delivery to an endpoint handed to a dispatcher, with what is needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery, leased to the claiming node.
    pub delivery: Delivery,
    /// The message's event type.
    pub event_type: EventTypeName,
    /// The payload text; `None` if it was expunged.
    pub payload: Option<Arc<str>>,
    /// Whether the next attempt was asked for by a user (resend, recover).
    pub trigger: TriggerType,
}

/// Work that fell due in the one queue: a delivery to an endpoint, or a handler run (a
/// delivery whose target is a handler step). Both are claimed, leased, released and recorded
/// alike.
#[derive(Debug, Clone)]
pub enum Due {
    /// A message to an endpoint.
    Endpoint(Claimed),
    /// A handler step.
    Handler(Run),
}

/// The id of queued work of either kind, for leases.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WorkId {
    /// A delivery to an endpoint.
    Delivery(DeliveryId),
    /// A handler run.
    Run(RunId),
}

impl WorkId {
    /// The stored id.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Delivery(id) => id.as_str(),
            Self::Run(id) => id.as_str(),
        }
    }
}

impl std::fmt::Display for WorkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where work goes: the lane it waits in, and what a recover names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An HTTP endpoint.
    Endpoint(EndpointId),
    /// A handler, by id (each of its steps).
    Handler(String),
}

/// What one attempt did, by target.
#[derive(Debug, Clone)]
pub enum Attempted {
    /// An HTTP request to an endpoint.
    Endpoint(Attempt),
    /// A handler step's command (and routes, and publish).
    Handler {
        /// The attempt.
        attempt: RunAttempt,
        /// Runs this result starts (forwards, `on_success`/`on_failure`), created unleased.
        follow_ups: Vec<Run>,
        /// Values exported for later runs.
        exports: Vec<(String, String)>,
    },
}

impl Attempted {
    /// The work the attempt was of.
    pub fn work_id(&self) -> WorkId {
        match self {
            Self::Endpoint(a) => WorkId::Delivery(a.delivery_id.clone()),
            Self::Handler { attempt, .. } => WorkId::Run(attempt.run_id.clone()),
        }
    }
}

/// The result of an attempt and what follows for its delivery, written in one transaction.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The attempt to store.
    pub attempt: Attempted,
    /// The delivery's (or run's) new status.
    pub status: DeliveryStatus,
    /// When the next attempt is due, if one is scheduled.
    pub next_attempt_at: Option<Millis>,
    /// Disable the endpoint (a `410 Gone`).
    pub disable_endpoint: bool,
    /// The claim the attempt was made under. When set, the attempt is always stored but the
    /// delivery moves on only while that claim, or no one, holds it: a node that was taken for
    /// dead must not overwrite the state of a delivery another node took over.
    pub leased_to: Option<Lease>,
}

/// How many runs are not yet finished, for backlog limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenRuns {
    /// Of the handler asked about.
    pub handler: u64,
    /// Of every handler.
    pub total: u64,
}

/// Filters for listing messages.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only messages on this channel.
    pub channel: Option<Channel>,
    /// Only messages carrying at least one of these tags.
    pub tags: Option<Vec<String>>,
    /// Only these event types.
    pub event_types: Option<Vec<EventTypeName>>,
    /// Only messages created before this time.
    pub before: Option<Millis>,
    /// Only messages created after this time.
    pub after: Option<Millis>,
}

/// Filters for listing attempts.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// Only attempts of this message.
    pub msg_id: Option<MessageId>,
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only attempts with this Svix status (0 success, 2 fail).
    pub status: Option<u8>,
    /// Only attempts whose HTTP status is in this class (0 = none, 100..500).
    pub status_code_class: Option<u16>,
    /// Only attempts of messages on this channel.
    pub channel: Option<Channel>,
    /// Only attempts of messages of these types.
    pub event_types: Option<Vec<EventTypeName>>,
    /// Only attempts made before this time.
    pub before: Option<Millis>,
    /// Only attempts made after this time.
    pub after: Option<Millis>,
}

/// Counts of an endpoint's deliveries by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Delivered.
    pub success: i64,
    /// Waiting, including a retry scheduled.
    pub pending: i64,
    /// In flight.
    pub sending: i64,
    /// Given up: attempts exhausted.
    pub fail: i64,
    /// Canceled (the endpoint was deleted).
    pub canceled: i64,
}

/// A message as delivered to one endpoint (Svix's `EndpointMessageOut`).
#[derive(Debug, Clone)]
pub struct EndpointMessage {
    /// The message.
    pub message: Message,
    /// Its delivery to the endpoint.
    pub delivery: Delivery,
}

/// How a repeated idempotency key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use: the caller goes ahead and must complete or abandon the key.
    Started,
    /// A request with this key finished before: replay its response.
    Completed {
        /// HTTP status of the saved response.
        status: u16,
        /// Body of the saved response.
        body: Vec<u8>,
    },
    /// A request with this key is still running.
    InProgress,
}

/// A broker message that could not be stored (not parseable, or naming what does not exist),
/// kept so an operator can see it; the broker dead-letters it in its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedMessage {
    /// `rej_…`, sortable by time.
    pub id: String,
    /// The source's name.
    pub source: String,
    /// The broker's id for the message (stream entry id, delivery tag, sequence).
    pub broker_id: String,
    /// Why it was rejected.
    pub reason: String,
    /// The start of the message, as text (capped by the caller).
    pub body: String,
    /// When it was rejected.
    pub created_at: Millis,
}

/// The queue as it is now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueNow {
    /// Work waiting to be attempted (pending, or failed with a retry scheduled), deliveries
    /// and runs alike.
    pub depth: i64,
    /// When the oldest of that work was created; `None` when there is none.
    pub oldest_created_at: Option<Millis>,
}

impl QueueNow {
    /// How long the oldest waiting work has waited at `now`, in ms; `None` when none waits.
    pub fn oldest_age(&self, now: Millis) -> Option<i64> {
        self.oldest_created_at.map(|t| (now - t).max(0))
    }
}

/// Signals that another node made work due, so a node's pollers need not wait for their next
/// tick. A signal may be spurious or coalesced (a [`Notify`] keeps at most one permit): it only
/// says "look now", and the poller still claims through the store.
#[derive(Debug, Clone)]
pub struct Wakeups {
    /// Notified when work became due unleased (a new message or run, a follow-up, a resend,
    /// a recover, a release).
    pub due: Arc<Notify>,
}

/// The durable state of rustyhook. Implementations must make every acknowledged write survive a
/// crash, and return from a write only once it is committed.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- applications ---
    /// Stores a new app; `Conflict` if its uid is taken.
    async fn create_app(&self, app: App) -> StoreResult<App>;
    /// Finds an app by id or uid.
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<App>>;
    /// Lists apps.
    async fn list_apps(&self, page: Page, with_endpoints_only: bool) -> StoreResult<Listed<App>>;
    /// Replaces an app's fields; `Conflict` if the new uid is taken.
    async fn update_app(&self, app: App) -> StoreResult<App>;
    /// Deletes an app with its endpoints, messages, deliveries and attempts.
    async fn delete_app(&self, id: &AppId) -> StoreResult<()>;

    // --- event types ---
    /// Creates or replaces an event type (un-archiving it). Returns whether it was new.
    async fn upsert_event_type(&self, event_type: EventType) -> StoreResult<bool>;
    /// Finds an event type by name.
    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>>;
    /// Lists event types by name.
    async fn list_event_types(
        &self,
        page: Page,
        include_archived: bool,
    ) -> StoreResult<Listed<EventType>>;
    /// Deletes an event type for good.
    async fn delete_event_type(&self, name: &str) -> StoreResult<()>;

    // --- endpoints ---
    /// Stores a new endpoint; `Conflict` if its uid is taken within the app.
    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint>;
    /// Finds an endpoint of an app by id or uid.
    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>>;
    /// Finds an endpoint by id alone (for the dispatcher).
    async fn get_endpoint_by_id(&self, id: &EndpointId) -> StoreResult<Option<Endpoint>>;
    /// Lists an app's endpoints.
    async fn list_endpoints(&self, app: &AppId, page: Page) -> StoreResult<Listed<Endpoint>>;
    /// Replaces an endpoint's fields.
    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint>;
    /// Deletes an endpoint and cancels its outstanding deliveries.
    async fn delete_endpoint(&self, id: &EndpointId) -> StoreResult<()>;
    /// Counts the endpoint's deliveries created in `[since, until)` by state.
    async fn endpoint_stats(
        &self,
        id: &EndpointId,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> StoreResult<EndpointStats>;

    // --- messages ---
    /// Stores a message and its deliveries in one transaction.
    async fn create_message(&self, new: NewMessage) -> StoreResult<MessageCreated>;
    /// Finds a message of an app by id or event id.
    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Option<Message>>;
    /// Lists an app's messages, newest first by default.
    async fn list_messages(
        &self,
        app: &AppId,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<Message>>;
    /// Deletes a message's payload; its deliveries can no longer be sent.
    async fn expunge_message(&self, id: &MessageId) -> StoreResult<()>;
    /// Lists the messages delivered (or being delivered) to an endpoint.
    async fn list_endpoint_messages(
        &self,
        endpoint: &EndpointId,
        status: Option<u8>,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<EndpointMessage>>;

    // --- deliveries ---
    /// The deliveries of a message, with their endpoints, ordered by endpoint id.
    async fn list_message_deliveries(
        &self,
        msg: &MessageId,
        page: Page,
    ) -> StoreResult<Listed<(Delivery, Endpoint)>>;
    /// Leases up to `limit` deliveries and runs that are due at `now`, leased to no one and
    /// held back by no pause, earliest due first.
    async fn claim_due(&self, lease: &Lease, now: Millis, limit: usize) -> StoreResult<Vec<Due>>;
    /// The earliest time unleased work that no pause holds back falls due, if any.
    async fn next_due(&self) -> StoreResult<Option<Millis>>;
    /// Stores an attempt and moves its delivery on, releasing the lease.
    async fn record_attempt(&self, record: AttemptRecord) -> StoreResult<()> {
        self.record_attempts(vec![record]).await
    }
    /// Stores many attempts in one transaction, each moving its delivery (or run) on and
    /// creating what follows it.
    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> StoreResult<()>;
    /// Gives work `node` holds back without recording an attempt (shutdown, a deleted
    /// endpoint, a run waiting on a dependency): each id with the [`Lease::claim`] it is held
    /// under, and work held under another claim by now is left as it is. A run that was running
    /// is pending again, and with `due_at` the work falls due then.
    async fn release(
        &self,
        node: &str,
        work: Vec<(WorkId, i64)>,
        due_at: Option<Millis>,
    ) -> StoreResult<()>;
    /// Schedules one manual attempt of a message to an endpoint now, creating the delivery if
    /// the message never went there.
    async fn resend(&self, msg: &Message, endpoint: &Endpoint, now: Millis) -> StoreResult<()>;
    /// Schedules a manual attempt for each dead delivery (or run) of the target created in
    /// `[since, until)`: an endpoint's dead letters, or a handler's. Returns how many.
    async fn recover(
        &self,
        target: &Target,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<u64>;
    /// Dead deliveries and runs across apps and handlers that `filter` names, by when they
    /// died, newest first (see [`crate::dead`]).
    async fn list_dead_letters(
        &self,
        filter: DeadLetterFilter,
        page: DeadPage,
    ) -> StoreResult<Listed<DeadLetter>>;
    /// Makes up to `limit` of the dead deliveries and runs `filter` names due at `now` as
    /// manual attempts (the newest first when there are more), in one statement: of two calls
    /// at once, each row is recovered by one. Returns how many.
    async fn recover_dead_letters(
        &self,
        filter: DeadLetterFilter,
        now: Millis,
        limit: usize,
    ) -> StoreResult<u64>;
    /// Makes each of `msgs` (messages of `app`) due at `now` as a manual attempt to every
    /// endpoint where its delivery is dead or waiting to retry. Returns how many deliveries.
    async fn resend_failed(
        &self,
        app: &AppId,
        msgs: Vec<MessageId>,
        now: Millis,
    ) -> StoreResult<u64>;
    /// Work waiting to be attempted (pending or failed with a retry scheduled), deliveries and
    /// runs alike.
    async fn queue_depth(&self) -> StoreResult<i64> {
        Ok(self.queue_now().await?.depth)
    }

    // --- stats over time ---
    /// The buckets of `scope` of `width` starting in `[since, until)` in which anything was
    /// counted, ordered by start (empty buckets are not stored: see
    /// [`rustyhook_core::stats::fill`]).
    async fn stats_series(
        &self,
        scope: &Scope,
        width: Width,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<Bucket>>;
    /// The `limit` scopes of `kind` (`app`, `endpoint`, `handler` or `source`) with the most
    /// attempts in `width` buckets starting in `[since, until)`, most first, each with its
    /// counts merged over the window.
    async fn stats_top(
        &self,
        kind: &str,
        width: Width,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> StoreResult<Vec<(String, Counts)>>;
    /// The queue's depth and oldest waiting work now: one indexed aggregate.
    async fn queue_now(&self) -> StoreResult<QueueNow>;
    /// Reads [`Self::queue_now`] and records it in the server's buckets at `now` (gauges: the
    /// highest sample of a bucket stands). Called once a minute by one node.
    async fn stats_sample(&self, now: Millis) -> StoreResult<QueueNow>;
    /// Counts a broker message a source stored or found stored before (a rejected one is
    /// counted by [`Self::record_rejected`], in its transaction).
    async fn count_source(&self, source: &str, taken: SourceTaken, at: Millis) -> StoreResult<()>;
    /// Records that `lag` messages waited in the broker of `source` at `at`, as the depth of
    /// its buckets (a gauge: the highest sample of a bucket stands, so with several nodes
    /// measuring one source, the highest of theirs).
    async fn sample_source_lag(&self, source: &str, lag: u64, at: Millis) -> StoreResult<()>;
    /// Deletes the buckets of `width` that started before `before`. Returns how many went.
    async fn stats_purge(&self, width: Width, before: Millis) -> StoreResult<u64>;

    // --- background tasks ---
    /// Recovers the endpoint's dead deliveries created in `[since, until)` as
    /// [`Self::recover`] does, and records that as a finished `endpoint.recover` task of the
    /// endpoint's app, in one transaction. Returns the task; its data says how many.
    async fn recover_endpoint(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<BackgroundTask>;
    /// Svix's replay-missing: for each message of the endpoint's app created in
    /// `[since, until)` that its filters accept (as fan-out decides) but that has no delivery
    /// to it, creates one due at `now`, unleased and manual — for the oldest `limit` such
    /// messages (at most 999 999) — and records that as a finished `endpoint.replay` task, in
    /// one transaction. A message whose payload was expunged is left out. Returns the task;
    /// its data says how many. Calling again with the same window continues where a capped
    /// call stopped, since what it created is no longer missing.
    async fn replay_missing(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
        limit: usize,
    ) -> StoreResult<BackgroundTask>;
    /// Finds a background task by id.
    async fn get_task(&self, id: &str) -> StoreResult<Option<BackgroundTask>>;
    /// Lists background tasks by id (creation time), in the page's order.
    async fn list_tasks(
        &self,
        filter: TaskFilter,
        page: Page,
    ) -> StoreResult<Listed<BackgroundTask>>;
    /// Deletes background tasks created before `before` (Svix lists those of the past 90
    /// days). Returns how many went.
    async fn task_purge(&self, before: Millis) -> StoreResult<u64>;

    // --- attempts ---
    /// Lists attempts, newest first by default.
    async fn list_attempts(
        &self,
        app: &AppId,
        filter: AttemptFilter,
        page: Page,
    ) -> StoreResult<Listed<Attempt>>;
    /// Finds one attempt of a message.
    async fn get_attempt(&self, msg: &MessageId, id: &str) -> StoreResult<Option<Attempt>>;
    /// Deletes an attempt's stored response body.
    async fn expunge_attempt(&self, id: &AttemptId) -> StoreResult<()>;
    /// Attempts (of endpoints and handler runs alike) and endpoint changes past `query.after`,
    /// oldest first: what the live feed reads. A range scan of each table's primary key; at
    /// least `query.limit` entries come back when there may be more (see [`crate::feed`]).
    async fn feed(&self, query: FeedQuery) -> StoreResult<Vec<FeedEntry>>;
    /// Deletes the feed's endpoint changes made before `before`. Returns how many went.
    async fn feed_purge(&self, before: Millis) -> StoreResult<u64>;
    /// Puts a change of an endpoint's state that only a node knows (its circuit breaker
    /// opened or closed there) in the feed, with `detail` (the node's name); nothing when the
    /// endpoint is gone.
    async fn feed_endpoint_change(
        &self,
        endpoint_id: &EndpointId,
        change: &str,
        detail: &str,
        at: Millis,
    ) -> StoreResult<()>;

    // --- idempotency ---
    /// Claims an idempotency key, or reports the earlier request that used it. Keys older than
    /// `expire_before` are treated as unused; an unfinished one older than `stale_before` is
    /// taken over (its request died).
    async fn idempotency_begin(
        &self,
        key: &str,
        now: Millis,
        stale_before: Millis,
        expire_before: Millis,
    ) -> StoreResult<IdempotencyBegin>;
    /// Saves the response of the request that claimed `key`, sealed like a signing secret
    /// (a rotation's response carries the new secret).
    async fn idempotency_complete(&self, key: &str, status: u16, body: Vec<u8>) -> StoreResult<()>;
    /// Forgets a claimed key whose request failed in a way worth retrying.
    async fn idempotency_abandon(&self, key: &str) -> StoreResult<()>;
    /// Deletes keys created before `expire_before`: past their window they can only be taken
    /// over, so keeping them only keeps old responses around. Returns how many went.
    async fn idempotency_purge(&self, expire_before: Millis) -> StoreResult<u64>;

    // --- handler runs ---
    /// Stores new runs, leased to `lease_to` when given (for this node's runner).
    async fn create_runs(&self, runs: Vec<Run>, lease_to: Option<Lease>) -> StoreResult<()>;
    /// Finds a run by id.
    async fn get_run(&self, id: &str) -> StoreResult<Option<Run>>;
    /// Lists runs, of one handler or all, in one status or all (`Dead`: a handler's dead
    /// letters).
    async fn list_runs(
        &self,
        handler: Option<String>,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> StoreResult<Listed<Run>>;
    /// Lists a run's attempts.
    async fn list_run_attempts(&self, run: &RunId, page: Page) -> StoreResult<Listed<RunAttempt>>;
    /// Marks a leased run as running (`sending`).
    async fn start_run(&self, id: &RunId, now: Millis) -> StoreResult<()>;
    /// Whether any of `handlers` has a run queued, running or waiting to retry, other than
    /// `except`.
    async fn handlers_busy(&self, handlers: Vec<String>, except: &RunId) -> StoreResult<bool>;
    /// Runs not yet finished (queued, running or waiting to retry): `handler`'s, and all
    /// handlers' together. What a handler's backlog limit is held to.
    async fn count_open_runs(&self, handler: &str) -> StoreResult<OpenRuns>;
    /// Values exported by runs, by name.
    async fn exports(&self) -> StoreResult<Vec<(String, String)>>;

    /// Stores the runs of one scheduled tick, once: in one transaction, reads the metadata value
    /// `key` (the last tick stored); when it is absent, not an integer, or earlier than `tick`,
    /// sets it to `tick` and stores `runs` as [`Self::create_runs`] would, returning true;
    /// otherwise changes nothing and returns false. Two nodes that both believe they lead a
    /// schedule thus start its tick once.
    async fn create_tick_runs(
        &self,
        key: &str,
        tick: Millis,
        runs: Vec<Run>,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool>;

    /// Stores `run` at most once per `key` (a broker message's id, so that a redelivered message
    /// queues no second run): in one transaction, when a run stored under `key` is still kept,
    /// changes nothing and returns false; otherwise stores `run` as [`Self::create_runs`] would,
    /// with `key` naming it, and returns true. The key is forgotten when its run is deleted. Of
    /// two nodes storing under one key at once, exactly one stores its run.
    async fn create_keyed_run(
        &self,
        key: &str,
        run: Run,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool>;

    // --- several nodes ---
    /// Records that `node` is alive, by the database's clock. A node calls it on start, before
    /// it claims or creates leased work, and then well within the dead-node timeout. A backend
    /// used by one process only keeps nothing and answers `known: true`.
    async fn heartbeat(&self, node: &str) -> StoreResult<Beat>;
    /// Releases every delivery and run leased to a node whose last heartbeat is older than
    /// `timeout` by the database's clock, or that never sent one, as a restart releases its own leases (a run that
    /// was running is due again), and forgets those nodes. Returns how many deliveries and runs
    /// were released. Safe to call from several nodes at once. A backend used by one process
    /// only releases its leases on open instead, and returns 0 here.
    async fn release_dead_nodes(&self, timeout: Millis) -> StoreResult<u64>;
    /// A cheap check that the store can be used now, run every second by the health monitor:
    /// a round trip to the database, and where a full disk shows only on writes (SQLite), a
    /// small write. Errors are [`StoreError::Unavailable`] or [`StoreError::Full`] when so.
    async fn probe(&self) -> StoreResult<()>;
    /// Signals for work that another node made due, if the backend can tell (several nodes
    /// sharing a database); `None` when nothing but this process writes to the store.
    fn wakeups(&self) -> Option<Wakeups>;
    /// True while this node leads `name` (a cron schedule, a singleton task); call it every few
    /// seconds and act as leader only while it answers true. Leadership ends when the node
    /// stops or loses its connection, after which another node's call can win it. A backend
    /// used by one process always leads.
    async fn hold_leadership(&self, name: &str) -> StoreResult<bool>;

    // --- pauses ---
    /// Pauses what `pause` names. Pausing what is already paused changes nothing: the first
    /// pause (its time, reason and author) is kept and returned. On PostgreSQL the other nodes
    /// see it on their next claim.
    async fn pause(&self, pause: Pause) -> StoreResult<Pause>;
    /// Lifts the pause of `scope`'s `target` (empty for the server), returning it; `None` if
    /// it was not paused. What it held back is due again at once: on PostgreSQL the other
    /// nodes are woken to claim it.
    async fn resume(&self, scope: PauseScope, target: &str) -> StoreResult<Option<Pause>>;
    /// Every pause, by scope and target.
    async fn list_pauses(&self) -> StoreResult<Vec<Pause>>;
    /// The work `scope`'s `target` has waiting (for the server, all of it; for a source,
    /// nothing: its messages wait in the broker).
    async fn waiting(&self, scope: PauseScope, target: &str) -> StoreResult<Waiting>;

    // --- broker sources ---
    /// Keeps a rejected broker message, and counts it in its source's stats.
    async fn record_rejected(&self, rejected: RejectedMessage) -> StoreResult<()>;
    /// Lists rejected broker messages, of one source or all.
    async fn list_rejected(
        &self,
        source: Option<String>,
        page: Page,
    ) -> StoreResult<Listed<RejectedMessage>>;

    // --- operational events ---
    /// Queues operational events to be published (an alert firing). Events about a change the
    /// store makes (an endpoint created, a delivery gone dead, a run failed, a broker message
    /// rejected) are queued by the store itself, in that change's transaction.
    async fn queue_operational(&self, events: Vec<OperationalEvent>) -> StoreResult<()>;
    /// The oldest `limit` queued operational events, for the engine to publish.
    async fn pending_operational(&self, limit: usize) -> StoreResult<Vec<OperationalEvent>>;
    /// Forgets operational events once published.
    async fn forget_operational(&self, ids: Vec<MessageId>) -> StoreResult<()>;
    /// Disables every enabled endpoint that has failed every attempt since before
    /// `failing_before`, queuing `endpoint.disabled` for each in the same transaction. Of
    /// several nodes calling at once, one disables (and reports) a given endpoint. Returns the
    /// endpoints this call disabled.
    async fn disable_failing_endpoints(
        &self,
        failing_before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<EndpointRef>>;

    // --- alerts ---
    /// Stores a new alert rule; `Conflict` if its name is taken.
    async fn create_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule>;
    /// Finds an alert rule by id, with its firing count.
    async fn get_alert_rule(&self, id: &str) -> StoreResult<Option<AlertRule>>;
    /// Lists alert rules by id, each with its firing count.
    async fn list_alert_rules(&self, page: Page) -> StoreResult<Listed<AlertRule>>;
    /// Replaces a rule's fields; `NotFound` if it is gone, `Conflict` if the new name is taken.
    /// Its alerts are kept.
    async fn update_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule>;
    /// Deletes a rule with its alerts, firing or not; `NotFound` if there is no such rule.
    async fn delete_alert_rule(&self, id: &str) -> StoreResult<()>;
    /// Brings the rules of the config file in step with `rules`, in one transaction: each is
    /// created or updated by name (origin `config`), and config rules no longer listed are
    /// deleted with their alerts. `Conflict` when a name is taken by a rule made through the
    /// API.
    async fn sync_config_alert_rules(&self, rules: Vec<RuleSpec>, now: Millis) -> StoreResult<()>;
    /// Stores `alert` firing and queues `alert.fired` in the same transaction, unless its rule
    /// already has an alert firing for its subject (or the rule is gone): then nothing changes
    /// and this returns false. Of two nodes firing the same at once, one fires.
    async fn fire_alert(&self, alert: Alert) -> StoreResult<bool>;
    /// Marks the firing `alert` resolved at its `resolved_at` and queues `alert.resolved` (with
    /// `alert` as its data) in the same transaction, unless it is resolved already (or gone):
    /// then nothing changes and this returns false.
    async fn resolve_alert(&self, alert: Alert) -> StoreResult<bool>;
    /// Lists alerts, newest first by default.
    async fn list_alerts(&self, filter: AlertFilter, page: Page) -> StoreResult<Listed<Alert>>;
    /// Every alert firing now, oldest first.
    async fn firing_alerts(&self) -> StoreResult<Vec<Alert>>;
    /// Records what a node says of itself (called with each heartbeat), by the database's
    /// clock. On SQLite this node is the only one, and former starts of it are forgotten.
    async fn record_node(&self, node: NodeSeen) -> StoreResult<()>;
    /// The nodes sharing the store as last seen, with the database's time now.
    async fn list_nodes(&self) -> StoreResult<Nodes>;

    // --- API tokens ---
    /// Stores a new token; `Conflict` if its hash is taken (a token made twice).
    async fn create_token(&self, token: ApiToken) -> StoreResult<()>;
    /// Finds a token by the hex SHA-256 of its secret, revoked and expired ones included (the
    /// caller judges): one indexed lookup, made on every request such a token sends, so a
    /// revocation holds at once on every node.
    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;
    /// Finds a token by id.
    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>>;
    /// Lists tokens, revoked ones included.
    async fn list_tokens(&self, page: Page) -> StoreResult<Listed<ApiToken>>;
    /// Revokes a token at `now`; `NotFound` if there is no such token. Revoking twice keeps
    /// the first time.
    async fn revoke_token(&self, id: &str, now: Millis) -> StoreResult<()>;
    /// Records that a token was used at `now` (callers throttle this: it is a write).
    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()>;

    // --- audit log ---
    /// Appends entries to the audit log, in one transaction.
    async fn record_audit(&self, entries: Vec<AuditEntry>) -> StoreResult<()>;
    /// Lists the audit log, newest first by default.
    async fn list_audit(&self, filter: AuditFilter, page: Page) -> StoreResult<Listed<AuditEntry>>;
    /// Deletes entries made before `before`. Returns how many went.
    async fn audit_purge(&self, before: Millis) -> StoreResult<u64>;

    // --- installation metadata ---
    /// Reads a metadata value (such as the admin token's hash).
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Writes a metadata value.
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
}
