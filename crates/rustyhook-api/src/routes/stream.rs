//! `GET /api/v1/stream`: the live feed as Server-Sent Events (see
//! [`rustyhook_engine::feed`] for how it is read).
//!
//! Each attempt is an `attempt` event (a handler run's, a `run` event), followed by a `dead`
//! event when it was the last attempt of a delivery (or run) now dead; the pair is written at
//! once and carries one `id:`, the attempt id, which the client sends back as `Last-Event-ID`
//! to resume. An endpoint's change is an `endpoint` event, whose `id:` has the same form. `lag` says a slow client missed ring entries that are being read again; `reset`
//! that it was too far behind and goes on from now. A comment every [`KEEP_ALIVE`] keeps
//! proxies from closing an idle stream.
//!
//! Filters are query parameters: `app` (id or uid), `endpoint` (id, or uid with `app`),
//! `handler` and `outcome` (`success`, `failure` or a code). A token limited to one app sees
//! only its app: its filter is held to that app, another app is a 404 as on every route, and
//! a handler filter a 403 (handler runs belong to no app). Browsers authenticate as on every
//! route, with the `Authorization` header: `EventSource` cannot send one, so the dashboard
//! reads the stream with `fetch`; tokens never go in URLs.

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rustyhook_core::id::AttemptId;
use rustyhook_core::time::to_rfc3339;
use rustyhook_engine::feed::{FeedFilter, FeedItem, OutcomeFilter, Subscription};
use rustyhook_store::{EndpointChange, FeedEntry, FeedRow, FeedTarget};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{load_app, load_endpoint};
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::state::ApiState;

/// How often an idle stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a browser's `EventSource` waits before reconnecting, told once at the start.
const RETRY_MS: u32 = 2_000;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(stream))
}

const TAG: &str = "Stream";

/// The query string: every filter given must hold.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StreamParams {
    /// Only this app's attempts: its id (`app_…`) or uid (404 if there is none). Handler runs
    /// belong to no app and are left out.
    app: Option<String>,
    /// Only attempts to this endpoint: its id (`ep_…`), or its uid together with `app`.
    endpoint: Option<String>,
    /// Only this handler's runs: its `id` in the config. Refused (403) to a token limited to
    /// one app.
    handler: Option<String>,
    /// Only attempts with this outcome: `success`, `failure`, or one code such as `OK` or
    /// `E_TIMEOUT`.
    outcome: Option<String>,
}

/// The `data` of an `attempt`, `run` or `dead` event: the ids of what was attempted, and how
/// it went. An endpoint's attempt has `appId`, `endpointId`, `msgId` and `deliveryId`; a
/// handler's run has `handlerId` and `runId`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamEventOut {
    /// The attempt (`atmpt_…`), also the event's `id:`.
    id: String,
    /// The app (`app_…`) of an endpoint's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<String>,
    /// The endpoint (`ep_…`) of an endpoint's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_id: Option<String>,
    /// The message (`msg_…`) of an endpoint's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    msg_id: Option<String>,
    /// The handler of a run's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    handler_id: Option<String>,
    /// The delivery (`dlv_…`) of an endpoint's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<String>,
    /// The run (`run_…`) of a handler's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
    /// The attempt's outcome code: `OK`, `E_HTTP_STATUS`, `E_TIMEOUT`, …, `E_EXIT_CODE` for a
    /// command.
    outcome: &'static str,
    /// The HTTP status answered (0 when none was).
    status_code: u16,
    /// A command's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    /// How long the attempt took.
    duration_ms: i64,
    /// Svix's trigger type: 0 scheduled, 1 manual (resend, recover).
    trigger_type: u8,
    /// When the attempt was made (RFC 3339).
    timestamp: String,
}

impl StreamEventOut {
    fn new(row: &FeedRow) -> Self {
        let mut out = Self {
            id: row.id.to_string(),
            app_id: None,
            endpoint_id: None,
            msg_id: None,
            handler_id: None,
            delivery_id: None,
            run_id: None,
            outcome: row.outcome.as_str(),
            status_code: row.status_code,
            exit_code: row.exit_code,
            duration_ms: row.duration_ms,
            trigger_type: u8::from(row.manual),
            timestamp: to_rfc3339(row.created_at),
        };
        match &row.target {
            FeedTarget::Endpoint {
                app_id,
                endpoint_id,
                msg_id,
            } => {
                out.app_id = Some(app_id.to_string());
                out.endpoint_id = Some(endpoint_id.to_string());
                out.msg_id = Some(msg_id.to_string());
                out.delivery_id = Some(row.delivery_id.clone());
            }
            FeedTarget::Handler { handler_id } => {
                out.handler_id = Some(handler_id.clone());
                out.run_id = Some(row.delivery_id.clone());
            }
        }
        out
    }
}

