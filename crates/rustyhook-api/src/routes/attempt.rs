//! Attempts and where a message went: `/api/v1/app/{app_id}/attempt/…`,
//! `…/msg/{msg_id}/attempt…`, `…/msg/{msg_id}/endpoint…` (with resend), and
//! `…/endpoint/{endpoint_id}/msg`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rustyhook_core::id::{AttemptId, EndpointId, MessageId};
use rustyhook_core::model::{Attempt, Delivery, Endpoint, Message};
use rustyhook_core::names::{Channel, EventTypeName};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{AttemptFilter, Order};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::common::{load_app, load_endpoint, load_message, time_param};
use super::endpoint::EndpointOut;
use super::message::{ListMessagesParams, MessageOut, payload_json};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::http::list::{ListParams, ListResponse};
use crate::http::query;
use crate::state::ApiState;

/// What Svix shows as the response of an attempt whose content was expunged.
const EXPUNGED: &str = "EXPUNGED";

/// `MessageAttemptOut`, plus rustyhook's stable `outcome` code.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageAttemptOut {
    id: String,
    msg_id: String,
    endpoint_id: String,
    url: String,
    response: String,
    response_status_code: u16,
    response_duration_ms: i64,
    status: u8,
    status_text: &'static str,
    trigger_type: u8,
    timestamp: String,
    outcome: &'static str,
    /// The attempted message, when the list was asked `with_msg=true` (Svix's `msg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<MessageOut>,
}

impl MessageAttemptOut {
    fn new(a: Attempt, with_content: bool) -> Self {
        let ok = a.outcome == rustyhook_core::outcome::OutcomeCode::Ok;
        Self {
            id: a.id.into(),
            msg_id: a.msg_id.into(),
            endpoint_id: a.endpoint_id.into(),
            url: a.url,
            response: if with_content {
                a.response.unwrap_or_else(|| EXPUNGED.into())
            } else {
                String::new()
            },
            response_status_code: a.status_code,
            response_duration_ms: a.duration_ms,
            status: if ok { 0 } else { 2 },
            status_text: if ok { "success" } else { "fail" },
            trigger_type: a.trigger as u8,
            timestamp: to_rfc3339(a.created_at),
            outcome: a.outcome.as_str(),
            msg: None,
        }
    }
}

/// `EndpointMessageOut`: a message with its delivery state for one endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointMessageOut {
    id: String,
    event_type: String,
    event_id: Option<String>,
    channels: Option<Vec<Channel>>,
    tags: Option<Vec<String>>,
    payload: Box<RawValue>,
    timestamp: String,
    status: u8,
    status_text: &'static str,
    next_attempt: Option<String>,
}

/// `MessageEndpointOut`: an endpoint (as `EndpointOut`) with the message's delivery state there.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageEndpointOut {
    #[serde(flatten)]
    endpoint: EndpointOut,
    status: u8,
    status_text: &'static str,
    next_attempt: Option<String>,
}

impl MessageEndpointOut {
    fn new((d, e): (Delivery, Endpoint)) -> Self {
        Self {
            endpoint: e.into(),
            status: d.status.svix_status(),
            status_text: d.status.svix_status_text(),
            next_attempt: d.next_attempt_at.map(to_rfc3339),
        }
    }
}

#[derive(Debug, Deserialize)]
struct AttemptParams {
    #[serde(flatten)]
    page: ListParams,
    status: Option<u8>,
    status_code_class: Option<u16>,
    channel: Option<Channel>,
    endpoint_id: Option<String>,
    before: Option<String>,
    after: Option<String>,
    #[serde(default = "query::yes", deserialize_with = "query::flag")]
    with_content: bool,
    /// Include each attempt's message (Svix's `with_msg`).
    #[serde(default, deserialize_with = "query::flag")]
    with_msg: bool,
    #[serde(default, deserialize_with = "query::list")]
    event_types: Option<Vec<EventTypeName>>,
}

impl AttemptParams {
    fn filter(&self) -> ApiResult<AttemptFilter> {
        if let Some(s) = self.status
            && s > 3
        {
            return Err(ApiError::invalid(
                &["query", "status"],
                "status must be 0, 1, 2 or 3",
            ));
        }
        if let Some(c) = self.status_code_class
            && !matches!(c, 0 | 100 | 200 | 300 | 400 | 500)
        {
            return Err(ApiError::invalid(
                &["query", "status_code_class"],
                "status_code_class must be 0, 100, 200, 300, 400 or 500",
            ));
        }
        Ok(AttemptFilter {
            msg_id: None,
            endpoint_id: None,
            status: self.status,
            status_code_class: self.status_code_class,
            channel: self.channel.clone(),
            event_types: self.event_types.clone().filter(|t| !t.is_empty()),
            before: time_param("before", self.before.as_deref())?,
            after: time_param("after", self.after.as_deref())?,
        })
    }
}

/// The routes.
pub fn router() -> Router<ApiState> {
    let msg = "/api/v1/app/{app_id}/msg/{msg_id}";
    Router::new()
        .route(
            "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
            get(by_endpoint),
        )
        .route("/api/v1/app/{app_id}/attempt/msg/{msg_id}", get(by_msg))
        .route(
            "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg",
            get(endpoint_messages),
        )
        .route(&format!("{msg}/attempt"), get(by_msg))
        .route(&format!("{msg}/attempt/{{attempt_id}}"), get(fetch))
        .route(
            &format!("{msg}/attempt/{{attempt_id}}/content"),
            delete(expunge),
        )
        .route(&format!("{msg}/endpoint"), get(destinations))
        .route(
            &format!("{msg}/endpoint/{{endpoint_id}}/attempt"),
            get(by_msg_and_endpoint),
        )
        .route(
            &format!("{msg}/endpoint/{{endpoint_id}}/resend"),
            post(resend),
        )
}

