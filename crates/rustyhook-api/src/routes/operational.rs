//! Operational webhook endpoints: `/api/v1/operational-webhook/endpoint`, Svix's routes for the
//! operator's own endpoints, which receive operational events (`endpoint.disabled`,
//! `message.attempt.exhausted`, …). They are the endpoints of the reserved operational app;
//! their headers and secret are served by the same code as any endpoint's. Admins only (see
//! `http::access`).

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::id::EndpointId;
use rustyhook_core::model::{App, Endpoint, EndpointSecret};
use rustyhook_core::names::{EndpointUrl, EventTypeName, Uid};
use rustyhook_core::operational::{
    FORMAT_KEY, OPERATIONAL_APP_UID, OperationalKind, WebhookFormat,
};
use rustyhook_core::signing::SigningSecret;
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{Order, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{check_rate_limit, finish, load_app, load_endpoint};
use super::endpoint_extras::{
    self as extras, EndpointHeadersIn, EndpointHeadersOut, EndpointHeadersPatchIn,
    EndpointSecretOut, EndpointSecretRotateIn,
};
use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch, update, delete))
        .routes(routes!(get_headers, put_headers, patch_headers))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
}

/// The tag of every operational webhook route (Svix's).
const TAG: &str = "Webhook Endpoint";

/// `OperationalWebhookEndpointIn` (with `secret`) and `OperationalWebhookEndpointUpdate`
/// (whose `secret` is ignored).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OperationalEndpointIn {
    /// Where operational events are sent.
    url: EndpointUrl,
    /// Free text for the operator.
    #[serde(default)]
    description: String,
    /// A disabled endpoint receives nothing.
    #[serde(default)]
    disabled: bool,
    /// The operational event types to receive (`endpoint.disabled`, …); absent for all.
    #[serde(default)]
    filter_types: Option<Vec<EventTypeName>>,
    /// Free key-value pairs for the operator.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// At most this many requests per second to the endpoint.
    #[serde(default)]
    rate_limit: Option<u32>,
    /// The signing secret (`whsec_…`) when creating; generated when absent.
    #[serde(default)]
    secret: Option<SigningSecret>,
    /// A unique name to use in paths instead of the id.
    #[serde(default)]
    uid: Option<Uid>,
    /// `standard` (the default: the event as Svix sends it) or `slack` (a Slack
    /// incoming-webhook body, `{"text": "…"}`, with one readable sentence).
    #[serde(default)]
    format: WebhookFormat,
}

/// `OperationalWebhookEndpointOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OperationalEndpointOut {
    /// The endpoint's id, `ep_…`.
    id: String,
    /// Its uid, when it has one.
    uid: Option<String>,
    /// Where operational events are sent.
    url: String,
    /// Free text for the operator.
    description: String,
    /// Whether it receives nothing.
    disabled: bool,
    /// At most this many requests per second.
    rate_limit: Option<u32>,
    /// The operational event types it receives; `null` for all.
    filter_types: Option<Vec<EventTypeName>>,
    /// Free key-value pairs for the operator.
    metadata: BTreeMap<String, String>,
    /// `standard` or `slack`.
    format: WebhookFormat,
    /// When it was created (RFC 3339).
    created_at: String,
    /// When it last changed (RFC 3339).
    updated_at: String,
}

impl From<Endpoint> for OperationalEndpointOut {
    fn from(mut e: Endpoint) -> Self {
        let format = WebhookFormat::of(&e.metadata);
        e.metadata.remove(FORMAT_KEY);
        Self {
            format,
            id: e.id.into(),
            uid: e.uid.map(String::from),
            url: e.url,
            description: e.description,
            disabled: e.disabled,
            rate_limit: e.rate_limit,
            filter_types: e.filter_types,
            metadata: e.metadata,
            created_at: to_rfc3339(e.created_at),
            updated_at: to_rfc3339(e.updated_at),
        }
    }
}

impl OperationalEndpointIn {
    /// Svix's constraints, and event types that are operational ones: a filter on a type that
    /// is never sent would silently receive nothing.
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if let Some(types) = &self.filter_types {
            if types.is_empty() {
                errors.push(ValidationItem::new(
                    &["body", "filterTypes"],
                    "filterTypes must have at least one item; omit it to receive every type",
                ));
            }
            if types.iter().collect::<HashSet<_>>().len() != types.len() {
                errors.push(ValidationItem::new(
                    &["body", "filterTypes"],
                    "filterTypes must be unique",
                ));
            }
            for t in types {
                if OperationalKind::parse(t.as_str()).is_none() {
                    let known: Vec<_> = OperationalKind::ALL.iter().map(|k| k.as_str()).collect();
                    errors.push(ValidationItem::new(
                        &["body", "filterTypes"],
                        format!(
                            "{:?} is not an operational event type; known: {}",
                            t.as_str(),
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        check_rate_limit(self.rate_limit, &mut errors);
        finish(errors)
    }
}

/// An endpoint's metadata with its format recorded (under a key of rustyhook's, which the
/// API does not show among the metadata).
fn with_format(
    mut metadata: BTreeMap<String, String>,
    format: WebhookFormat,
) -> BTreeMap<String, String> {
    metadata.remove(FORMAT_KEY);
    format.apply(&mut metadata);
    metadata
}

/// The operational app (created on start).
async fn operational_app(state: &ApiState) -> ApiResult<App> {
    load_app(state, OPERATIONAL_APP_UID).await
}

fn uid_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::conflict("an operational webhook endpoint with this uid already exists")
        }
        other => other.into(),
    }
}

/// List Operational Webhook Endpoints
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.list", params(ListParams),
    responses((status = 200, body = ListResponse<OperationalEndpointOut>)))]
