//! Health: `/api/v1/health` answers 204 when the store answers, 503 when it does not. No auth.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::state::ApiState;

/// The health routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/health", get(health).head(health))
        .route("/api/v1/health/ping", get(ping).head(ping))
}

async fn health(State(state): State<ApiState>) -> StatusCode {
    match state.store.get_meta("schema").await {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
