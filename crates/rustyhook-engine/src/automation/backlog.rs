//! Bounds on runs waiting: per handler and over all handlers. A trigger past either is refused
//! before anything is stored, so a flood of requests (each with a body of up to the payload
//! limit) cannot fill the disk or the memory; what is queued waits in the store, and only its id
//! waits in memory.

use std::time::Duration;

use rustyhook_store::Store;

use super::TriggerError;

/// How long a refused sender is asked to wait before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The most runs not yet finished (queued, running or waiting to retry) that may exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Of one handler.
    pub per_handler: u64,
    /// Of all handlers together.
    pub total: u64,
}

impl Default for Backlog {
    /// The defaults of `limits.max_queued_runs_per_handler` and `limits.max_queued_runs`.
    fn default() -> Self {
        Self {
            per_handler: 100,
            total: 1000,
        }
    }
}

impl Backlog {
    /// `Ok` when one more run of `handler` fits; [`TriggerError::Backlogged`] otherwise.
    pub(crate) async fn admit(&self, store: &dyn Store, handler: &str) -> Result<(), TriggerError> {
        let open = store.count_open_runs(handler).await?;
        let full = if open.handler >= self.per_handler {
            Some(format!(
                "handler {handler:?} has {} runs waiting (limits.max_queued_runs_per_handler)",
                open.handler
            ))
        } else if open.total >= self.total {
            Some(format!(
                "{} handler runs are waiting (limits.max_queued_runs)",
                open.total
            ))
        } else {
            None
        };
        match full {
            None => Ok(()),
            Some(why) => {
                tracing::warn!(handler, "{why}; a trigger is refused");
                Err(TriggerError::Backlogged {
                    why,
                    retry_after: RETRY_AFTER,
                })
            }
        }
    }
}
