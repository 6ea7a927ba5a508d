//! rustyhook's durable store. Everything the engine and API remember goes through the [`Store`]
//! trait; all SQL lives in this crate.
//!
//! # Layout
//! - [`Store`]: the trait, and the request/response types its methods use.
//! - [`access`]: API tokens with roles, and the audit log of writes.
//! - [`alert`]: alert rules, the alerts they fire once and resolve once, and the node list.
//! - [`feed`]: what the live feed reads: attempts past a cursor.
//! - `operational`: which operational events a change makes, decided alike for both backends,
//!   which queue them in an outbox in the change's transaction.
//! - [`page`]: keyset pagination shared by every list.
//! - [`pause`]: pauses of the server, an app, an endpoint, a handler or a source, and the
//!   claim filter that honours them.
//! - `query`: the keyset-paginated list query and the list filters, written once for both
//!   backends.
//! - `rows`: reading rows into records, shared by both backends (each answers `Columns`).
//! - `rules`: the decisions both backends make alike (fan-out, statistics, idempotency, ticks,
//!   finished background tasks).
//! - `stats`: stats over time, folded into per-bucket increments written with the writes
//!   they count.
//! - [`task`]: background tasks (a recover, a replay), kept so their outcome can be fetched.
//! - [`sqlite`]: the embedded implementation (WAL, one writer thread with group commits), for
//!   one process.
//! - [`postgres`]: the shared implementation (a connection pool, `SKIP LOCKED` claims,
//!   heartbeats, `LISTEN`/`NOTIFY` wake-ups, advisory-lock leadership), for several nodes.

pub mod access;
pub mod alert;
pub mod feed;
mod operational;
pub mod page;
pub mod pause;
pub mod postgres;
mod query;
mod rows;
mod rules;
pub mod sqlite;
mod stats;
mod store;
pub mod task;

pub use access::{ApiToken, AuditEntry, AuditFilter, TokenRole};
pub use alert::{AlertFilter, NodeRow, NodeSeen, Nodes};
pub use feed::{FeedQuery, FeedRow, FeedTarget};
pub use page::{Cursor, Order, Page};
pub use pause::{Pause, PauseScope, Waiting};
pub use stats::SourceTaken;
pub use store::*;
pub use task::{BackgroundTask, TaskFilter, TaskKind, TaskStatus};
