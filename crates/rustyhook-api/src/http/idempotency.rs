//! `idempotency-key` on POST requests, as Svix does it: the first request with a key runs and its
//! answer is saved; a repeat within 12 hours gets the saved answer byte for byte and changes
//! nothing; a repeat while the first still runs waits for it. A 5xx answer is not saved, so the
//! client's retry runs again. Keys are scoped by token and URL. Saved answers are sealed by the
//! store, and [`super::retention`] deletes them once their window has passed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustyhook_core::time::now_millis;
use rustyhook_store::{IdempotencyBegin, Store};
use sha2::{Digest, Sha256};

use super::auth::bearer;
use super::error::ApiError;

/// How long a key's answer is replayed.
pub const KEEP: Duration = Duration::from_secs(12 * 60 * 60);
/// How often expired keys are deleted.
/// A started key older than this belongs to a request that died; a repeat takes it over.
const STALE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(20);
const MAX_SAVED_BODY: usize = 4 * 1024 * 1024;

/// Applies idempotency keys to POST requests that carry one.
pub async fn idempotency(
    State(store): State<Arc<dyn Store>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(user_key) = req.headers().get("idempotency-key").cloned() else {
        return next.run(req).await;
    };
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = {
        let mut h = Sha256::new();
        h.update(bearer(&req).unwrap_or_default().as_bytes());
        h.update(b"\n");
        h.update(user_key.as_bytes());
        h.update(b"\n");
        h.update(req.uri().path().trim_end_matches('/').as_bytes());
        hex::encode(h.finalize())
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = now_millis();
        let begin = store
            .idempotency_begin(
                &key,
                now,
                now - STALE.as_millis() as i64,
                now - KEEP.as_millis() as i64,
            )
            .await;
        match begin {
            Ok(IdempotencyBegin::Started) => break,
            Ok(IdempotencyBegin::Completed { status, body }) => return replay(status, body),
            Ok(IdempotencyBegin::InProgress) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(IdempotencyBegin::InProgress) => {
                return ApiError::conflict(
                    "a request with this idempotency key is still being processed",
                )
                .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    let response = next.run(req).await;
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_SAVED_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store.idempotency_abandon(&key).await;
            return ApiError::Internal(format!("could not buffer a response: {e}")).into_response();
        }
    };
    let saved = if parts.status.is_server_error() {
        store.idempotency_abandon(&key).await
    } else {
        store
            .idempotency_complete(&key, parts.status.as_u16(), bytes.to_vec())
            .await
    };
    if let Err(e) = saved {
        tracing::warn!(error = %e, "could not save an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
