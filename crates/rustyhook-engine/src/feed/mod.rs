//! The live feed: attempts, dead letters, handler runs and endpoint changes as they happen,
//! for `GET /api/v1/stream`.
//!
//! # Design
//!
//! The feed is derived from the store, not published beside it. Every attempt (of an endpoint
//! delivery or of a handler run) is a row of `attempts`, written in the same transaction that
//! moves its delivery on, and attempt ids sort by creation time as plain bytes. So:
//!
//! - One [`Feed`] reader per node (not per client) follows `attempts` by id, the primary key,
//!   a few times a second while at least one client listens, and broadcasts each new row to
//!   this node's clients through one bounded ring ([`tokio::sync::broadcast`]). On PostgreSQL
//!   it reads the shared table, so a client on any node sees every node's attempts: cluster-
//!   correct by construction, with no `NOTIFY` payloads, no index and no write of its own.
//! - A row can become visible after a row with a later id (another node committed later, or
//!   its clock is a little behind). Every few polls the reader reads the last
//!   [`reader::LOOKBACK_MS`] again and broadcasts what it had not seen, remembering the ids it
//!   broadcast within that window.
//! - A client's position is an attempt id: the SSE `id:` of each event, which the client
//!   sends back as `Last-Event-ID` when it reconnects. A [`Subscription`] first reads from the
//!   store what lies past that position, then follows the ring, skipping what it already sent.
//!   Resuming thus works across reconnects, restarts and nodes alike.
//! - A client that reads too slowly does not make the ring grow: it misses ring entries, is
//!   told so (`lag`), and reads them again from the store, page by page; one that is more than
//!   [`subscription::MAX_CATCH_UP`] events behind is told to start over from now (`reset`).
//!
//! - Endpoint changes are rows of their own table, written in the change's transaction, with
//!   ids of the attempts' form: the store reads both past one cursor and merges them
//!   ([`rustyhook_store::FeedEntry`]), so everything above holds for them too.
//!
//! The other design, events published in memory after commit and carried to other nodes by
//! `NOTIFY`, would need a replay buffer per node for `Last-Event-ID` and could not resume
//! across a restart; the store already holds everything the feed shows.
//!
//! # Layout
//! - [`filter`]: what a client asked to see (app, endpoint, handler, outcome).
//! - [`reader`]: the node's one reader and its ring.
//! - [`subscription`]: one client's position: catch-up from the store, then the ring.

pub mod filter;
pub mod reader;
pub mod subscription;

pub use filter::{FeedFilter, OutcomeFilter};
pub use reader::Feed;
pub use subscription::{FeedItem, Subscription};
