//! The end-to-end suite of `tests/e2e` again, each test on a fresh PostgreSQL database of its
//! own (the harness reads this target's name). The module list mirrors `tests/e2e/main.rs`.

#[path = "../e2e/alerts.rs"]
mod alerts;
#[path = "../e2e/amqp.rs"]
mod amqp;
#[path = "../e2e/api.rs"]
mod api;
#[path = "../e2e/app_portal.rs"]
mod app_portal;
#[path = "../e2e/background_tasks.rs"]
mod background_tasks;
#[path = "../e2e/breaker.rs"]
mod breaker;
#[path = "../e2e/compat.rs"]
mod compat;
#[path = "../e2e/connections.rs"]
mod connections;
#[path = "../e2e/dashboard.rs"]
mod dashboard;
#[path = "../e2e/delivery.rs"]
mod delivery;
#[path = "../e2e/fuzz.rs"]
mod fuzz;
#[path = "../e2e/handler_lanes.rs"]
mod handler_lanes;
#[path = "../e2e/handler_security.rs"]
mod handler_security;
#[path = "../e2e/handlers.rs"]
mod handlers;
#[path = "../e2e/harness.rs"]
mod harness;
#[path = "../support/jetstream.rs"]
mod jetstream;
#[path = "../e2e/nats.rs"]
mod nats;
#[path = "../e2e/openapi_client.rs"]
mod openapi_client;
#[path = "../e2e/operational.rs"]
mod operational;
#[path = "../e2e/pause.rs"]
mod pause;
#[path = "../e2e/pgdb.rs"]
mod pgdb;
#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../e2e/rabbit.rs"]
mod rabbit;
#[path = "../e2e/receiver.rs"]
mod receiver;
#[path = "../e2e/redis_source.rs"]
mod redis_source;
#[path = "../e2e/scheduled.rs"]
mod scheduled;
#[path = "../e2e/sdk_clients.rs"]
mod sdk_clients;
#[path = "../e2e/sdk_queries.rs"]
mod sdk_queries;
#[path = "../e2e/security.rs"]
mod security;
#[path = "../e2e/sqs.rs"]
mod sqs;
#[path = "../support/sse.rs"]
mod sse;
#[path = "../e2e/stats.rs"]
mod stats;
#[path = "../e2e/stream.rs"]
mod stream;
#[path = "../e2e/svix_details.rs"]
mod svix_details;
#[path = "../e2e/svix_sdk.rs"]
mod svix_sdk;
#[path = "../e2e/tokens.rs"]
mod tokens;
#[path = "../e2e/triggers.rs"]
mod triggers;
#[path = "../e2e/validation.rs"]
mod validation;
#[path = "../support/wait.rs"]
mod wait;
#[path = "../e2e/webhook_security.rs"]
mod webhook_security;
