//! End-to-end tests: a real server in-process on port 0 with a fresh data directory, talking
//! HTTP to a real receiver on port 0. Built twice: as `e2e` on SQLite, and as `e2e_postgres` on
//! a fresh PostgreSQL database per test.

mod alerts;
mod amqp;
mod api;
mod app_portal;
mod background_tasks;
mod breaker;
mod compat;
mod connections;
mod dashboard;
mod delivery;
mod fuzz;
mod handler_lanes;
mod handler_security;
mod handlers;
mod harness;
#[path = "../support/jetstream.rs"]
mod jetstream;
mod nats;
mod openapi_client;
mod operational;
mod pause;
mod pgdb;
#[path = "../support/proxy.rs"]
mod proxy;
mod rabbit;
mod receiver;
mod redis_source;
mod scheduled;
mod sdk_clients;
mod sdk_queries;
mod security;
mod sqs;
#[path = "../support/sse.rs"]
mod sse;
mod stats;
mod stream;
mod svix_details;
mod svix_sdk;
mod tokens;
mod triggers;
mod validation;
#[path = "../support/wait.rs"]
mod wait;
mod webhook_security;
