//! `/metrics`: Prometheus text. Counters and histograms come from the recorder the binary
//! installs; the queue depth and the oldest pending age are read from the store at scrape
//! time, so they are right after a restart too. Unauthenticated, like most exporters: bind the listener accordingly.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustyhook_core::time::now_millis;

use crate::state::ApiState;

/// Renders the metrics.
pub async fn serve(State(state): State<ApiState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "no metrics recorder is installed").into_response();
    };
    match state.store.queue_now().await {
        Ok(queue) => {
            metrics::gauge!("rustyhook_queue_depth").set(queue.depth as f64);
            let oldest = queue.oldest_age(now_millis()).unwrap_or(0);
            metrics::gauge!("rustyhook_queue_oldest_pending_seconds").set(oldest as f64 / 1000.0);
        }
        Err(e) => tracing::warn!(error = %e, "could not read the queue depth"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
