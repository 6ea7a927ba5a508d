//! rustyhook's HTTP API: every route of Svix's server API under `/api/v1`, plus health, metrics
//! and the OpenAPI document.
//!
//! # Layout
//! - [`dashboard`]: the web dashboard (`web/`, built and embedded), at `/`.
//! - [`http`]: shared plumbing: errors, extractors, pagination, auth, idempotency keys.
//! - [`routes`]: one module per resource (`app`, `endpoint`, `message`, `attempt`, `event_type`,
//!   `background_task`, `health`, …), each exporting `router()`, an `OpenApiRouter` of
//!   documented handlers; [`routes::router`] assembles them.
//! - [`openapi`]: the document served at `/api/v1/openapi.json`, generated from those
//!   handlers and their types; its top says how to add a route.
//! - [`metrics`]: the Prometheus exposition at `/metrics`.
//! - [`state`]: what handlers share.
//! - [`hooks`]: inbound webhooks for handlers (the webhook trigger): `/hooks/{handler-id}` and
//!   handlers' own ports, each request queued as a run.

pub mod dashboard;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

pub use routes::{router, worker_router};
pub use state::{ApiState, Services};