/// The `data` of an `endpoint` event: an endpoint's state changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamEndpointOut {
    /// The endpoint's app (`app_…`).
    app_id: String,
    /// The endpoint (`ep_…`).
    endpoint_id: String,
    /// What changed: `created`, `updated`, `deleted`, `disabled`, `enabled`, `paused`,
    /// `resumed`, `breaker_opened` or `breaker_closed`.
    change: String,
    /// For `disabled`: `automatic` (it failed too long, or answered `410 Gone`) or `manual`;
    /// for `paused`: the pause's reason, if it gave one; for `breaker_opened` and
    /// `breaker_closed`: the node whose breaker it is (each node has its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// When it changed (RFC 3339).
    timestamp: String,
}

impl StreamEndpointOut {
    fn new(c: &EndpointChange) -> Self {
        Self {
            app_id: c.app_id.to_string(),
            endpoint_id: c.endpoint_id.to_string(),
            change: c.change.clone(),
            detail: c.detail.clone(),
            timestamp: to_rfc3339(c.created_at),
        }
    }
}

/// The `data` of an event: an attempt's (`attempt`, `run`, `dead`) or an endpoint change's
/// (`endpoint`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StreamDataOut {
    /// An attempt, of an `attempt`, `run` or `dead` event.
    Attempt(StreamEventOut),
    /// An endpoint's change, of an `endpoint` event.
    Endpoint(StreamEndpointOut),
}

/// Live Feed (Server-Sent Events)
///
/// A `text/event-stream` of what happens as it happens, on every node of a cluster; it does
/// not end. Events: `attempt` (an attempt to an endpoint was recorded), `run` (an attempt of a
/// handler's run), each with `id:` the attempt id and `data:` a `StreamEventOut`; `endpoint`
/// (an endpoint was created, updated, deleted, disabled, enabled, paused or resumed), `data:` a
/// `StreamEndpointOut`, not shown under an `outcome` or `handler` filter; `dead` (that
/// attempt was the delivery's or run's last: a dead letter now), the same `data`, written with
/// its `attempt` or `run` in one chunk and carrying the `id:` itself; `lag` (this client read
/// too slowly and missed events, which follow, read again from the store), `data:`
/// `{"missed": n, "detail": "…"}`; `reset` (this client was more than 10,000 events behind
/// and the stream goes on from now), `data:` `{"detail": "…"}`. `retry: 2000` is sent once at
/// the start and a `: keep-alive` comment every 15 seconds while nothing happens. A token
/// limited to one app sees only its app.
#[utoipa::path(get, path = "/api/v1/stream", tag = TAG,
    operation_id = "v1.stream.get",
    params(StreamParams,
        ("Last-Event-ID" = Option<String>, Header,
            description = "The last `id:` seen (`atmpt_…`), to resume after a \
                disconnect: the stream starts with exactly the events missed.")),
    responses((status = 200, content_type = "text/event-stream", body = StreamDataOut,
        description = "the stream of events; the schema is that of the `data` of each \
            `attempt`, `run`, `dead` and `endpoint` event")))]
async fn stream(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<StreamParams>,
) -> ApiResult<Response> {
    let scope = principal.as_ref().and_then(|p| p.app_scope()).cloned();
    let resume = last_event_id(&headers)?;
    let filter = resolve_filter(&state, scope.as_ref().map(|a| a.as_str()), params).await?;
    let subscription = state.feed.subscribe(filter, resume);
    let frames = futures_util::stream::unfold(Frames::new(subscription), Frames::next);
    let mut response = Response::new(Body::from_stream(frames));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer responses (nginx) would hold events back.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The position to resume from: the `Last-Event-ID` header, an attempt id this route sent.
fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<AttemptId>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    AttemptId::parse(text).map(Some).ok_or_else(|| {
        ApiError::invalid(
            &["header", "last-event-id"],
            format!("{text:?} is not an event id this stream sent (atmpt_…)"),
        )
    })
}