async fn list(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<OperationalEndpointOut>>> {
    let app = operational_app(&state).await?;
    let page = params.page(Order::Ascending, |k| EndpointId::parse(k).is_some())?;
    let listed = state.store.list_endpoints(&app.id, page).await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |e| e.id.to_string(),
        OperationalEndpointOut::from,
    )))
}

/// Create Operational Webhook Endpoint
///
/// Admins only. The endpoint receives the operational events its `filterTypes` names.
#[utoipa::path(post, path = "/api/v1/operational-webhook/endpoint", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.create", request_body = OperationalEndpointIn,
    responses((status = 201, body = OperationalEndpointOut)))]
async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<OperationalEndpointIn>,
) -> ApiResult<(StatusCode, Json<OperationalEndpointOut>)> {
    body.validate()?;
    let app = operational_app(&state).await?;
    let now = now_millis();
    let endpoint = Endpoint {
        id: EndpointId::generate(now),
        app_id: app.id,
        uid: body.uid,
        url: body.url.into(),
        description: body.description,
        version: 1,
        disabled: body.disabled,
        rate_limit: body.rate_limit,
        filter_types: body.filter_types,
        channels: None,
        metadata: with_format(body.metadata, body.format),
        headers: BTreeMap::new(),
        secrets: vec![EndpointSecret {
            secret: body.secret.unwrap_or_else(SigningSecret::generate),
            expires_at: None,
        }],
        header_style: None,
        max_in_flight: state.default_max_in_flight,
        created_at: now,
        updated_at: now,
    };
    let endpoint = state
        .store
        .create_endpoint(endpoint)
        .await
        .map_err(uid_conflict)?;
    Ok((StatusCode::CREATED, Json(endpoint.into())))
}

/// Get Operational Webhook Endpoint
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.get",
    responses((status = 200, body = OperationalEndpointOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<OperationalEndpointOut>> {
    let app = operational_app(&state).await?;
    Ok(Json(
        load_endpoint(&state, &app, &endpoint_id).await?.into(),
    ))
}

/// Update Operational Webhook Endpoint
///
/// Replaces every field but the secret.
#[utoipa::path(put, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.update", request_body = OperationalEndpointIn,
    responses((status = 200, body = OperationalEndpointOut)))]
async fn update(
    State(state): State<ApiState>,
    Path(endpoint_id): Path<String>,
    JsonBody(body): JsonBody<OperationalEndpointIn>,
) -> ApiResult<Json<OperationalEndpointOut>> {
    body.validate()?;
    let app = operational_app(&state).await?;
    let mut e = load_endpoint(&state, &app, &endpoint_id).await?;
    e.url = body.url.into();
    e.description = body.description;
    e.disabled = body.disabled;
    e.filter_types = body.filter_types;
    e.metadata = with_format(body.metadata, body.format);
    e.rate_limit = body.rate_limit;
    e.uid = body.uid;
    e.updated_at = now_millis();
    let e = state.store.update_endpoint(e).await.map_err(uid_conflict)?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(Json(e.into()))
}

/// Delete Operational Webhook Endpoint
#[utoipa::path(delete, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.delete",
    responses((status = 204)))]
async fn delete(
    State(state): State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<StatusCode> {
    let app = operational_app(&state).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    state.store.delete_endpoint(&e.id).await?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(StatusCode::NO_CONTENT)
}

/// The path of an endpoint's own routes, in the operational app.
fn in_app(endpoint_id: String) -> Path<(String, String)> {
    Path((OPERATIONAL_APP_UID.to_owned(), endpoint_id))
}

/// Get Operational Webhook Endpoint Headers
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.get-headers",
    responses((status = 200, body = EndpointHeadersOut)))]
async fn get_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    extras::get_headers(state, in_app(endpoint_id)).await
}

/// Update Operational Webhook Endpoint Headers
#[utoipa::path(put, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.update-headers",
    request_body = EndpointHeadersIn, responses((status = 204)))]
async fn put_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    extras::put_headers(state, in_app(endpoint_id), body).await
}

/// Patch Operational Webhook Endpoint Headers
#[utoipa::path(patch, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.patch-headers",
    request_body = EndpointHeadersPatchIn, responses((status = 204)))]
async fn patch_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    extras::patch_headers(state, in_app(endpoint_id), body).await
}

/// Get Operational Webhook Endpoint Secret
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/secret", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.get-secret",
    responses((status = 200, body = EndpointSecretOut)))]
async fn get_secret(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointSecretOut>> {
    extras::get_secret(state, in_app(endpoint_id)).await
}

/// Rotate Operational Webhook Endpoint Secret
///
/// The old secret keeps signing for 24 hours.
#[utoipa::path(post, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate", tag = TAG,
    operation_id = "v1.operational-webhook.endpoint.rotate-secret",
    request_body = EndpointSecretRotateIn, responses((status = 200, body = EndpointSecretOut)))]
async fn rotate_secret(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    extras::rotate_secret(state, in_app(endpoint_id), body).await
}
