//! Messages: `/api/v1/app/{app_id}/msg`. Creating one goes through the engine's
//! [`Ingest`](rustyhook_engine::Ingest), which stores it with its deliveries in one transaction
//! and hands those deliveries straight to the dispatcher.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::{App, Message};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{MessageFilter, Order};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::app::ApplicationIn;
use super::common::{finish, load_app, load_message, time_param};
use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::http::query;
use crate::state::ApiState;

/// `MessageIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MessageIn {
    event_type: EventTypeName,
    /// The event's JSON object, sent as the webhook's body.
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    #[serde(default)]
    event_id: Option<Uid>,
    #[serde(default)]
    channels: Option<Vec<Channel>>,
    /// Each 1 to 128 letters, digits or any of `-_./\#`.
    #[serde(default)]
    tags: Option<Vec<String>>,
    /// Days the payload is kept: 5 to 90.
    #[serde(default)]
    payload_retention_period: Option<i64>,
    /// Creates the app (with the path's id as its uid) when it does not exist.
    #[serde(default)]
    application: Option<ApplicationIn>,
    /// When to deliver (RFC 3339), at most [`MAX_DELAY`] ahead; absent or past means now.
    #[serde(default)]
    deliver_at: Option<String>,
}

/// How far ahead `deliverAt` may be: Svix's limit.
const MAX_DELAY: i64 = 24 * 60 * 60 * 1000;

impl MessageIn {
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if !self.payload.get().trim_start().starts_with('{') {
            errors.push(ValidationItem::new(
                &["body", "payload"],
                "payload must be a JSON object",
            ));
        }
        if let Some(chans) = &self.channels {
            if chans.is_empty() || chans.len() > 5 {
                errors.push(ValidationItem::new(
                    &["body", "channels"],
                    "channels must have between 1 and 5 items",
                ));
            }
            if chans.iter().collect::<HashSet<_>>().len() != chans.len() {
                errors.push(ValidationItem::new(
                    &["body", "channels"],
                    "channels must be unique",
                ));
            }
        }
        if let Some(tags) = &self.tags {
            check_tags(tags, &mut errors);
        }
        if let Some(at) = self.deliver_at.as_deref() {
            match rustyhook_core::time::parse_rfc3339(at) {
                None => errors.push(ValidationItem::new(
                    &["body", "deliverAt"],
                    format!("{at:?} is not an RFC 3339 date-time"),
                )),
                Some(t) if t > now_millis() + MAX_DELAY => errors.push(ValidationItem::new(
                    &["body", "deliverAt"],
                    "deliverAt must be no more than 24 hours in the future",
                )),
                Some(_) => {}
            }
        }
        if let Some(p) = self.payload_retention_period
            && !(5..=90).contains(&p)
        {
            errors.push(ValidationItem::new(
                &["body", "payloadRetentionPeriod"],
                "payloadRetentionPeriod must be between 5 and 90 days",
            ));
        }
        finish(errors)
    }
}

/// Svix's tag rule: 1 to 128 characters of letters, digits and `-_./\#`. A comma can then
/// never be part of a tag, so `tag=a,b` in a list query is unambiguous.
fn check_tags(tags: &[String], errors: &mut Vec<ValidationItem>) {
    let ok = |t: &String| {
        (1..=128).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./\\#".contains(&b))
    };
    if let Some(bad) = tags.iter().find(|t| !ok(t)) {
        errors.push(ValidationItem::new(
            &["body", "tags"],
            format!("tag {bad:?} must be 1 to 128 letters, digits or any of - _ . / \\ #"),
        ));
    }
}

/// Tags as stored: each once, in the order first given.
fn unique_tags(tags: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    tags.into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// `MessageOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    id: String,
    event_type: String,
    event_id: Option<String>,
    channels: Option<Vec<Channel>>,
    tags: Option<Vec<String>>,
    /// The payload; `{}` when asked `with_content=false`, `{"expired": true}` once deleted.
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    timestamp: String,
}

/// The payload shown once content was expunged or left out.
fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("{} is valid JSON")
}

/// What Svix shows in place of a payload that was expunged (or purged by retention).
const EXPIRED: &str = r#"{"expired":true}"#;

/// The stored payload as raw JSON; `{"expired": true}` once expunged, as Svix answers; `{}`
/// when not wanted.
pub(super) fn payload_json(m: &Message, with_content: bool) -> Box<RawValue> {
    match (&m.payload, with_content) {
        (_, false) => empty_object(),
        (Some(p), true) => RawValue::from_string(p.to_string()).unwrap_or_else(|_| empty_object()),
        (None, true) => {
            RawValue::from_string(EXPIRED.into()).expect("the expired marker is valid JSON")
        }
    }
}