/// Turns the query into a filter, looking up what it names; an app-scoped token's filter is
/// held to its app.
async fn resolve_filter(
    state: &ApiState,
    scope: Option<&str>,
    params: StreamParams,
) -> ApiResult<FeedFilter> {
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let outcome = non_empty(params.outcome)
        .map(|o| {
            OutcomeFilter::parse(&o).ok_or_else(|| {
                ApiError::invalid(
                    &["query", "outcome"],
                    format!("{o:?} is not an outcome: success, failure, or a code such as OK or E_TIMEOUT"),
                )
            })
        })
        .transpose()?;
    let handler_id = non_empty(params.handler);
    if let Some(h) = &handler_id {
        if scope.is_some() {
            return Err(ApiError::Http {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                detail: "a token limited to one app sees no handler runs: they belong to no app"
                    .into(),
            });
        }
        if state.automation.handlers().get(h).is_none() {
            return Err(ApiError::invalid(
                &["query", "handler"],
                format!("no handler has the id {h:?}"),
            ));
        }
    }
    let app = match (non_empty(params.app), scope) {
        // Named by id or uid, the app must be the token's own: another app is not found.
        (Some(named), Some(own)) => {
            let app = load_app(state, &named).await?;
            if app.id.as_str() != own {
                return Err(ApiError::not_found("application"));
            }
            Some(app)
        }
        (Some(named), None) => Some(load_app(state, &named).await?),
        (None, Some(own)) => Some(load_app(state, own).await?),
        (None, None) => None,
    };
    let endpoint_id =
        match (non_empty(params.endpoint), &app) {
            (Some(e), Some(app)) => Some(load_endpoint(state, app, &e).await?.id),
            (Some(e), None) => {
                let found = match rustyhook_core::id::EndpointId::parse(&e) {
                    Some(id) => state.store.get_endpoint_by_id(&id).await?,
                    None => None,
                };
                Some(found.ok_or_else(|| {
                ApiError::invalid(
                    &["query", "endpoint"],
                    format!("no endpoint has the id {e:?} (an endpoint's uid needs app= too)"),
                )
            })?.id)
            }
            (None, _) => None,
        };
    Ok(FeedFilter {
        app_id: app.map(|a| a.id),
        endpoint_id,
        handler_id,
        outcome,
    })
}

/// The stream's state: the subscription, and when the next keep-alive is due.
struct Frames {
    subscription: Subscription,
    started: bool,
}

impl Frames {
    fn new(subscription: Subscription) -> Self {
        Self {
            subscription,
            started: false,
        }
    }

    /// The next chunk of the body; `None` ends the stream (the server is shutting down).
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if !self.started {
            self.started = true;
            return Some((Ok(Bytes::from(format!("retry: {RETRY_MS}\n\n"))), self));
        }
        let item = match tokio::time::timeout(KEEP_ALIVE, self.subscription.next()).await {
            Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self)),
            Ok(None) => return None,
            Ok(Some(item)) => item,
        };
        Some((Ok(Bytes::from(frame(&item))), self))
    }
}

/// The SSE text of one item.
fn frame(item: &FeedItem) -> String {
    match item {
        FeedItem::Row { row, cursor } => match &**row {
            FeedEntry::Attempt(row) => attempt_frame(row, cursor),
            FeedEntry::Endpoint(change) => {
                let data = StreamDataOut::Endpoint(StreamEndpointOut::new(change));
                let data = serde_json::to_string(&data).expect("an event of strings serializes");
                format!("event: endpoint\nid: {cursor}\ndata: {data}\n\n")
            }
        },
        FeedItem::Lag { missed } => format!(
            "event: lag\ndata: {{\"missed\":{missed},\"detail\":\"this client read too slowly; the events it missed follow, read again from the store\"}}\n\n"
        ),
        FeedItem::Reset { cursor } => format!(
            "event: reset\nid: {cursor}\ndata: {{\"detail\":\"this client was too far behind; the stream goes on from now, and the attempts list has what was skipped\"}}\n\n"
        ),
    }
}

/// The SSE text of an attempt (and of the dead letter it made, if it did).
fn attempt_frame(row: &FeedRow, cursor: &str) -> String {
    let kind = match row.target {
        FeedTarget::Endpoint { .. } => "attempt",
        FeedTarget::Handler { .. } => "run",
    };
    let data = serde_json::to_string(&StreamDataOut::Attempt(StreamEventOut::new(row)))
        .expect("an event of strings and numbers serializes");
    // The id goes on the last event of the pair: a client cut off between the two gets both
    // again rather than neither.
    if row.dead {
        format!("event: {kind}\ndata: {data}\n\nevent: dead\nid: {cursor}\ndata: {data}\n\n")
    } else {
        format!("event: {kind}\nid: {cursor}\ndata: {data}\n\n")
    }
}
