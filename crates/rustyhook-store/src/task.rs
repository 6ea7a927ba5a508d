//! Background tasks (Svix's `BackgroundTaskOut`): the record of a bulk operation on an
//! endpoint — a recover or a replay — kept so its outcome can be fetched by id later. Both
//! operations run within the request that asks for them, in one transaction, so a task is
//! stored already finished, with what it did in `data`.

use rustyhook_core::id::{AppId, TaskId};
use rustyhook_core::time::Millis;

/// What a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Dead deliveries of an endpoint made due again (`POST …/recover`).
    EndpointRecover,
    /// Messages an endpoint never got sent to it (`POST …/replay-missing`).
    EndpointReplay,
}

impl TaskKind {
    /// Svix's name for the kind (`BackgroundTaskType`), in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointRecover => "endpoint.recover",
            Self::EndpointReplay => "endpoint.replay",
        }
    }

    /// The kind named `name`, if rustyhook records it.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "endpoint.recover" => Some(Self::EndpointRecover),
            "endpoint.replay" => Some(Self::EndpointReplay),
            _ => None,
        }
    }
}

/// Where a task is (Svix's `BackgroundTaskStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Still at work.
    Running,
    /// Done; `data` says what it did.
    Finished,
    /// Gave up.
    Failed,
}

impl TaskStatus {
    /// Svix's name for the status, in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    /// The status named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "running" => Some(Self::Running),
            "finished" => Some(Self::Finished),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One background task.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundTask {
    /// `qtask_…`, sortable by creation time: the list's cursor.
    pub id: TaskId,
    /// The app whose endpoint it worked on: an app's token sees only its app's tasks, and the
    /// tasks go with the app.
    pub app_id: AppId,
    /// What it did.
    pub kind: TaskKind,
    /// Where it is.
    pub status: TaskStatus,
    /// What it did, as a JSON object (`{"recovered": 3, "messagesSent": 3}`).
    pub data: serde_json::Map<String, serde_json::Value>,
    /// When it was asked for.
    pub created_at: Millis,
    /// When its status last changed.
    pub updated_at: Millis,
}

/// Filters for listing background tasks.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only this app's tasks (what an app's token is held to).
    pub app_id: Option<AppId>,
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
    /// Only tasks of this kind.
    pub kind: Option<TaskKind>,
}
