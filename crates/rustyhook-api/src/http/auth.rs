//! Bearer-token authentication. The admin token is never stored: only its SHA-256, compared in
//! constant time. Every route but health requires it.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The tokens the API accepts.
#[derive(Debug, Clone)]
pub struct Auth {
    admin_token_sha256: [u8; 32],
}

/// The hash a token is stored and compared as.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Auth {
    /// Accepts the token whose SHA-256 is `admin_token_sha256`.
    pub fn new(admin_token_sha256: [u8; 32]) -> Self {
        Self { admin_token_sha256 }
    }

    /// Whether `token` is the admin token.
    pub fn is_admin(&self, token: &str) -> bool {
        let given = token_hash(token);
        // Constant-time comparison: no early exit on the first differing byte.
        given
            .iter()
            .zip(self.admin_token_sha256.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Rejects requests without a valid token.
pub async fn require_token(
    State(auth): State<std::sync::Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    match bearer(&req) {
        Some(token) if auth.is_admin(token) => next.run(req).await,
        Some(_) => axum::response::IntoResponse::into_response(ApiError::Http {
            status: StatusCode::UNAUTHORIZED,
            code: "authentication_failed",
            detail: "Incorrect authentication credentials.".into(),
        }),
        None => axum::response::IntoResponse::into_response(ApiError::Http {
            status: StatusCode::UNAUTHORIZED,
            code: "authentication_failed",
            detail: "An 'Authorization: Bearer <token>' header is required.".into(),
        }),
    }
}
