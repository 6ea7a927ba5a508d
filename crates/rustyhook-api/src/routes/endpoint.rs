//! Endpoints: `/api/v1/app/{app_id}/endpoint`. Headers, secrets, stats and send-example
//! live in `endpoint_extras`; recover and replay-missing in `endpoint_replay`.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustyhook_core::id::EndpointId;
use rustyhook_core::model::{App, Endpoint, EndpointSecret};
use rustyhook_core::names::{Channel, EndpointUrl, EventTypeName, Uid};
use rustyhook_core::signing::is_reserved_header;
use rustyhook_core::signing::{HeaderStyle, SigningSecret};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{check_rate_limit, finish, load_app, load_endpoint, nullable, one_rate};
use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// `EndpointIn` and `EndpointUpdate` (which has no `secret`), plus rustyhook's `headerStyle`
/// and `maxInFlight`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndpointIn {
    url: EndpointUrl,
    #[serde(default)]
    description: String,
    #[serde(default)]
    disabled: bool,
    #[serde(default, alias = "eventTypes")]
    filter_types: Option<Vec<EventTypeName>>,
    #[serde(default)]
    channels: Option<Vec<Channel>>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    rate_limit: Option<u32>,
    /// The newer SDKs' name for `rateLimit`.
    #[serde(default)]
    throttle_rate: Option<u32>,
    #[serde(default)]
    secret: Option<SigningSecret>,
    #[serde(default)]
    uid: Option<Uid>,
    #[serde(default)]
    version: Option<u16>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    header_style: Option<HeaderStyle>,
    #[serde(default)]
    max_in_flight: Option<u32>,
}

/// `EndpointPatch`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndpointPatch {
    url: Option<EndpointUrl>,
    description: Option<String>,
    disabled: Option<bool>,
    #[serde(default, alias = "eventTypes", deserialize_with = "nullable")]
    filter_types: Option<Option<Vec<EventTypeName>>>,
    #[serde(default, deserialize_with = "nullable")]
    channels: Option<Option<Vec<Channel>>>,
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "nullable")]
    rate_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    throttle_rate: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    secret: Option<Option<SigningSecret>>,
    #[serde(default, deserialize_with = "nullable")]
    uid: Option<Option<Uid>>,
    version: Option<u16>,
    /// `null` returns the endpoint to its app's style (then the server's).
    #[serde(default, deserialize_with = "nullable")]
    header_style: Option<Option<HeaderStyle>>,
    max_in_flight: Option<u32>,
}

/// `EndpointOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    id: String,
    uid: Option<String>,
    url: String,
    description: String,
    version: u16,
    disabled: bool,
    rate_limit: Option<u32>,
    throttle_rate: Option<u32>,
    filter_types: Option<Vec<EventTypeName>>,
    /// The newer Svix API's name for `filterTypes`.
    event_types: Option<Vec<EventTypeName>>,
    channels: Option<Vec<Channel>>,
    metadata: BTreeMap<String, String>,
    /// The endpoint's own choice; `null` follows its app, then the server.
    header_style: Option<HeaderStyle>,
    max_in_flight: u32,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for EndpointOut {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id.into(),
            uid: e.uid.map(String::from),
            url: e.url,
            description: e.description,
            version: e.version,
            disabled: e.disabled,
            rate_limit: e.rate_limit,
            throttle_rate: e.rate_limit,
            event_types: e.filter_types.clone(),
            filter_types: e.filter_types,
            channels: e.channels,
            metadata: e.metadata,
            header_style: e.header_style,
            max_in_flight: e.max_in_flight,
            created_at: to_rfc3339(e.created_at),
            updated_at: to_rfc3339(e.updated_at),
        }
    }
}

/// Checks list fields the way Svix's schema constrains them.
fn check_lists(
    filter_types: &Option<Vec<EventTypeName>>,
    channels: &Option<Vec<Channel>>,
    errors: &mut Vec<ValidationItem>,
) {
    if let Some(types) = filter_types {
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
    }
    if let Some(chans) = channels
        && (chans.is_empty() || chans.len() > 10)
    {
        errors.push(ValidationItem::new(
            &["body", "channels"],
            "channels must have between 1 and 10 items; omit it to receive every channel",
        ));
    }
}

