//! Per-token request rate limits for the API (`limits.api_rate_limit`). Each token has its own
//! GCRA bucket, so one runaway client cannot starve the others; past its rate a request gets
//! 429 with `Retry-After` and does nothing. Health and metrics are not limited (they sit outside
//! the authenticated routes), and buckets are kept only for tokens that authenticated, so
//! unauthenticated traffic cannot grow the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustyhook_core::ratelimit::{Gcra, Rate};

use super::auth::{bearer, token_hash};
use super::error::ApiError;

/// The buckets of every token, under one rate.
#[derive(Debug)]
pub struct ApiRateLimit {
    rate: Rate,
    buckets: Mutex<HashMap<[u8; 32], Gcra>>,
    origin: Instant,
}

impl ApiRateLimit {
    /// `per_second` requests a second per token, bursting up to `burst`; `None` when
    /// `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Arc<Self>> {
        (per_second > 0).then(|| {
            Arc::new(Self {
                rate: Rate {
                    count: per_second,
                    period: Duration::from_secs(1),
                    burst: burst.max(1),
                },
                buckets: Mutex::new(HashMap::new()),
                origin: Instant::now(),
            })
        })
    }

    /// Takes one request of `token`: `Err(wait)` when it is over its rate.
    fn check(&self, token: &str) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(token_hash(token))
            .or_insert_with(|| Gcra::new(self.rate))
            .check(self.origin.elapsed())
    }
}

/// Answers 429 with `Retry-After` (whole seconds, rounded up) to a token over its rate. Runs
/// after authentication, so the token is a valid one.
pub async fn limit_per_token(
    State(limit): State<Arc<ApiRateLimit>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(&req) else {
        return next.run(req).await;
    };
    match limit.check(token) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::Http {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limited",
                detail: format!(
                    "this token is over its rate of {} requests a second \
                     (limits.api_rate_limit); retry in {seconds} s",
                    limit.rate.count
                ),
            }
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            response
        }
    }
}
