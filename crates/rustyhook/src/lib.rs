//! The rustyhook binary's library half: everything `main` wires together, exposed so end-to-end
//! tests can start a real server in-process on port 0.
//!
//! # Layout
//! - [`cli`]: the command line.
//! - [`client`]: `pause`, `resume` and `status`, thin clients of a running server's API.
//! - [`config`]: reading `rustyhook.yaml` and environment overrides into validated settings.
//! - [`report`]: what `check` prints about the config and its handlers.
//! - [`selftest`]: `rustyhook test`, running the handlers' `tests:` cases.
//! - [`bootstrap`]: the data directory, the encryption key and the admin token.
//! - [`telemetry`]: logs and the metrics recorder.
//! - [`server`]: [`server::Application`]: bind, then run until stopped.
//! - [`listener`]: serving HTTP with header, idle and body timeouts and a connection cap.

pub mod bootstrap;
pub mod cli;
pub mod client;
pub mod config;
pub mod listener;
pub mod report;
pub mod selftest;
pub mod server;
pub mod telemetry;