/// Checks headers users may set: a name rustyhook does not set itself, and a value that can
/// go on the wire. A value with CR, LF or another control character would make every later
/// request to the endpoint fail, so it is refused here, naming the header.
pub(super) fn check_headers<'a>(
    headers: impl IntoIterator<Item = (&'a String, Option<&'a String>)>,
    errors: &mut Vec<ValidationItem>,
) {
    for (name, value) in headers {
        if is_reserved_header(name) || http::HeaderName::try_from(name.as_str()).is_err() {
            errors.push(ValidationItem::new(
                &["body", "headers", name],
                format!(
                    "{name:?} cannot be set: it is not a valid header name or rustyhook sets it"
                ),
            ));
        } else if value.is_some_and(|v| http::HeaderValue::try_from(v.as_str()).is_err()) {
            errors.push(ValidationItem::new(
                &["body", "headers", name],
                format!(
                    "the value of header {name:?} contains a line break or another control \
                     character, which a header cannot carry"
                ),
            ));
        }
    }
}

impl EndpointIn {
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        check_lists(&self.filter_types, &self.channels, &mut errors);
        check_rate_limit(
            one_rate(self.rate_limit, self.throttle_rate, &mut errors),
            &mut errors,
        );
        if let Some(h) = &self.headers {
            check_headers(h.iter().map(|(k, v)| (k, Some(v))), &mut errors);
        }
        if self.version == Some(0) {
            errors.push(ValidationItem::new(
                &["body", "version"],
                "version must be at least 1",
            ));
        }
        if self.max_in_flight == Some(0) {
            errors.push(ValidationItem::new(
                &["body", "maxInFlight"],
                "maxInFlight must be at least 1",
            ));
        }
        finish(errors)
    }

    fn into_endpoint(self, app: &App, default_max_in_flight: u32, now: i64) -> Endpoint {
        Endpoint {
            id: EndpointId::generate(now),
            app_id: app.id.clone(),
            uid: self.uid,
            url: self.url.into(),
            description: self.description,
            version: self.version.unwrap_or(1),
            disabled: self.disabled,
            rate_limit: self.rate_limit.or(self.throttle_rate).or(app.rate_limit),
            filter_types: self.filter_types,
            channels: self.channels,
            metadata: self.metadata,
            headers: self.headers.unwrap_or_default(),
            secrets: vec![EndpointSecret {
                secret: self.secret.unwrap_or_else(SigningSecret::generate),
                expires_at: None,
            }],
            header_style: self.header_style,
            max_in_flight: self.max_in_flight.unwrap_or(default_max_in_flight),
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies a full update (PUT) to an existing endpoint; the secret is kept.
    fn apply_to(self, e: &mut Endpoint) {
        e.url = self.url.into();
        e.description = self.description;
        e.disabled = self.disabled;
        e.filter_types = self.filter_types;
        e.channels = self.channels;
        e.metadata = self.metadata;
        e.rate_limit = self.rate_limit.or(self.throttle_rate);
        e.uid = self.uid;
        e.version = self.version.unwrap_or(e.version);
        if let Some(h) = self.headers {
            e.headers = h;
        }
        if let Some(s) = self.header_style {
            e.header_style = Some(s);
        }
        if let Some(m) = self.max_in_flight {
            e.max_in_flight = m;
        }
    }
}

/// The endpoint CRUD routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch, update, patch, delete))
}

/// The tag of every endpoint route.
pub(super) const TAG: &str = "Endpoint";

/// List Endpoints
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = TAG,
    operation_id = "v1.endpoint.list", params(ListParams),
    responses((status = 200, body = ListResponse<EndpointOut>)))]
async fn list(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = load_app(&state, &app_id).await?;
    let listed = state
        .store
        .list_endpoints(
            &app.id,
            params.page(Order::Ascending, |k| EndpointId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |e| e.id.to_string(),
        EndpointOut::from,
    )))
}

fn uid_conflict(e: rustyhook_store::StoreError) -> ApiError {
    match e {
        rustyhook_store::StoreError::Conflict(_) => {
            ApiError::conflict("an endpoint with this uid already exists in the application")
        }
        other => other.into(),
    }
}

/// Create Endpoint
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = TAG,
    operation_id = "v1.endpoint.create", request_body = EndpointIn,
    responses((status = 201, body = EndpointOut)))]
