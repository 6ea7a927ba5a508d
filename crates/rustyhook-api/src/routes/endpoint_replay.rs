//! Sending an endpoint's messages again in bulk, each recorded as a background task
//! ([`super::background_task`]) that can be fetched by id afterwards:
//!
//! - `POST …/endpoint/{endpoint_id}/recover` makes the endpoint's dead deliveries created in
//!   `[since, until)` due again (Svix's recover).
//! - `POST …/endpoint/{endpoint_id}/replay-missing` sends the endpoint every message of its
//!   app created in `[since, until)` that its filters accept but that it never got, such as
//!   those sent before it existed (Svix's replay-missing). One call replays at most
//!   [`REPLAY_MISSING_MAX`] messages, the oldest first; calling again with the same window
//!   continues, since what was replayed is no longer missing.
//!
//! Both do their work in one statement inside the request, so they answer `202` with the task
//! already `finished`; the deliveries they made due are then sent like any other, as manual
//! attempts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::time::{Millis, now_millis, parse_rfc3339};
use rustyhook_store::TaskKind;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::background_task::TaskOut;
use super::common::{load_app, load_endpoint};
use super::endpoint::TAG;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::ApiState;

/// The most messages one replay-missing call sends: enough for any ordinary gap, small enough
/// that the call's one transaction stays short.
pub const REPLAY_MISSING_MAX: usize = 10_000;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(recover))
        .routes(routes!(replay_missing))
}

/// A time window (Svix's `RecoverIn`, and `ReplayIn`, which has the same shape).
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RecoverIn {
    /// The window's start (RFC 3339), included.
    since: String,
    /// The window's end (RFC 3339), excluded; now when absent.
    #[serde(default)]
    until: Option<String>,
}

type Answer = ApiResult<(StatusCode, Json<TaskOut>)>;

/// Recover Failed Webhooks
///
/// Makes the endpoint's dead deliveries created in the window due again.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = TAG,
    operation_id = "v1.endpoint.recover", request_body = RecoverIn,
    responses((status = 202, body = TaskOut, description = "done: the task is `finished`")))]
async fn recover(
    state: State<ApiState>,
    path: Path<(String, String)>,
    body: JsonBody<RecoverIn>,
) -> Answer {
    bulk(state, path, body, TaskKind::EndpointRecover).await
}

/// Replay Missing Webhooks
///
/// Sends the endpoint every message of the window that its filters accept but that it never
/// got, at most 10 000 per call, the oldest first.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing", tag = TAG,
    operation_id = "v1.endpoint.replay-missing", request_body = RecoverIn,
    responses((status = 202, body = TaskOut, description = "done: the task is `finished`")))]
async fn replay_missing(
    state: State<ApiState>,
    path: Path<(String, String)>,
    body: JsonBody<RecoverIn>,
) -> Answer {
    bulk(state, path, body, TaskKind::EndpointReplay).await
}

impl RecoverIn {
    /// The window `[since, until)` as milliseconds.
    pub(super) fn window(&self) -> ApiResult<(Millis, Option<Millis>)> {
        let since = parse_rfc3339(&self.since).ok_or_else(|| {
            ApiError::invalid(&["body", "since"], "since must be an RFC 3339 date-time")
        })?;
        let until = match self.until.as_deref() {
            Some(u) => Some(parse_rfc3339(u).ok_or_else(|| {
                ApiError::invalid(&["body", "until"], "until must be an RFC 3339 date-time")
            })?),
            None => None,
        };
        Ok((since, until))
    }
}

/// Runs a recover or a replay of the endpoint over the body's window, wakes the dispatcher for
/// the deliveries it made due, and answers with its task.
async fn bulk(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RecoverIn>,
    kind: TaskKind,
) -> Answer {
    let (since, until) = body.window()?;
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let (store, now) = (&state.store, now_millis());
    let task = match kind {
        TaskKind::EndpointRecover => store.recover_endpoint(&e, since, until, now).await?,
        TaskKind::EndpointReplay => {
            store
                .replay_missing(&e, since, until, now, REPLAY_MISSING_MAX)
                .await?
        }
    };
    tracing::info!(endpoint_id = %e.id, task = %task.id, kind = kind.as_str(), data = ?task.data, "background task finished");
    state.dispatcher.wake();
    Ok((StatusCode::ACCEPTED, Json(TaskOut::from(&task))))
}
