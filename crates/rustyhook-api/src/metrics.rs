//! `/metrics`: Prometheus text. Counters and histograms come from the recorder the binary
//! installs; the queue depth is read from the store at scrape time, so it is right after a
//! restart too. Unauthenticated, like most exporters: bind the listener accordingly.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::ApiState;

/// Renders the metrics.
pub async fn serve(State(state): State<ApiState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "no metrics recorder is installed").into_response();
    };
    match state.store.queue_depth().await {
        Ok(depth) => metrics::gauge!("rustyhook_queue_depth").set(depth as f64),
        Err(e) => tracing::warn!(error = %e, "could not read the queue depth"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
