//! Health, answered from the store monitor's last probe (at most a second old), so a probe
//! never waits on the database. No auth.
//!
//! - `/api/v1/health/ping`: liveness. 204 while the process serves HTTP at all; restart the
//!   process only when this fails.
//! - `/api/v1/health`: Svix's health route. 204 while the store can be read and written, 503
//!   while it cannot (down or full).
//! - `/api/v1/health/ready`: readiness, for a load balancer. 200 with the store's state, or 503
//!   with `Retry-After` and what is wrong, while the database cannot be reached or its disk is
//!   full.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustyhook_engine::health::StoreState;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::ApiState;

/// The health routes (a `GET` route answers `HEAD` too).
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ping))
        .routes(routes!(ready))
}

/// Health
///
/// 204 while the store can be read and written. No token needed.
#[utoipa::path(get, path = "/api/v1/health", tag = "Health", operation_id = "v1.health.get",
    responses((status = 204, description = "healthy"),
        (status = 503, description = "the store cannot be reached, or its disk is full")))]
async fn health(State(state): State<ApiState>) -> StatusCode {
    match state.health.state() {
        StoreState::Up => StatusCode::NO_CONTENT,
        StoreState::Down | StoreState::Full => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Ping
///
/// 204 while the process serves HTTP at all (liveness). No token needed.
#[utoipa::path(get, path = "/api/v1/health/ping", tag = "Health", operation_id = "v1.health.ping",
    responses((status = 204, description = "alive")))]
async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// What the readiness route answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Readiness {
    /// Whether this node can take requests now.
    ready: bool,
    /// `up`, `down` or `full`.
    store: &'static str,
    /// For how long the store has been in that state, in milliseconds.
    store_since_ms: u64,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Readiness
///
/// Whether this node can take requests now, for a load balancer. No token needed.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "Health", operation_id = "v1.health.ready",
    responses((status = 200, body = Readiness, description = "ready"),
        (status = 503, body = Readiness, description = "not ready: see `detail`")))]
async fn ready(State(state): State<ApiState>) -> Response {
    let (store, since, last_error) = state.health.get();
    let ready = store == StoreState::Up;
    let detail = match store {
        StoreState::Up => None,
        StoreState::Down => Some(format!(
            "the database cannot be reached{}",
            last_error.map(|e| format!(": {e}")).unwrap_or_default()
        )),
        StoreState::Full => Some(
            "the store's disk is full: requests that write are refused with 507 until space is freed"
                .to_owned(),
        ),
    };
    let body = Json(Readiness {
        ready,
        store: store.as_str(),
        store_since_ms: since.as_millis() as u64,
        detail,
    });
    if ready {
        (StatusCode::OK, body).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            body,
        )
            .into_response()
    }
}
