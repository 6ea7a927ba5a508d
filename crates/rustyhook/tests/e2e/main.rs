//! End-to-end tests: a real server in-process on port 0 with a fresh data directory, talking
//! HTTP to a real receiver on port 0.

mod api;
mod compat;
mod delivery;
mod handlers;
mod harness;
mod receiver;
mod svix_sdk;
mod triggers;
mod validation;
