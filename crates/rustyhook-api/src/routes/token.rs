//! API tokens: `/api/v1/token`. Admins make tokens with a role (`admin`, `read-only`, or `app`
//! limited to one app), optionally expiring; the secret is returned once, at creation, and only
//! its SHA-256 is stored. Revoking a token refuses it at once on every node.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::distr::{Alphanumeric, SampleString};
use rustyhook_core::id::TokenId;
use rustyhook_core::time::{Millis, now_millis, parse_rfc3339, to_rfc3339};
use rustyhook_store::{ApiToken, Order, StoreError, TokenRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{finish, load_app};
use crate::http::auth::{TOKEN_PREFIX, TOKEN_RANDOM_LEN, token_hash};
use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// Longest token name accepted.
const MAX_NAME: usize = 200;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch, revoke))
}

const TAG: &str = "Token";

/// A role as the API names it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = TokenRole)]
#[serde(rename_all = "kebab-case")]
pub enum RoleIn {
    /// Everything.
    Admin,
    /// Every read, no write.
    ReadOnly,
    /// Every route of one app.
    App,
}

/// `TokenIn`: a token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenIn {
    /// A label for people.
    name: String,
    /// What the token may do.
    role: RoleIn,
    /// The app (id or uid) an `app` token is limited to; required for `app`, refused otherwise.
    #[serde(default)]
    app_id: Option<String>,
    /// An `app` token that may only read.
    #[serde(default)]
    read_only: bool,
    /// When the token stops working (RFC 3339, in the future); absent never expires.
    #[serde(default)]
    expires_at: Option<String>,
}

/// `TokenOut`: a token as listed; `token` (the secret) only in the answer to its creation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenOut {
    id: String,
    name: String,
    /// `admin`, `read-only` or `app`.
    role: &'static str,
    app_id: Option<String>,
    read_only: bool,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
    /// The secret to send as `Authorization: Bearer …`, only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role.as_str(),
            app_id: t.app_id.map(String::from),
            read_only: t.read_only || t.role == TokenRole::ReadOnly,
            created_at: to_rfc3339(t.created_at),
            expires_at: t.expires_at.map(to_rfc3339),
            last_used_at: t.last_used_at.map(to_rfc3339),
            revoked_at: t.revoked_at.map(to_rfc3339),
            token: None,
        }
    }
}

impl TokenOut {
    /// The secret, present only in the answer to the token's creation.
    pub fn secret(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// A new random secret: 43 alphanumeric characters (over 250 bits), so a plain SHA-256 of it
/// cannot be reversed by guessing.
pub fn new_secret() -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::rng(), TOKEN_RANDOM_LEN)
    )
}

/// The parts of a new token the callers choose.
pub struct NewToken {
    /// A label.
    pub name: String,
    /// The role.
    pub role: TokenRole,
    /// The app of an `app` token.
    pub app_id: Option<rustyhook_core::id::AppId>,
    /// Reads only.
    pub read_only: bool,
    /// When it stops working.
    pub expires_at: Option<Millis>,
}

/// Stores a new token and returns it with its secret (the only time the secret is seen).
pub async fn issue(state: &ApiState, new: NewToken) -> ApiResult<TokenOut> {
    let now = now_millis();
    let secret = new_secret();
    let token = ApiToken {
        id: TokenId::generate(now).into(),
        name: new.name,
        role: new.role,
        app_id: new.app_id,
        read_only: new.read_only,
        token_hash: hex::encode(token_hash(&secret)),
        created_at: now,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    state.store.create_token(token.clone()).await?;
    let mut out = TokenOut::from(token);
    out.token = Some(secret);
    Ok(out)
}

/// Create API Token
#[utoipa::path(post, path = "/api/v1/token", tag = TAG, operation_id = "v1.token.create",
    request_body = TokenIn,
    responses((status = 201, body = TokenOut)))]
async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<TokenIn>,
) -> ApiResult<(StatusCode, Json<TokenOut>)> {
    let now = now_millis();
    let mut errors = Vec::new();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        errors.push(ValidationItem::new(
            &["body", "name"],
            format!("name must be 1 to {MAX_NAME} characters"),
        ));
    }
    let role = match body.role {
        RoleIn::Admin => TokenRole::Admin,
        RoleIn::ReadOnly => TokenRole::ReadOnly,
        RoleIn::App => TokenRole::App,
    };
    match (role, &body.app_id) {
        (TokenRole::App, None) => errors.push(ValidationItem::new(
            &["body", "appId"],
            "a token with role app needs the appId of the one app it may reach",
        )),
        (TokenRole::Admin | TokenRole::ReadOnly, Some(_)) => errors.push(ValidationItem::new(
            &["body", "appId"],
            "appId is only for role app; admin and read-only tokens reach every app",
        )),
        _ => {}
    }
    if body.read_only && role != TokenRole::App {
        errors.push(ValidationItem::new(
            &["body", "readOnly"],
            "readOnly is only for role app (use role read-only for a read-only token)",
        ));
    }
    let expires_at = match body.expires_at.as_deref().map(|v| (v, parse_rfc3339(v))) {
        None => None,
        Some((_, Some(at))) if at > now => Some(at),
        Some((_, Some(_))) => {
            errors.push(ValidationItem::new(
                &["body", "expiresAt"],
                "expiresAt must be in the future",
            ));
            None
        }
        Some((v, None)) => {
            errors.push(ValidationItem::new(
                &["body", "expiresAt"],
                format!("{v:?} is not an RFC 3339 date-time"),
            ));
            None
        }
    };
    finish(errors)?;
    let app_id = match &body.app_id {
        Some(id) => Some(
            load_app(&state, id)
                .await
                .map_err(|_| {
                    ApiError::invalid(&["body", "appId"], format!("no application {id:?}"))
                })?
                .id,
        ),
        None => None,
    };
    let out = issue(
        &state,
        NewToken {
            name,
            role,
            app_id,
            read_only: body.read_only,
            expires_at,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// List API Tokens
#[utoipa::path(get, path = "/api/v1/token", tag = TAG, operation_id = "v1.token.list",
    params(ListParams),
    responses((status = 200, body = ListResponse<TokenOut>)))]
async fn list(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<TokenOut>>> {
    let listed = state
        .store
        .list_tokens(params.page(Order::Ascending, |k| TokenId::parse(k).is_some())?)
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |t| t.id.clone(),
        TokenOut::from,
    )))
}

/// Get API Token
#[utoipa::path(get, path = "/api/v1/token/{token_id}", tag = TAG, operation_id = "v1.token.get",
    responses((status = 200, body = TokenOut)))]
async fn fetch(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<TokenOut>> {
    state
        .store
        .get_token(&id)
        .await?
        .map(|t| Json(TokenOut::from(t)))
        .ok_or_else(|| ApiError::not_found("token"))
}

/// Revoke API Token
#[utoipa::path(delete, path = "/api/v1/token/{token_id}", tag = TAG,
    operation_id = "v1.token.revoke",
    responses((status = 204)))]
async fn revoke(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    match state.store.revoke_token(&id, now_millis()).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(ApiError::not_found("token")),
        Err(e) => Err(e.into()),
    }
}
