//! Starting the in-process triggers: one task per handler whose trigger runs inside the server,
//! on every node or only while this node leads.

use std::future::Future;
use std::sync::Arc;

use rustyhook_core::handlers::{Handler, Trigger};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{cron, files, plugin, sqs};
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
