//! Broker sources (`sources:`): each configured source runs as a task that reads its broker,
//! hands every message to its [`Intake`], and acknowledges it only once the intake has stored it
//! (or recorded it as rejected). Every node runs its sources; the brokers' consumer groups share
//! the messages between nodes.

use rustyhook_core::sources::{Broker, SourceConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::amqp;
use super::intake::Intake;
use crate::automation::Automation;

/// Starts a task on `tasks` for every source in `configs`; they stop when `token` is cancelled.
pub fn start(
    tasks: &TaskTracker,
    configs: &[SourceConfig],
    automation: &Automation,
    token: &CancellationToken,
) {
    for config in configs {
        let intake = Intake::new(config.clone(), automation.clone());
        match &config.broker {
            Broker::Rabbitmq(cfg) => {
                tasks.spawn(amqp::run(cfg.clone(), intake, token.clone()));
            }
            Broker::Redis(_) | Broker::Nats(_) => {
                // Refused by `SourceConfig::check` until its reader is built.
                let _ = (intake, token, tasks);
            }
        }
    }
}
