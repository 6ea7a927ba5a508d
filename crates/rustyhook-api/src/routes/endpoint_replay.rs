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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rustyhook_core::time::{Millis, now_millis, parse_rfc3339};
use rustyhook_store::TaskKind;
use serde::Deserialize;

use super::background_task::TaskOut;
use super::common::{load_app, load_endpoint};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::ApiState;

/// The most messages one replay-missing call sends: enough for any ordinary gap, small enough
/// that the call's one transaction stays short.
pub const REPLAY_MISSING_MAX: usize = 10_000;

/// The routes.
pub fn router() -> Router<ApiState> {
    let ep = "/api/v1/app/{app_id}/endpoint/{endpoint_id}";
    Router::new()
        .route(
            &format!("{ep}/recover"),
            post(|s, p, b| bulk(s, p, b, TaskKind::EndpointRecover)),
        )
        .route(
            &format!("{ep}/replay-missing"),
            post(|s, p, b| bulk(s, p, b, TaskKind::EndpointReplay)),
        )
}

/// A time window (Svix's `RecoverIn`, and `ReplayIn`, which has the same shape).
#[derive(Debug, Deserialize)]
pub(super) struct RecoverIn {
    since: String,
    #[serde(default)]
    until: Option<String>,
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
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
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