async fn list_attempts(
    state: &ApiState,
    app: &rustyhook_core::model::App,
    filter: AttemptFilter,
    params: &AttemptParams,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let listed = state
        .store
        .list_attempts(
            &app.id,
            filter,
            params
                .page
                .page(Order::Descending, |k| AttemptId::parse(k).is_some())?,
        )
        .await?;
    let with_content = params.with_content;
    let mut out = ListResponse::from_listed(
        listed,
        |a| a.id.to_string(),
        |a| MessageAttemptOut::new(a, with_content),
    );
    if params.with_msg {
        attach_messages(state, app, &mut out.data, with_content).await?;
    }
    Ok(Json(out))
}

/// Fills in each attempt's `msg`, reading each message once per page.
async fn attach_messages(
    state: &ApiState,
    app: &rustyhook_core::model::App,
    attempts: &mut [MessageAttemptOut],
    with_content: bool,
) -> ApiResult<()> {
    let mut seen: HashMap<String, Option<Message>> = HashMap::new();
    for a in attempts.iter_mut() {
        if !seen.contains_key(&a.msg_id) {
            let m = state.store.get_message(&app.id, &a.msg_id).await?;
            seen.insert(a.msg_id.clone(), m);
        }
        a.msg = seen
            .get(&a.msg_id)
            .and_then(|m| m.clone())
            .map(|m| MessageOut::new(m, with_content));
    }
    Ok(())
}

async fn by_endpoint(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<AttemptParams>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let filter = AttemptFilter {
        endpoint_id: Some(e.id),
        ..params.filter()?
    };
    list_attempts(&state, &app, filter, &params).await
}

async fn by_msg(
    State(state): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<AttemptParams>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    let endpoint_id = match &params.endpoint_id {
        Some(id) => Some(load_endpoint(&state, &app, id).await?.id),
        None => None,
    };
    let filter = AttemptFilter {
        msg_id: Some(m.id),
        endpoint_id,
        ..params.filter()?
    };
    list_attempts(&state, &app, filter, &params).await
}

async fn by_msg_and_endpoint(
    State(state): State<ApiState>,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
    QueryParams(params): QueryParams<AttemptParams>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let filter = AttemptFilter {
        msg_id: Some(m.id),
        endpoint_id: Some(e.id),
        ..params.filter()?
    };
    list_attempts(&state, &app, filter, &params).await
}

/// Finds an attempt of a message of an app, or 404.
async fn load_attempt(
    state: &ApiState,
    (app_id, msg_id, attempt_id): (String, String, String),
) -> ApiResult<Attempt> {
    let app = load_app(state, &app_id).await?;
    let m = load_message(state, &app, &msg_id).await?;
    state
        .store
        .get_attempt(&m.id, &attempt_id)
        .await?
        .ok_or_else(|| ApiError::not_found("attempt"))
}

async fn fetch(
    State(state): State<ApiState>,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<Json<MessageAttemptOut>> {
    let a = load_attempt(&state, ids).await?;
    Ok(Json(MessageAttemptOut::new(a, true)))
}

async fn expunge(
    State(state): State<ApiState>,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let a = load_attempt(&state, ids).await?;
    state.store.expunge_attempt(&a.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn destinations(
    State(state): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<MessageEndpointOut>>> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    let listed = state
        .store
        .list_message_deliveries(
            &m.id,
            params.page(Order::Ascending, |k| EndpointId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |(_, e)| e.id.to_string(),
        MessageEndpointOut::new,
    )))
}

#[derive(Debug, Deserialize)]
struct EndpointMessagesParams {
    #[serde(flatten)]
    messages: ListMessagesParams,
    status: Option<u8>,
}

async fn endpoint_messages(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<EndpointMessagesParams>,
) -> ApiResult<Json<ListResponse<EndpointMessageOut>>> {
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    let p = &params.messages;
    let listed = state
        .store
        .list_endpoint_messages(
            &e.id,
            params.status,
            p.filter()?,
            p.page
                .page(Order::Descending, |k| MessageId::parse(k).is_some())?,
        )
        .await?;
    let with_content = p.with_content;
    Ok(Json(ListResponse::from_listed(
        listed,
        |em| em.message.id.to_string(),
        |em| EndpointMessageOut {
            payload: payload_json(&em.message, with_content),
            id: em.message.id.into(),
            event_type: em.message.event_type.into(),
            event_id: em.message.event_id.map(String::from),
            channels: em.message.channels,
            tags: em.message.tags,
            timestamp: to_rfc3339(em.message.created_at),
            status: em.delivery.status.svix_status(),
            status_text: em.delivery.status.svix_status_text(),
            next_attempt: em.delivery.next_attempt_at.map(to_rfc3339),
        },
    )))
}

async fn resend(
    State(state): State<ApiState>,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    if m.payload.is_none() {
        return Err(ApiError::bad_request(
            "payload_expunged",
            "the message's payload was deleted, so it cannot be resent",
        ));
    }
    state.store.resend(&m, &e, now_millis()).await?;
    state.dispatcher.wake();
    // `{}`: Svix's current SDKs parse an empty object; older ones ignore the body.
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}
