//! Event types: `/api/v1/event-type`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustyhook_core::model::EventType;
use rustyhook_core::names::{EventTypeName, Uid};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::nullable;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::http::query;
use crate::state::ApiState;

/// `EventTypeIn` (with `name`) and `EventTypeUpdate` (name from the path).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventTypeIn {
    /// Required to create; a `PUT` takes the name from its path.
    name: Option<EventTypeName>,
    description: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    deprecated: bool,
    #[serde(default)]
    feature_flag: Option<Uid>,
    #[serde(default)]
    feature_flags: Option<Vec<Uid>>,
    #[serde(default)]
    group_name: Option<String>,
    /// JSON schemas of the payload, keyed by version (`{"1": {…}}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    schemas: Option<serde_json::Value>,
}

/// `EventTypePatch`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventTypePatch {
    description: Option<String>,
    archived: Option<bool>,
    deprecated: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    feature_flag: Option<Option<Uid>>,
    #[serde(default, deserialize_with = "nullable")]
    feature_flags: Option<Option<Vec<Uid>>>,
    #[serde(default, deserialize_with = "nullable")]
    group_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    schemas: Option<Option<serde_json::Value>>,
}

/// `EventTypeOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventTypeOut {
    name: String,
    description: String,
    archived: bool,
    deprecated: bool,
    feature_flag: Option<String>,
    feature_flags: Option<Vec<String>>,
    group_name: Option<String>,
    /// Left out of lists unless asked `with_content=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    schemas: Option<serde_json::Value>,
    created_at: String,
    updated_at: String,
}

impl EventTypeOut {
    fn new(et: EventType, with_schemas: bool) -> Self {
        Self {
            name: et.name.into(),
            description: et.description,
            archived: et.archived,
            deprecated: et.deprecated,
            feature_flag: et.feature_flag,
            feature_flags: et.feature_flags,
            group_name: et.group_name,
            schemas: if with_schemas { et.schemas } else { None },
            created_at: to_rfc3339(et.created_at),
            updated_at: to_rfc3339(et.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListEventTypes {
    #[serde(flatten)]
    #[param(ignore)]
    page: ListParams,
    /// Include archived event types.
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: bool,
    /// Include each type's `schemas`.
    #[serde(default, deserialize_with = "query::flag")]
    with_content: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteParams {
    /// Delete the event type for good rather than archive it.
    #[serde(default, deserialize_with = "query::flag")]
    expunge: bool,
}

/// The event type routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch, update, patch, delete))
}

const TAG: &str = "Event Type";

/// Feature flags as stored: checked names, each once, in a stable order (Svix's is a set).
fn flag_names(flags: Vec<Uid>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = flags.into_iter().map(String::from).collect();
    set.into_iter().collect()
}

fn check_schemas(schemas: &Option<serde_json::Value>) -> ApiResult<()> {
    match schemas {
        Some(v) if !v.is_object() => Err(ApiError::invalid(
            &["body", "schemas"],
            "schemas must be an object of JSON schemas keyed by version",
        )),
        _ => Ok(()),
    }
}

/// List Event Types
#[utoipa::path(get, path = "/api/v1/event-type", tag = TAG, operation_id = "v1.event-type.list",
    params(ListParams, ListEventTypes),
    responses((status = 200, body = ListResponse<EventTypeOut>)))]
async fn list(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<ListEventTypes>,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let listed = state
        .store
        .list_event_types(
            params
                .page
                .page(Order::Ascending, |k| EventTypeName::parse(k).is_ok())?,
            params.include_archived,
        )
        .await?;
    let with_content = params.with_content;
    Ok(Json(ListResponse::from_listed(
        listed,
        |e| e.name.to_string(),
        |e| EventTypeOut::new(e, with_content),
    )))
}

async fn store_event_type(
    state: &ApiState,
    name: EventTypeName,
    body: EventTypeIn,
) -> ApiResult<(bool, EventType)> {
    check_schemas(&body.schemas)?;
    let now = now_millis();
    let created_at = state
        .store
        .get_event_type(name.as_str())
        .await?
        .map_or(now, |e| e.created_at);
    let et = EventType {
        name,
        description: body.description,
        schemas: body.schemas,
        archived: body.archived,
        deprecated: body.deprecated,
        feature_flag: body.feature_flag.map(String::from),
        feature_flags: body.feature_flags.map(flag_names),
        group_name: body.group_name,
        created_at,
        updated_at: now,
    };
    let created = state.store.upsert_event_type(et.clone()).await?;
    Ok((created, et))
}

/// Create Event Type
///
/// An archived event type of the same name is replaced.
#[utoipa::path(post, path = "/api/v1/event-type", tag = TAG,
    operation_id = "v1.event-type.create", request_body = EventTypeIn,
    responses((status = 201, body = EventTypeOut)))]