async fn create(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(body): JsonBody<EndpointIn>,
) -> ApiResult<Response> {
    let app = load_app(&state, &app_id).await?;
    body.validate()?;
    let endpoint = body.into_endpoint(&app, state.default_max_in_flight, now_millis());
    let endpoint = state
        .store
        .create_endpoint(endpoint)
        .await
        .map_err(uid_conflict)?;
    Ok((StatusCode::CREATED, Json(EndpointOut::from(endpoint))).into_response())
}

/// Get Endpoint
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, operation_id = "v1.endpoint.get",
    responses((status = 200, body = EndpointOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let app = load_app(&state, &app_id).await?;
    Ok(Json(
        load_endpoint(&state, &app, &endpoint_id).await?.into(),
    ))
}

/// Update Endpoint
///
/// Creates the endpoint, with the path's id as its uid, when none has it. The secret is kept.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, operation_id = "v1.endpoint.update",
    request_body = EndpointIn,
    responses((status = 200, body = EndpointOut, description = "updated"),
        (status = 201, body = EndpointOut, description = "created")))]
async fn update(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointIn>,
) -> ApiResult<Response> {
    let app = load_app(&state, &app_id).await?;
    body.validate()?;
    let now = now_millis();
    match state.store.get_endpoint(&app.id, &endpoint_id).await? {
        Some(mut endpoint) => {
            body.apply_to(&mut endpoint);
            endpoint.updated_at = now;
            let endpoint = state
                .store
                .update_endpoint(endpoint)
                .await
                .map_err(uid_conflict)?;
            state.dispatcher.endpoint_changed(&endpoint.id);
            Ok((StatusCode::OK, Json(EndpointOut::from(endpoint))).into_response())
        }
        None => {
            let uid = Uid::parse(endpoint_id.as_str())
                .map_err(|e| ApiError::invalid(&["path", "endpoint_id"], e.to_string()))?;
            let mut endpoint = body.into_endpoint(&app, state.default_max_in_flight, now);
            endpoint.uid.get_or_insert(uid);
            let endpoint = state
                .store
                .create_endpoint(endpoint)
                .await
                .map_err(uid_conflict)?;
            Ok((StatusCode::CREATED, Json(EndpointOut::from(endpoint))).into_response())
        }
    }
}

/// Patch Endpoint
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, operation_id = "v1.endpoint.patch",
    request_body = EndpointPatch,
    responses((status = 200, body = EndpointOut)))]
async fn patch(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let app = load_app(&state, &app_id).await?;
    let mut e = load_endpoint(&state, &app, &endpoint_id).await?;
    let mut errors = Vec::new();
    check_lists(
        &body.filter_types.clone().flatten(),
        &body.channels.clone().flatten(),
        &mut errors,
    );
    let rate = one_rate(body.rate_limit, body.throttle_rate, &mut errors);
    check_rate_limit(rate.flatten().filter(|r| *r > 0), &mut errors);
    if body.max_in_flight == Some(0) {
        errors.push(ValidationItem::new(
            &["body", "maxInFlight"],
            "maxInFlight must be at least 1",
        ));
    }
    finish(errors)?;
    if let Some(url) = body.url {
        e.url = url.into();
    }
    if let Some(d) = body.description {
        e.description = d;
    }
    if let Some(d) = body.disabled {
        e.disabled = d;
    }
    if let Some(f) = body.filter_types {
        e.filter_types = f;
    }
    if let Some(c) = body.channels {
        e.channels = c;
    }
    if let Some(m) = body.metadata {
        e.metadata = m;
    }
    if let Some(r) = rate {
        e.rate_limit = r.filter(|r| *r > 0);
    }
    if let Some(Some(secret)) = body.secret {
        e.secrets = vec![EndpointSecret {
            secret,
            expires_at: None,
        }];
    }
    if let Some(u) = body.uid {
        e.uid = u;
    }
    if let Some(v) = body.version {
        e.version = v.max(1);
    }
    if let Some(s) = body.header_style {
        e.header_style = s;
    }
    if let Some(m) = body.max_in_flight {
        e.max_in_flight = m;
    }
    e.updated_at = now_millis();
    let e = state.store.update_endpoint(e).await.map_err(uid_conflict)?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(Json(e.into()))
}

/// Delete Endpoint
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, operation_id = "v1.endpoint.delete",
    responses((status = 204)))]
async fn delete(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    state.store.delete_endpoint(&e.id).await?;
    state.dispatcher.endpoint_changed(&e.id);
    Ok(StatusCode::NO_CONTENT)
}
