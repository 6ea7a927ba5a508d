//! Broker sources (`sources:`): what reads a broker and stores what it reads — a message for an
//! app (through [`Ingest`](crate::ingest::Ingest)) or a run of a handler — acknowledging each
//! broker message only once the outcome is durable. What starts handler runs from schedules,
//! folders, queues and plugins is in [`triggers`](crate::triggers).
//!
//! - [`brokers`]: starts a task per configured source: Redis streams, RabbitMQ, NATS JetStream.
//! - [`intake`]: what a source does with one message: store it or reject it.
//! - [`redis_stream`]: a Redis stream through a consumer group.
//! - [`sendhooks`]: sendhooks-engine's format and status stream.
//! - [`amqp`]: a RabbitMQ queue (`type: rabbitmq`), acked once stored or dead-lettered.
//! - [`amqp_message`]: what a RabbitMQ delivery is to the intake, and what a dead-lettered copy
//!   carries.
//! - [`nats`]: a NATS JetStream stream through a durable pull consumer.
//! - [`status`]: what each source of this node is doing, and its lag, for the API.
//! - [`lag`]: how many messages wait in each source's broker, measured every few seconds.

pub mod amqp;
pub mod amqp_message;
pub mod brokers;
pub mod intake;
pub mod lag;
pub mod nats;
pub mod redis_stream;
pub mod sendhooks;
pub mod status;