impl MessageOut {
    /// Svix's shape of a message; `with_content: false` leaves the payload out.
    pub fn new(m: Message, with_content: bool) -> Self {
        Self {
            payload: payload_json(&m, with_content),
            id: m.id.into(),
            event_type: m.event_type.into(),
            event_id: m.event_id.map(String::from),
            channels: m.channels,
            tags: m.tags,
            timestamp: to_rfc3339(m.created_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WithContent {
    /// `false` leaves the payload out (`{}`).
    #[serde(default = "query::yes", deserialize_with = "query::flag")]
    #[param(default = true)]
    with_content: bool,
}

/// Query parameters of message and attempt lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListMessagesParams {
    #[serde(flatten)]
    #[param(ignore)]
    pub page: ListParams,
    /// Only messages sent on this channel.
    #[param(value_type = Option<String>)]
    pub channel: Option<Channel>,
    /// Only messages with any of these tags (Svix's `tag`; repeated or comma-separated).
    #[serde(default, deserialize_with = "query::list")]
    pub tag: Option<Vec<String>>,
    /// Only messages created before this RFC 3339 time.
    pub before: Option<String>,
    /// Only messages created after this RFC 3339 time.
    pub after: Option<String>,
    /// `false` leaves the payloads out.
    #[serde(default = "query::yes", deserialize_with = "query::flag")]
    #[param(default = true)]
    pub with_content: bool,
    /// Only messages of these types (repeated or comma-separated).
    #[serde(default, deserialize_with = "query::list")]
    #[param(value_type = Option<Vec<String>>)]
    pub event_types: Option<Vec<EventTypeName>>,
}

impl ListMessagesParams {
    /// The message filter these parameters describe.
    pub fn filter(&self) -> ApiResult<MessageFilter> {
        Ok(MessageFilter {
            channel: self.channel.clone(),
            tags: self.tag.clone().filter(|t| !t.is_empty()),
            event_types: self.event_types.clone().filter(|t| !t.is_empty()),
            before: time_param("before", self.before.as_deref())?,
            after: time_param("after", self.after.as_deref())?,
        })
    }
}

/// The message routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch))
        .routes(routes!(expunge))
}

const TAG: &str = "Message";

async fn app_for_message(state: &ApiState, app_id: &str, body: &mut MessageIn) -> ApiResult<App> {
    if let Some(app) = state.store.get_app(app_id).await? {
        return Ok(app);
    }
    let Some(mut spec) = body.application.take() else {
        return Err(ApiError::not_found("application"));
    };
    if spec.uid().is_none() {
        let uid = Uid::parse(app_id)
            .map_err(|e| ApiError::invalid(&["path", "app_id"], e.to_string()))?;
        spec = spec.with_uid(uid);
    }
    let app = spec.into_new_app(now_millis())?;
    match state.store.create_app(app).await {
        Ok(app) => Ok(app),
        // Created concurrently by another request with the same uid.
        Err(rustyhook_store::StoreError::Conflict(_)) => {
            super::common::load_app(state, app_id).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Create Message
///
/// Stores the message and fans it out to every endpoint of the app whose filters accept it.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = TAG,
    operation_id = "v1.message.create", params(WithContent), request_body = MessageIn,
    responses((status = 202, body = MessageOut)))]
async fn create(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    QueryParams(params): QueryParams<WithContent>,
    JsonBody(mut body): JsonBody<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    body.validate()?;
    let app = app_for_message(&state, &app_id, &mut body).await?;
    let now = now_millis();
    let deliver_at = body
        .deliver_at
        .as_deref()
        .and_then(rustyhook_core::time::parse_rfc3339);
    let message = Message {
        id: MessageId::generate(now),
        app_id: app.id,
        event_id: body.event_id,
        event_type: body.event_type,
        payload: Some(body.payload.get().into()),
        channels: body.channels,
        tags: body.tags.map(unique_tags),
        created_at: now,
    };
    let created = state.ingest.create(message, None, deliver_at).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageOut::new(created.message, params.with_content)),
    ))
}

/// List Messages
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = TAG,
    operation_id = "v1.message.list", params(ListParams, ListMessagesParams),
    responses((status = 200, body = ListResponse<MessageOut>)))]
async fn list(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    QueryParams(params): QueryParams<ListMessagesParams>,
) -> ApiResult<Json<ListResponse<MessageOut>>> {
    let app = load_app(&state, &app_id).await?;
    let listed = state
        .store
        .list_messages(
            &app.id,
            params.filter()?,
            params
                .page
                .page(Order::Descending, |k| MessageId::parse(k).is_some())?,
        )
        .await?;
    let with_content = params.with_content;
    Ok(Json(ListResponse::from_listed(
        listed,
        |m| m.id.to_string(),
        |m| MessageOut::new(m, with_content),
    )))
}

/// Get Message
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = TAG,
    operation_id = "v1.message.get", params(WithContent),
    responses((status = 200, body = MessageOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<WithContent>,
) -> ApiResult<Json<MessageOut>> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    Ok(Json(MessageOut::new(m, params.with_content)))
}

/// Delete Message Payload
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/content", tag = TAG,
    operation_id = "v1.message.expunge-content",
    responses((status = 204)))]
async fn expunge(
    State(state): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let m = load_message(&state, &app, &msg_id).await?;
    state.store.expunge_message(&m.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
