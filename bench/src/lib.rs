//! Shared pieces of rustyhook's benchmark tools (`receiver` and `loadgen` in `src/bin/`),
//! driven end to end by `bench/run.sh`.
//!
//! # Layout
//! - [`api`] — a minimal client for rustyhook's API and `/metrics`, and for the receiver.
//! - [`brokers`] — the source phase's brokers: a stream or queue of its own on each, publishing
//!   into it, and a bare consumer that reads and acknowledges it.
//! - [`drive`] — posting batches from concurrent clients and waiting for their deliveries.
//! - [`report`] — payload construction, clocks, percentiles and the `KEY=value` lines
//!   that `run.sh` sources.

pub mod api;
pub mod brokers;
pub mod drive;
pub mod report;
