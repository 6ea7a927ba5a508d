//! The HTTP plumbing every route shares: errors in Svix's shapes, extractors that reject bad
//! input with field-level detail, pagination, authentication, per-token rate limits and idempotency keys.

pub mod access;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod list;
pub mod query;
pub mod ratelimit;
pub mod retention;
pub mod store_gate;
