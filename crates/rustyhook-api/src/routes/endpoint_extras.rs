//! An endpoint's headers, secret, statistics and example messages.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::{EndpointSecret, Message};
use rustyhook_core::names::EventTypeName;
use rustyhook_core::signing::SigningSecret;
use rustyhook_core::time::now_millis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{load_app, load_endpoint, time_param};
use super::endpoint::{TAG, check_headers};
use super::message::MessageOut;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryParams};
use crate::state::ApiState;

/// How long a rotated-out secret still signs.
const ROTATION_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_headers, put_headers, patch_headers))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(stats))
        .routes(routes!(send_example))
}

/// `EndpointHeadersOut`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EndpointHeadersOut {
    /// The headers sent with every request, but those that carry credentials.
    headers: BTreeMap<String, String>,
    /// The names of the headers left out because they carry credentials.
    sensitive: Vec<String>,
}

/// `EndpointHeadersIn`: every header to send, replacing those set before.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct EndpointHeadersIn {
    headers: BTreeMap<String, String>,
}

/// `EndpointHeadersPatchIn`: headers to set, and (as `null`) to remove.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct EndpointHeadersPatchIn {
    headers: BTreeMap<String, Option<String>>,
}

/// Header values that carry credentials are not echoed back (the same rule hides them in an
/// attempt's request headers).
fn is_sensitive(name: &str) -> bool {
    rustyhook_core::signing::is_credential_header(name)
}

/// Get Endpoint Headers
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.endpoint.get-headers",
    responses((status = 200, body = EndpointHeadersOut)))]
pub(super) async fn get_headers(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let sensitive: Vec<String> = e
        .headers
        .keys()
        .filter(|k| is_sensitive(k))
        .cloned()
        .collect();
    let headers = e
        .headers
        .into_iter()
        .filter(|(k, _)| !is_sensitive(k))
        .collect();
    Ok(Json(EndpointHeadersOut { headers, sensitive }))
}

/// Update Endpoint Headers
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.endpoint.update-headers", request_body = EndpointHeadersIn,
    responses((status = 204)))]
pub(super) async fn put_headers(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    let mut errors = Vec::new();
    check_headers(body.headers.iter().map(|(k, v)| (k, Some(v))), &mut errors);
    super::common::finish(errors)?;
    let app = load_app(&state, &app_id).await?;
    let mut e = load_endpoint(&state, &app, &endpoint_id).await?;
    e.headers = body.headers;
    e.updated_at = now_millis();
    let e = state.store.update_endpoint(e).await?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(StatusCode::NO_CONTENT)
}

/// Patch Endpoint Headers
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG,
    operation_id = "v1.endpoint.patch-headers", request_body = EndpointHeadersPatchIn,
    responses((status = 204)))]
pub(super) async fn patch_headers(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    let mut errors = Vec::new();
    check_headers(
        body.headers.iter().map(|(k, v)| (k, v.as_ref())),
        &mut errors,
    );
    super::common::finish(errors)?;
    let app = load_app(&state, &app_id).await?;
    let mut e = load_endpoint(&state, &app, &endpoint_id).await?;
    for (name, value) in body.headers {
        match value {
            Some(v) => e.headers.insert(name, v),
            None => e.headers.remove(&name),
        };
    }
    e.updated_at = now_millis();
    let e = state.store.update_endpoint(e).await?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(StatusCode::NO_CONTENT)
}

/// `EndpointSecretOut`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EndpointSecretOut {
    /// The current signing secret, `whsec_…`.
    key: String,
}

/// Get Endpoint Secret
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = TAG,
    operation_id = "v1.endpoint.get-secret",
    responses((status = 200, body = EndpointSecretOut)))]
pub(super) async fn get_secret(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let current = e
        .secrets
        .first()
        .ok_or_else(|| ApiError::Internal(format!("endpoint {} has no secret", e.id)))?;
    Ok(Json(EndpointSecretOut {
        key: current.secret.expose(),
    }))
}

/// `EndpointSecretRotateIn`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(super) struct EndpointSecretRotateIn {
    /// The new secret; generated when absent. The old one keeps signing for 24 hours.
    #[serde(default)]
    key: Option<SigningSecret>,
}

