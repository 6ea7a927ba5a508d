//! Domain types and pure logic of rustyhook. Nothing here performs I/O: time and randomness are
//! passed in, so every rule can be tested exactly.
//!
//! # Layout
//! - [`alert`]: alert rules, their checks, and the alerts they fire and resolve.
//! - [`id`]: typed, prefixed, time-sortable ids (`app_…`, `ep_…`, `msg_…`, `atmpt_…`).
//! - [`names`]: validated names given by users: uids, event type names, channels.
//! - [`model`]: apps, endpoints, messages, deliveries and attempts as the store keeps them.
//! - [`filter`]: which endpoints a message fans out to.
//! - [`handlers`]: automation handlers: triggers, commands, routing and their checks.
//! - [`retry`]: the retry schedule, jitter and `Retry-After` handling.
//! - [`run`]: handler runs and their attempts, the automation side of the queue.
//! - [`operational`]: operational events (Svix's operational webhooks) and the reserved app.
//! - [`outcome`]: the stable codes that classify an attempt.
//! - [`signing`]: Standard Webhooks secrets and signatures.
//! - [`ratelimit`]: a GCRA limiter with time passed in.
//! - [`address`]: which network destinations are private, loopback or link-local.
//! - [`crypto`]: encryption of secrets at rest.
//! - [`settings`]: the server's settings schema and its validation.
//! - [`sources`]: broker sources (`sources:`) and the message formats they read.
//! - [`stats`]: stats over time: counts per time bucket, the latency histogram, percentiles.
//! - [`time`]: millisecond timestamps and their RFC 3339 form.

pub mod address;
pub mod alert;
pub mod crypto;
pub mod filter;
pub mod handlers;
pub mod id;
pub mod model;
pub mod names;
pub mod operational;
pub mod outcome;
pub mod ratelimit;
pub mod retry;
pub mod run;
pub mod settings;
pub mod signing;
pub mod sources;
pub mod stats;
pub mod time;
