//! Broker sources (`sources:`): each configured source runs as a task that reads its broker,
//! hands every message to its [`Intake`], and acknowledges it only once the intake has stored it
//! (or recorded it as rejected). Every node runs its sources; the brokers' consumer groups share
//! the messages between nodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::sources::{Broker, Format, SourceConfig};
use rustyhook_store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::amqp;
use super::intake::Intake;
use super::lag;
use super::nats;
use super::redis_stream;
use super::sendhooks::Sendhooks;
use super::status::SourceStates;
use crate::automation::Automation;

/// The sendhooks side of each `format: sendhooks` source, by source name: made before the
/// dispatcher starts, which reports finished deliveries to them (their status streams).
pub fn sendhooks(configs: &[SourceConfig], store: &Arc<dyn Store>) -> BTreeMap<String, Sendhooks> {
    configs
        .iter()
        .filter(|c| c.format == Format::Sendhooks)
        .filter_map(|c| match &c.broker {
            Broker::Redis(r) => Some((c.name(), Sendhooks::new(&c.name(), r, store.clone()))),
            _ => None,
        })
        .collect()
}

/// Starts a task on `tasks` for every source in `configs`, reading as `consumer` (this node's
/// name) where the broker asks for one, and another measuring its [`lag`]; each keeps its
/// state in `states`. They stop when `token` is cancelled.
pub fn start(
    tasks: &TaskTracker,
    configs: &[SourceConfig],
    sendhooks: &BTreeMap<String, Sendhooks>,
    automation: &Automation,
    states: &SourceStates,
    consumer: &str,
    token: &CancellationToken,
) {
    for config in configs {
        let intake = Intake::new(config.clone(), automation.clone(), states.clone());
        crate::observe::source_started(intake.name());
        tasks.spawn(lag::watch(
            config.clone(),
            states.clone(),
            automation.store(),
            token.clone(),
        ));
        match &config.broker {
            Broker::Redis(cfg) => {
                let sendhooks = sendhooks.get(intake.name()).cloned();
                tasks.spawn(redis_stream::run(
                    cfg.clone(),
                    intake,
                    sendhooks,
                    consumer.to_owned(),
                    token.clone(),
                ));
            }
            Broker::Nats(cfg) => {
                tasks.spawn(nats::run(cfg.clone(), intake, token.clone()));
            }
            Broker::Rabbitmq(cfg) => {
                tasks.spawn(amqp::run(cfg.clone(), intake, token.clone()));
            }
        }
    }
}
