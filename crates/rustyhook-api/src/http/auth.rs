//! Bearer-token authentication and what each token may reach. The admin token is never stored:
//! only its SHA-256, compared in constant time, with no database round trip. Other tokens
//! ([`rustyhook_store::ApiToken`]) are found by the SHA-256 of their secret in one indexed
//! query per request, uncached, so a revoked or expired token is refused at once on every
//! node. What a token may do is decided by [`super::access::decide`]; the caller's identity
//! is left in the request's extensions as a [`Principal`] for the routes and the audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustyhook_core::id::AppId;
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{ApiToken, Store, TokenRole};
use sha2::{Digest, Sha256};

use super::access::{Decision, decide};
use super::error::ApiError;
use crate::state::ApiState;

/// A token's `last_used_at` is written at most once per this many milliseconds: the write is
/// for people reading the token list, not worth a database write on every request.
const TOUCH_EVERY_MS: Millis = 60_000;

/// The tokens the API accepts.
#[derive(Debug)]
pub struct Auth {
    admin_token_sha256: [u8; 32],
    /// When this node last wrote each token's `last_used_at`, so concurrent requests of one
    /// token write it once. Holds one entry per token used since start.
    touched: Mutex<HashMap<String, Millis>>,
}

/// Who is calling: the admin token, or a stored token.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The admin token of the installation.
    Admin,
    /// A token made through the API.
    Token(Arc<ApiToken>),
}

impl Principal {
    /// What the audit log names the caller by: `admin`, or the token's id.
    pub fn actor(&self) -> &str {
        match self {
            Self::Admin => "admin",
            Self::Token(t) => &t.id,
        }
    }

    /// The one app the caller is limited to, if any.
    pub fn app_scope(&self) -> Option<&AppId> {
        match self {
            Self::Token(t) if t.role == TokenRole::App => t.app_id.as_ref(),
            _ => None,
        }
    }
}

/// The hash a token is stored and compared as.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Auth {
    /// Accepts the token whose SHA-256 is `admin_token_sha256`, and the stored tokens.
    pub fn new(admin_token_sha256: [u8; 32]) -> Self {
        Self {
            admin_token_sha256,
            touched: Mutex::new(HashMap::new()),
        }
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

    /// Whether `token`'s last use should be written now, marking it written if so.
    fn should_touch(&self, token: &ApiToken, now: Millis) -> bool {
        if token
            .last_used_at
            .is_some_and(|at| now - at < TOUCH_EVERY_MS)
        {
            return false;
        }
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        match touched.get(&token.id) {
            Some(at) if now - at < TOUCH_EVERY_MS => false,
            _ => {
                touched.insert(token.id.clone(), now);
                true
            }
        }
    }

    /// The caller `token` stands for at `now`, or `None` if it is unknown, revoked or expired.
    async fn identify(
        &self,
        store: &Arc<dyn Store>,
        token: &str,
        now: Millis,
    ) -> Result<Option<Principal>, ApiError> {
        if self.is_admin(token) {
            return Ok(Some(Principal::Admin));
        }
        // Only what could be one of ours costs a query: garbage from the network is refused
        // in memory.
        if !is_token_shaped(token) {
            return Ok(None);
        }
        let Some(found) = store.find_token(&hex::encode(token_hash(token))).await? else {
            return Ok(None);
        };
        if !found.is_live(now) {
            return Ok(None);
        }
        if self.should_touch(&found, now) {
            let (store, id) = (store.clone(), found.id.clone());
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&id, now).await {
                    tracing::debug!(error = %e, token = %id, "could not record a token's last use");
                }
            });
        }
        Ok(Some(Principal::Token(Arc::new(found))))
    }
}

/// The prefix of every secret of a stored token.
pub const TOKEN_PREFIX: &str = "rh_tok_";
/// Random characters after [`TOKEN_PREFIX`].
pub const TOKEN_RANDOM_LEN: usize = 43;

/// Whether `token` has the form of a stored token's secret.
fn is_token_shaped(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == TOKEN_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The bearer token of a request, if it has one.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(detail: &str) -> Response {
    ApiError::Http {
        status: StatusCode::UNAUTHORIZED,
        code: "authentication_failed",
        detail: detail.into(),
    }
    .into_response()
}

/// Rejects requests without a valid token (401) or asking for what their token may not do
/// (403, or 404 for another app's routes); lets the rest through with their [`Principal`].
pub async fn require_token(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(&req) else {
        return unauthorized("An 'Authorization: Bearer <token>' header is required.");
    };
    let principal = match state.auth.identify(&state.store, token, now_millis()).await {
        Ok(Some(p)) => p,
        Ok(None) => return unauthorized("Incorrect authentication credentials."),
        Err(e) => return e.into_response(),
    };
    match decide(&principal, req.method(), req.uri().path()) {
        Decision::Allow => {}
        Decision::Deny(e) => return e.into_response(),
        Decision::IfApp(id_or_uid) => {
            if let Err(e) = check_app(&state, &principal, &id_or_uid).await {
                return e.into_response();
            }
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Lets an app-scoped caller reach `id_or_uid` only if it names the caller's own app; another
/// app, existing or not, is a 404 (its existence is not the caller's business).
async fn check_app(
    state: &ApiState,
    principal: &Principal,
    id_or_uid: &str,
) -> Result<(), ApiError> {
    let Some(own) = principal.app_scope() else {
        return Ok(());
    };
    if own.as_str() == id_or_uid {
        return Ok(());
    }
    match state.store.get_app(id_or_uid).await? {
        Some(app) if &app.id == own => Ok(()),
        _ => Err(ApiError::not_found("application")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_of_our_shape_is_looked_up() {
        assert!(is_token_shaped(&format!("rh_tok_{}", "a".repeat(43))));
        assert!(!is_token_shaped(&format!("rh_tok_{}", "a".repeat(42))));
        assert!(!is_token_shaped(&format!("rh_tok_{}!", "a".repeat(42))));
        assert!(!is_token_shaped("Bearer whatever"));
    }
}