/// Rotate Endpoint Secret
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = TAG,
    operation_id = "v1.endpoint.rotate-secret", request_body = EndpointSecretRotateIn,
    responses((status = 200, body = EndpointSecretOut)))]
pub(super) async fn rotate_secret(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = load_app(&state, &app_id).await?;
    let mut e = load_endpoint(&state, &app, &endpoint_id).await?;
    let now = now_millis();
    let new_secret = body.key.unwrap_or_else(SigningSecret::generate);
    let key = new_secret.expose();
    let mut secrets = vec![EndpointSecret {
        secret: new_secret,
        expires_at: None,
    }];
    secrets.extend(
        e.secrets
            .into_iter()
            .map(|s| EndpointSecret {
                expires_at: Some(s.expires_at.unwrap_or(now + ROTATION_GRACE_MS)),
                ..s
            })
            .filter(|s| s.expires_at.is_some_and(|t| t > now)),
    );
    e.secrets = secrets;
    e.updated_at = now;
    let e = state.store.update_endpoint(e).await?;
    state.dispatcher.endpoint_changed(&e.id);
    // Svix's older API answered 204; its current SDKs read the new secret from a 200.
    Ok(Json(EndpointSecretOut { key }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsParams {
    /// Count deliveries created at or after this RFC 3339 time.
    since: Option<String>,
    /// Count deliveries created before this RFC 3339 time.
    until: Option<String>,
}

/// `EndpointStats`: the endpoint's deliveries, by state.
#[derive(Debug, Serialize, ToSchema)]
struct EndpointStats {
    success: i64,
    pending: i64,
    sending: i64,
    fail: i64,
    canceled: i64,
}

/// Endpoint Stats
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = TAG,
    operation_id = "v1.endpoint.get-stats", params(StatsParams),
    responses((status = 200, body = EndpointStats)))]
async fn stats(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<StatsParams>,
) -> ApiResult<Json<EndpointStats>> {
    let since = time_param("since", params.since.as_deref())?;
    let until = time_param("until", params.until.as_deref())?;
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let s = state.store.endpoint_stats(&e.id, since, until).await?;
    Ok(Json(EndpointStats {
        success: s.success,
        pending: s.pending,
        sending: s.sending,
        fail: s.fail,
        canceled: s.canceled,
    }))
}

/// `EventExampleIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventExampleIn {
    event_type: EventTypeName,
}

/// The example payload of an event type: the first `examples` entry of its newest schema, or a
/// small object naming the type.
fn example_payload(schemas: Option<&serde_json::Value>, event_type: &str) -> String {
    let from_schema = schemas
        .and_then(|s| s.as_object())
        .and_then(|versions| {
            versions
                .iter()
                .max_by_key(|(v, _)| v.parse::<u32>().unwrap_or(0))
        })
        .and_then(|(_, schema)| schema.get("examples")?.get(0).cloned())
        .filter(serde_json::Value::is_object);
    let value = from_schema
        .unwrap_or_else(|| serde_json::json!({ "eventType": event_type, "example": true }));
    value.to_string()
}

/// Send Event Type Example Message
///
/// Sends the endpoint alone a message of the event type, with the first example of its newest
/// schema as the payload.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", tag = TAG,
    operation_id = "v1.endpoint.send-example", request_body = EventExampleIn,
    responses((status = 200, body = MessageOut)))]
async fn send_example(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EventExampleIn>,
) -> ApiResult<Json<MessageOut>> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let event_type = state
        .store
        .get_event_type(body.event_type.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    let now = now_millis();
    let message = Message {
        id: MessageId::generate(now),
        app_id: app.id.clone(),
        event_id: None,
        event_type: body.event_type.clone(),
        payload: Some(
            example_payload(event_type.schemas.as_ref(), body.event_type.as_str()).into(),
        ),
        channels: None,
        tags: None,
        created_at: now,
    };
    let created = state.ingest.create(message, Some(e.id), None).await?;
    Ok(Json(MessageOut::new(created.message, true)))
}
