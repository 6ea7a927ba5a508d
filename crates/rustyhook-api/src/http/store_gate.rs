//! The store gate: while the store is known to be down, API requests are answered 503 at once
//! (with `Retry-After`) instead of each waiting for the database's own timeouts; while its disk
//! is full, requests that write are answered 507 at once and reads still go through. Answers
//! that show the store down or full tell the node's [`StoreHealth`] right away, so the gate
//! closes without waiting for the monitor's next probe; the probe opens it again.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustyhook_engine::health::{StoreHealth, StoreState};

use super::error::ApiError;

/// Applies the gate to the API's routes.
pub async fn store_gate(State(health): State<StoreHealth>, req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    match health.state() {
        StoreState::Down => {
            return ApiError::Store {
                state: StoreState::Down,
            }
            .into_response();
        }
        StoreState::Full if !reads => {
            return ApiError::Store {
                state: StoreState::Full,
            }
            .into_response();
        }
        _ => {}
    }
    let response = next.run(req).await;
    if let Some(seen) = response.extensions().get::<StoreState>() {
        health.saw(*seen);
    }
    response
}
