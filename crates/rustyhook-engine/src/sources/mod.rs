//! Triggers that run inside the server: cron schedules, watched folders, plugin processes and
//! SQS queues (webhooks arrive through the API's listener). Each turns
//! what it sees into runs through [`Automation::trigger`], which returns once the run is stored.
//!
//! - [`amqp`]: a RabbitMQ queue (`sources:` `type: rabbitmq`), acked once stored or
//!   dead-lettered.
//! - [`amqp_message`]: what a RabbitMQ delivery is to the intake, and what a dead-lettered copy
//!   carries.
//! - [`brokers`]: broker sources (`sources:`): Redis streams, RabbitMQ, NATS JetStream.
//! - [`cron`]: ticks of a cron schedule, with the misfire policy after downtime.
//! - [`files`]: debounced batches of file changes, filtered relative to the watched folder.
//! - [`intake`]: what broker sources (`sources:`) do with a message: store it or reject it.
//! - [`redis_stream`]: a Redis stream through a consumer group.
//! - [`sendhooks`]: sendhooks-engine's format and status stream.
//! - [`nats`]: a NATS JetStream stream through a durable pull consumer.
//! - [`plugin`]: a long-lived child process whose JSON lines are events.
//! - [`sqs`]: an SQS queue, long-polled, each message deleted once its run is stored.
//! - [`sqs_client`]: the small SQS client it uses (AWS JSON protocol, SigV4 signing).

pub mod amqp;
pub mod amqp_message;
pub mod brokers;
pub mod cron;
pub mod files;
pub mod intake;
pub mod nats;
pub mod plugin;
pub mod redis_stream;
pub mod sendhooks;
pub mod sqs;
pub mod sqs_client;

use std::future::Future;
use std::sync::Arc;

use rustyhook_core::handlers::{Handler, Trigger};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::automation::Automation;
use crate::cluster::Leader;

/// Starts a task for every handler whose trigger runs in-process. Cron schedules run on every
/// node and fire on the leader; a handler marked `cluster: {mode: leader}` runs its trigger only
/// while this node leads. They stop when `token` is cancelled; wait for them with the returned
/// tracker.
pub fn start(automation: &Automation, leader: &Leader, token: &CancellationToken) -> TaskTracker {
    let tasks = TaskTracker::new();
    for h in automation.handlers().iter() {
        let a = automation.clone();
        match &h.trigger {
            Trigger::Cron(_) => {
                tasks.spawn(cron::run(a, h.clone(), leader.clone(), token.clone()));
            }
            Trigger::Filesystem(_) => {
                spawn(&tasks, h, leader, token, move |h, t| {
                    files::run(a.clone(), h, t)
                });
            }
            Trigger::Plugin { .. } => {
                spawn(&tasks, h, leader, token, move |h, t| {
                    plugin::run(a.clone(), h, t)
                });
            }
            Trigger::Sqs(_) => {
                spawn(&tasks, h, leader, token, move |h, t| {
                    sqs::run(a.clone(), h, t)
                });
            }
            _ => {}
        }
    }
    tasks
}

/// Runs `source` for `handler`: always, or only while this node leads if the handler says so.
fn spawn<F, Fut>(
    tasks: &TaskTracker,
    handler: &Arc<Handler>,
    leader: &Leader,
    token: &CancellationToken,
    source: F,
) where
    F: Fn(Arc<Handler>, CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (h, t) = (handler.clone(), token.clone());
    if !h.leader_only {
        tasks.spawn(source(h, t));
        return;
    }
    let mut leader = leader.clone();
    tasks.spawn(async move {
        loop {
            tokio::select! {
                () = t.cancelled() => return,
                leads = leader.acquired() => if !leads { return },
            }
            tracing::info!(handler = %h.id, "leading: starting the trigger");
            let stop = t.child_token();
            let running = tokio::spawn(source(h.clone(), stop.clone()));
            tokio::select! {
                () = t.cancelled() => {}
                () = leader.lost() => {
                    tracing::info!(handler = %h.id, "no longer leading: stopping the trigger");
                }
            }
            stop.cancel();
            let _ = running.await;
        }
    });
}
