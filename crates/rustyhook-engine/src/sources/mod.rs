//! Triggers that run inside the server: cron schedules, watched folders, plugin processes and
//! SQS queues (webhooks arrive through the API's listener). Each turns
//! what it sees into runs through [`Automation::trigger`], which returns once the run is stored.
//!
//! - [`cron`]: ticks of a cron schedule, with the misfire policy after downtime.
//! - [`files`]: debounced batches of file changes, filtered relative to the watched folder.
//! - [`plugin`]: a long-lived child process whose JSON lines are events.
//! - [`sqs`]: an SQS queue, long-polled, each message deleted once its run is stored.
//! - [`sqs_client`]: the small SQS client it uses (AWS JSON protocol, SigV4 signing).

pub mod cron;
pub mod files;
pub mod plugin;
pub mod sqs;
pub mod sqs_client;

use rustyhook_core::handlers::Trigger;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::automation::Automation;

/// Starts a task for every handler whose trigger runs in-process. They stop when `token` is
/// cancelled; wait for them with the returned tracker.
pub fn start(automation: &Automation, token: &CancellationToken) -> TaskTracker {
    let tasks = TaskTracker::new();
    for h in automation.handlers().iter() {
        let (a, t, h) = (automation.clone(), token.clone(), h.clone());
        match &h.trigger {
            Trigger::Cron(_) => {
                tasks.spawn(cron::run(a, h, t));
            }
            Trigger::Filesystem(_) => {
                tasks.spawn(files::run(a, h, t));
            }
            Trigger::Plugin { .. } => {
                tasks.spawn(plugin::run(a, h, t));
            }
            Trigger::Sqs(_) => {
                tasks.spawn(sqs::run(a, h, t));
            }
            _ => {}
        }
    }
    tasks.close();
    tasks
}
