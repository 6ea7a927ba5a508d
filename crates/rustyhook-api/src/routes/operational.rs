//! Operational webhook endpoints: `/api/v1/operational-webhook/endpoint`, Svix's routes for the
//! operator's own endpoints, which receive operational events (`endpoint.disabled`,
//! `message.attempt.exhausted`, …). They are the endpoints of the reserved operational app;
//! their headers and secret are served by the same code as any endpoint's. Admins only (see
//! `http::access`).

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rustyhook_core::id::EndpointId;
use rustyhook_core::model::{App, Endpoint, EndpointSecret};
use rustyhook_core::names::{EndpointUrl, EventTypeName, Uid};
use rustyhook_core::operational::{OPERATIONAL_APP_UID, OperationalKind};
use rustyhook_core::signing::SigningSecret;
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{Order, StoreError};
use serde::{Deserialize, Serialize};

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
pub fn router() -> Router<ApiState> {
    let base = "/api/v1/operational-webhook/endpoint";
    let one = format!("{base}/{{endpoint_id}}");
    Router::new()
        .route(base, get(list).post(create))
        .route(&one, get(fetch).put(update).delete(delete))
        .route(
            &format!("{one}/headers"),
            get(get_headers).put(put_headers).patch(patch_headers),
        )
        .route(&format!("{one}/secret"), get(get_secret))
        .route(&format!("{one}/secret/rotate"), post(rotate_secret))
}

/// `OperationalWebhookEndpointIn` (with `secret`) and `OperationalWebhookEndpointUpdate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationalEndpointIn {
    url: EndpointUrl,
    #[serde(default)]
    description: String,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    filter_types: Option<Vec<EventTypeName>>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    rate_limit: Option<u32>,
    #[serde(default)]
    secret: Option<SigningSecret>,
    #[serde(default)]
    uid: Option<Uid>,
}

/// `OperationalWebhookEndpointOut`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationalEndpointOut {
    id: String,
    uid: Option<String>,
    url: String,
    description: String,
    disabled: bool,
    rate_limit: Option<u32>,
    filter_types: Option<Vec<EventTypeName>>,
    metadata: BTreeMap<String, String>,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for OperationalEndpointOut {
    fn from(e: Endpoint) -> Self {
        Self {
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
        metadata: body.metadata,
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

async fn fetch(
    State(state): State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<OperationalEndpointOut>> {
    let app = operational_app(&state).await?;
    Ok(Json(
        load_endpoint(&state, &app, &endpoint_id).await?.into(),
    ))
}

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
    e.metadata = body.metadata;
    e.rate_limit = body.rate_limit;
    e.uid = body.uid;
    e.updated_at = now_millis();
    let e = state.store.update_endpoint(e).await.map_err(uid_conflict)?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(Json(e.into()))
}

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
fn in_app(endpoint_id: String) -> extras::EndpointPath {
    Path((OPERATIONAL_APP_UID.to_owned(), endpoint_id))
}

async fn get_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    extras::get_headers(state, in_app(endpoint_id)).await
}

async fn put_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    extras::put_headers(state, in_app(endpoint_id), body).await
}

async fn patch_headers(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    extras::patch_headers(state, in_app(endpoint_id), body).await
}

async fn get_secret(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointSecretOut>> {
    extras::get_secret(state, in_app(endpoint_id)).await
}

async fn rotate_secret(
    state: State<ApiState>,
    Path(endpoint_id): Path<String>,
    body: JsonBody<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    extras::rotate_secret(state, in_app(endpoint_id), body).await
}
