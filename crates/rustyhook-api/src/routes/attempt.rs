//! Attempts and where a message went: `/api/v1/app/{app_id}/attempt/…`,
//! `…/msg/{msg_id}/attempt…`, `…/msg/{msg_id}/endpoint…` (with resend), and
//! `…/endpoint/{endpoint_id}/msg`.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::id::{AttemptId, EndpointId, MessageId};
use rustyhook_core::model::{Attempt, Delivery, Endpoint, Message};
use rustyhook_core::names::{Channel, EventTypeName};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{AttemptFilter, Order};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MessageAttemptOut {
    id: String,
    msg_id: String,
    endpoint_id: String,
    url: String,
    /// The response body (capped); `EXPUNGED` once deleted, empty with `with_content=false`.
    response: String,
    response_status_code: u16,
    response_duration_ms: i64,
    /// Svix's `MessageStatus`: 0 success, 2 fail.
    status: u8,
    /// `success` or `fail`.
    status_text: &'static str,
    /// Svix's `MessageAttemptTriggerType`: 0 scheduled, 1 manual.
    trigger_type: u8,
    timestamp: String,
    /// A stable code for what happened: `OK`, `E_HTTP_STATUS`, `E_TIMEOUT`, `E_CONNECT`, …
    outcome: &'static str,
    /// The headers rustyhook sent (names in lower case): `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature` (or the endpoint's style's), `content-type`, `user-agent` and the
    /// endpoint's own headers, with the values of credentials (`authorization`, `cookie`,
    /// names holding `token`, `key`, `secret` or `password`) shown as `[REDACTED]`. `null`
    /// when nothing was sent (a disabled endpoint, a deleted payload) or for attempts made
    /// before rustyhook kept them.
    request_headers: Option<BTreeMap<String, String>>,
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
            request_headers: a.request_headers,
            msg: None,
        }
    }
}

/// `EndpointMessageOut`: a message with its delivery state for one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndpointMessageOut {
    id: String,
    event_type: String,
    event_id: Option<String>,
    channels: Option<Vec<Channel>>,
    tags: Option<Vec<String>>,
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    timestamp: String,
    /// Svix's `MessageStatus`: 0 success, 1 pending, 2 fail, 3 sending.
    status: u8,
    status_text: &'static str,
    next_attempt: Option<String>,
}

/// `MessageEndpointOut`: an endpoint (as `EndpointOut`) with the message's delivery state there.
#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AttemptParams {
    #[serde(flatten)]
    #[param(ignore)]
    page: ListParams,
    /// Only attempts with this `status` (0 to 3).
    #[param(minimum = 0, maximum = 3)]
    status: Option<u8>,
    /// Only attempts whose response status is in this class: 0 (none), 100, 200, 300, 400
    /// or 500.
    status_code_class: Option<u16>,
    /// Only attempts of messages sent on this channel.
    #[param(value_type = Option<String>)]
    channel: Option<Channel>,
    /// Only attempts to this endpoint (id or uid).
    endpoint_id: Option<String>,
    /// Only attempts made before this RFC 3339 time.
    before: Option<String>,
    /// Only attempts made after this RFC 3339 time.
    after: Option<String>,
    /// `false` leaves the response bodies out.
    #[serde(default = "query::yes", deserialize_with = "query::flag")]
    #[param(default = true)]
    with_content: bool,
    /// Include each attempt's message (Svix's `with_msg`).
    #[serde(default, deserialize_with = "query::flag")]
    with_msg: bool,
    /// Only attempts of messages of these types (repeated or comma-separated).
    #[serde(default, deserialize_with = "query::list")]
    #[param(value_type = Option<Vec<String>>)]
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
#[allow(deprecated)] // Svix's two older attempt lists, still served.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(by_endpoint))
        .routes(routes!(by_msg))
        .routes(routes!(endpoint_messages))
        .routes(routes!(by_msg_deprecated))
        .routes(routes!(fetch))
        .routes(routes!(expunge))
        .routes(routes!(destinations))
        .routes(routes!(by_msg_and_endpoint))
        .routes(routes!(resend))
}

const TAG: &str = "Message Attempt";

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

/// List Attempts By Endpoint
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = TAG,
    operation_id = "v1.message-attempt.list-by-endpoint", params(ListParams, AttemptParams),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
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

/// List Attempts By Msg
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = TAG,
    operation_id = "v1.message-attempt.list-by-msg", params(ListParams, AttemptParams),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
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

/// List Attempts (deprecated)
///
/// The older path of `v1.message-attempt.list-by-msg`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt", tag = TAG,
    operation_id = "v1.message-attempt.list-by-msg-deprecated",
    params(ListParams, AttemptParams),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
#[deprecated = "use v1.message-attempt.list-by-msg"]
async fn by_msg_deprecated(
    state: State<ApiState>,
    path: Path<(String, String)>,
    params: QueryParams<AttemptParams>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    by_msg(state, path, params).await
}

/// List Attempts For Endpoint (deprecated)
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt",
    tag = TAG, operation_id = "v1.message-attempt.list-by-endpoint-deprecated",
    params(ListParams, AttemptParams),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
#[deprecated = "use v1.message-attempt.list-by-msg with endpoint_id"]
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

/// Get Attempt
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", tag = TAG,
    operation_id = "v1.message-attempt.get",
    responses((status = 200, body = MessageAttemptOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<Json<MessageAttemptOut>> {
    let a = load_attempt(&state, ids).await?;
    Ok(Json(MessageAttemptOut::new(a, true)))
}

/// Delete Attempt Response Body
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
    tag = TAG, operation_id = "v1.message-attempt.expunge-content",
    responses((status = 204)))]
async fn expunge(
    State(state): State<ApiState>,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let a = load_attempt(&state, ids).await?;
    state.store.expunge_attempt(&a.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List Attempted Destinations
///
/// The endpoints the message was sent to, each with its delivery's state.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = TAG,
    operation_id = "v1.message-attempt.list-attempted-destinations", params(ListParams),
    responses((status = 200, body = ListResponse<MessageEndpointOut>)))]
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EndpointMessagesParams {
    #[serde(flatten)]
    #[param(ignore)]
    messages: ListMessagesParams,
    /// Only messages whose delivery to the endpoint has this `status` (0 to 3).
    #[param(minimum = 0, maximum = 3)]
    status: Option<u8>,
}

/// List Attempted Messages
///
/// The messages sent to an endpoint, each with its delivery's state there.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg", tag = TAG,
    operation_id = "v1.message-attempt.list-attempted-messages",
    params(ListParams, ListMessagesParams, EndpointMessagesParams),
    responses((status = 200, body = ListResponse<EndpointMessageOut>)))]
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

/// Resend Webhook
///
/// Makes the message's delivery to the endpoint due again, as a manual attempt.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
    tag = TAG, operation_id = "v1.message-attempt.resend",
    responses((status = 202, description = "the delivery is due again (an empty object)")))]
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
