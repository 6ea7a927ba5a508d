//! rustyhook's engine: takes messages in, stores them with their deliveries, sends those to their
//! targets, and records every attempt.
//!
//! # Layout
//! - [`alerts`]: the alert rules measured every interval by the leading node, each alert
//!   fired once and resolved once through the store.
//! - [`ingest`]: creating a message (fan-out, idempotency by `eventId`, hand-over to this node's
//!   dispatcher), for the API, broker sources and handlers' `publish:` alike.
//! - [`config`]: the engine's settings, built from the server's.
//! - [`targets`]: where deliveries go: [`targets::http`] (signed webhooks) with its SSRF-safe
//!   resolver, and [`targets::command`] (handler commands).
//! - [`dispatcher`]: the one queue in memory, for deliveries to endpoints and handler runs
//!   alike: a lane per target (an endpoint's rate limit and max in flight, a handler's
//!   `run_rate` and `concurrency`), the one poller that claims work falling due, the recorder
//!   that writes attempts in batches, and `decide`, which turns any attempt's result into the
//!   next state under the one retry policy type.
//! - [`feed`]: the live feed of attempts, dead letters and runs, read from the store by one
//!   reader per node and fanned out to clients through a bounded ring.
//! - [`automation`]: what a handler means on that queue: starting runs (triggers, keys, ticks,
//!   backlog limits), and the [`automation::Executor`] that runs a step (dependencies, the
//!   command, routes, publish) and says what follows (forwards, `on_success`/`on_failure`,
//!   exports).
//! - [`sources`]: brokers that store messages (or runs): Redis streams (and sendhooks-engine's
//!   format), RabbitMQ, NATS JetStream, each acknowledged once what it read is stored.
//! - [`triggers`]: what starts handler runs in-process: cron, watched folders, SQS, plugins
//!   (inbound webhooks are the API crate's `hooks`).
//! - [`cluster`]: several nodes: liveness and the fence that stops a node that cannot
//!   heartbeat, schedule leadership, rate limits shared via Redis.
//! - [`health`]: the store's health (up, down, full), probed every second, and the retrying
//!   write that keeps results in memory until the store takes them.
//! - [`operational`]: operational webhooks: publishing the events the store queues as messages
//!   of the operational app, disabling endpoints that fail too long, syncing the config's
//!   operator endpoints.
//! - [`observe`]: the metrics the engine emits, named in one place.
//! - [`pauses`]: this node's view of the pauses in the store, for work already in memory and
//!   for broker sources (the store's claim leaves paused work out by itself).
//! - [`stats`]: the queue sampled once a minute into the stats over time (the rest is counted
//!   by the store, with the writes it counts).

pub mod alerts;
pub mod automation;
pub mod cluster;
pub mod config;
pub mod dispatcher;
pub mod feed;
pub mod health;
pub mod ingest;
pub mod observe;
pub mod operational;
pub mod pauses;
pub mod sources;
pub mod stats;
pub mod targets;
pub mod triggers;

pub use config::EngineConfig;
pub use dispatcher::{Dispatcher, Job};
pub use ingest::Ingest;
