//! Svix's app portal: `POST /api/v1/auth/app-portal-access/{app_id}` issues a token limited to
//! one app (read-only if asked, expiring after `expiry` seconds), with a `url` to open for that
//! app (the dashboard, which takes the token from the URL's fragment); `POST
//! /api/v1/auth/logout` revokes the token it is called with; `GET /api/v1/auth/me` says what the
//! token it is called with may do. The tokens are ordinary `app` tokens ([`super::token`]):
//! listed and revocable like any other.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Extension, Json};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::TokenRole;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::load_app;
use super::token::{NewToken, issue};
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::ApiState;

/// Shortest and longest `expiry`, in seconds (Svix's: one hour to seven days); the default is
/// the longest.
const EXPIRY_SECS: std::ops::RangeInclusive<u64> = 3600..=7 * 24 * 3600;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(access))
        .routes(routes!(logout))
        .routes(routes!(me))
}

const TAG: &str = "Authentication";

/// `AppPortalAccessIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppPortalAccessIn {
    /// Accepted for Svix's SDKs; rustyhook has no feature flags, so they change nothing.
    #[serde(default)]
    feature_flags: Vec<String>,
    /// Seconds the token is valid for: one hour to seven days (the default).
    #[serde(default)]
    #[schema(minimum = 3600, maximum = 604800)]
    expiry: Option<u64>,
    /// A token that may only read.
    #[serde(default)]
    read_only: bool,
}

/// `AppPortalAccessOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPortalAccessOut {
    /// Where to open the app's pages: the dashboard, with the token in the fragment (which
    /// browsers never send to a server); the page moves it to the session and out of the
    /// address bar.
    url: String,
    /// The token, limited to the app.
    token: String,
}

/// Get Consumer App Portal Access
///
/// Issues a token limited to the app, with a `url` for that app.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = TAG,
    operation_id = "v1.authentication.app-portal-access", request_body = AppPortalAccessIn,
    responses((status = 200, body = AppPortalAccessOut)))]
async fn access(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    let expiry = body.expiry.unwrap_or(*EXPIRY_SECS.end());
    if !EXPIRY_SECS.contains(&expiry) {
        return Err(ApiError::invalid(
            &["body", "expiry"],
            format!(
                "expiry must be between {} and {} seconds (one hour to seven days)",
                EXPIRY_SECS.start(),
                EXPIRY_SECS.end()
            ),
        ));
    }
    let app = load_app(&state, &app_id).await?;
    if !body.feature_flags.is_empty() {
        tracing::debug!(flags = ?body.feature_flags, "app portal feature flags ignored");
    }
    let expires_at = now_millis() + i64::try_from(expiry * 1000).unwrap_or(i64::MAX);
    let out = issue(
        &state,
        NewToken {
            name: format!("app portal: {}", app.id.as_str()),
            role: TokenRole::App,
            app_id: Some(app.id.clone()),
            read_only: body.read_only,
            expires_at: Some(expires_at),
        },
    )
    .await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let token = out.secret().unwrap_or_default().to_owned();
    Ok(Json(AppPortalAccessOut {
        url: format!("http://{host}/#token={token}"),
        token,
    }))
}

/// Logout
///
/// Revokes the token the request is made with (not the admin token).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = TAG,
    operation_id = "v1.authentication.logout",
    responses((status = 204)))]
async fn logout(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<StatusCode> {
    match principal {
        Principal::Admin => Err(ApiError::bad_request(
            "admin_token",
            "the admin token cannot be logged out; change auth.admin_token to replace it",
        )),
        Principal::Token(token) => {
            state.store.revoke_token(&token.id, now_millis()).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

/// `GET /api/v1/auth/me`: what the calling token is and may reach, for a client (the
/// dashboard) to show only that.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeOut {
    /// `admin`, `read-only` or `app`; the admin token is `admin`.
    role: &'static str,
    /// The one app an `app` token is limited to (its id).
    app_id: Option<String>,
    /// An `app` token that may only read; always true for `read-only`.
    read_only: bool,
    /// The token's id, `None` for the admin token.
    token_id: Option<String>,
    /// The token's name, `None` for the admin token.
    name: Option<String>,
    /// When the token stops working, if it does.
    expires_at: Option<String>,
}

/// What the Calling Token May Do
///
/// Its role, its app and whether it may only read. Any valid token may ask.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = TAG, operation_id = "v1.authentication.me",
    responses((status = 200, body = MeOut)))]
async fn me(Extension(principal): Extension<Principal>) -> Json<MeOut> {
    Json(match principal {
        Principal::Admin => MeOut {
            role: TokenRole::Admin.as_str(),
            app_id: None,
            read_only: false,
            token_id: None,
            name: None,
            expires_at: None,
        },
        Principal::Token(t) => MeOut {
            role: t.role.as_str(),
            app_id: t.app_id.as_ref().map(|a| a.as_str().to_owned()),
            read_only: t.read_only || t.role == TokenRole::ReadOnly,
            token_id: Some(t.id.clone()),
            name: Some(t.name.clone()),
            expires_at: t.expires_at.map(to_rfc3339),
        },
    })
}
