//! Svix's background tasks: `GET /api/v1/background-task` (filtered by `status` and `task`,
//! newest first unless `order` says otherwise) and `GET /api/v1/background-task/{task_id}`.
//! A task records an endpoint's recover or replay-missing (see [`super::endpoint_replay`]),
//! which run within their request, so every task is `finished` with what it did in `data`.
//! A token limited to one app sees only that app's tasks; another app's task is a 404.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use rustyhook_core::id::TaskId;
use rustyhook_core::time::to_rfc3339;
use rustyhook_store::{BackgroundTask, Order, TaskFilter, TaskKind, TaskStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(fetch))
}

const TAG: &str = "Background Task";

/// Svix's `BackgroundTaskType`s that rustyhook never records: a filter on one of them is valid
/// and matches nothing.
const NEVER_RECORDED: &[&str] = &[
    "application.stats",
    "message.broadcast",
    "sdk.generate",
    "event-type.aggregate",
    "application.purge_content",
    "endpoint.bulk-replay",
];

/// What `POST …/recover` and `POST …/replay-missing` answer (Svix's `RecoverOut` and
/// `ReplayOut`): the task, without its data.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOut {
    id: String,
    /// `running`, `finished` or `failed`.
    status: &'static str,
    /// What the task does: `endpoint.recover` or `endpoint.replay`.
    task: &'static str,
    updated_at: String,
}

impl From<&BackgroundTask> for TaskOut {
    fn from(t: &BackgroundTask) -> Self {
        Self {
            id: t.id.to_string(),
            status: t.status.as_str(),
            task: t.kind.as_str(),
            updated_at: to_rfc3339(t.updated_at),
        }
    }
}

/// Svix's `BackgroundTaskOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackgroundTaskOut {
    #[serde(flatten)]
    task: TaskOut,
    /// What the task did, such as how many messages it made due.
    #[schema(value_type = Object)]
    data: serde_json::Map<String, serde_json::Value>,
}

impl From<BackgroundTask> for BackgroundTaskOut {
    fn from(t: BackgroundTask) -> Self {
        Self {
            task: TaskOut::from(&t),
            data: t.data,
        }
    }
}

/// The list's query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TaskParams {
    #[serde(flatten)]
    #[param(ignore)]
    list: ListParams,
    /// Only tasks in this state: `running`, `finished` or `failed`.
    status: Option<String>,
    /// Only tasks of this type (Svix's `BackgroundTaskType`).
    task: Option<String>,
}

/// List Background Tasks
#[utoipa::path(get, path = "/api/v1/background-task", tag = TAG,
    operation_id = "v1.background-task.list", params(ListParams, TaskParams),
    responses((status = 200, body = ListResponse<BackgroundTaskOut>)))]
async fn list(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    QueryParams(params): QueryParams<TaskParams>,
) -> ApiResult<Json<ListResponse<BackgroundTaskOut>>> {
    let page = params
        .list
        .page(Order::Descending, |k| TaskId::parse(k).is_some())?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            TaskStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    &["query", "status"],
                    format!("{s:?} is not a task status: running, finished or failed"),
                )
            })
        })
        .transpose()?;
    let kind = match params.task.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) if NEVER_RECORDED.contains(&t) => {
            return Ok(Json(ListResponse {
                data: Vec::new(),
                iterator: None,
                prev_iterator: None,
                done: true,
            }));
        }
        Some(t) => Some(TaskKind::parse(t).ok_or_else(|| {
            ApiError::invalid(
                &["query", "task"],
                format!("{t:?} is not a task type: endpoint.recover, endpoint.replay, …"),
            )
        })?),
    };
    let filter = TaskFilter {
        app_id: principal.as_ref().and_then(|p| p.app_scope()).cloned(),
        status,
        kind,
    };
    let listed = state.store.list_tasks(filter, page).await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |t| t.id.to_string(),
        BackgroundTaskOut::from,
    )))
}

/// Get Background Task
#[utoipa::path(get, path = "/api/v1/background-task/{task_id}", tag = TAG,
    operation_id = "v1.background-task.get",
    responses((status = 200, body = BackgroundTaskOut)))]
async fn fetch(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<BackgroundTaskOut>> {
    let scope = principal.as_ref().and_then(|p| p.app_scope());
    let task = state
        .store
        .get_task(&task_id)
        .await?
        // Another app's task is not the caller's business: the same 404 as a missing one.
        .filter(|t| scope.is_none_or(|own| *own == t.app_id))
        .ok_or_else(|| ApiError::not_found("background task"))?;
    Ok(Json(task.into()))
}