async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<EventTypeIn>,
) -> ApiResult<Response> {
    let Some(name) = body.name.clone() else {
        return Err(ApiError::invalid(&["body", "name"], "missing field `name`"));
    };
    if let Some(existing) = state.store.get_event_type(name.as_str()).await?
        && !existing.archived
    {
        return Err(ApiError::conflict(
            "an event type with this name already exists",
        ));
    }
    let (_, et) = store_event_type(&state, name, body).await?;
    Ok((StatusCode::CREATED, Json(EventTypeOut::new(et, true))).into_response())
}

/// Get Event Type
#[utoipa::path(get, path = "/api/v1/event-type/{event_type_name}", tag = TAG,
    operation_id = "v1.event-type.get",
    responses((status = 200, body = EventTypeOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    let et = state
        .store
        .get_event_type(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    Ok(Json(EventTypeOut::new(et, true)))
}

/// Update Event Type
///
/// Creates the event type when none has the path's name.
#[utoipa::path(put, path = "/api/v1/event-type/{event_type_name}", tag = TAG,
    operation_id = "v1.event-type.update", request_body = EventTypeIn,
    responses((status = 200, body = EventTypeOut, description = "updated"),
        (status = 201, body = EventTypeOut, description = "created")))]
async fn update(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<EventTypeIn>,
) -> ApiResult<Response> {
    let name = EventTypeName::parse(name)
        .map_err(|e| ApiError::invalid(&["path", "event_type_name"], e.to_string()))?;
    let (created, et) = store_event_type(&state, name, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(EventTypeOut::new(et, true))).into_response())
}

/// Patch Event Type
#[utoipa::path(patch, path = "/api/v1/event-type/{event_type_name}", tag = TAG,
    operation_id = "v1.event-type.patch", request_body = EventTypePatch,
    responses((status = 200, body = EventTypeOut)))]
async fn patch(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let mut et = state
        .store
        .get_event_type(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    if let Some(schemas) = body.schemas {
        check_schemas(&schemas)?;
        et.schemas = schemas;
    }
    if let Some(d) = body.description {
        et.description = d;
    }
    if let Some(a) = body.archived {
        et.archived = a;
    }
    if let Some(d) = body.deprecated {
        et.deprecated = d;
    }
    if let Some(f) = body.feature_flag {
        et.feature_flag = f.map(String::from);
    }
    if let Some(f) = body.feature_flags {
        et.feature_flags = f.map(flag_names);
    }
    if let Some(g) = body.group_name {
        et.group_name = g;
    }
    et.updated_at = now_millis();
    state.store.upsert_event_type(et.clone()).await?;
    Ok(Json(EventTypeOut::new(et, true)))
}

/// Delete Event Type
///
/// Archives it, or with `expunge=true` deletes it.
#[utoipa::path(delete, path = "/api/v1/event-type/{event_type_name}", tag = TAG,
    operation_id = "v1.event-type.delete", params(DeleteParams),
    responses((status = 204)))]
async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(params): QueryParams<DeleteParams>,
) -> ApiResult<StatusCode> {
    let mut et = state
        .store
        .get_event_type(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    if params.expunge {
        state.store.delete_event_type(&name).await?;
    } else {
        et.archived = true;
        et.updated_at = now_millis();
        state.store.upsert_event_type(et).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
