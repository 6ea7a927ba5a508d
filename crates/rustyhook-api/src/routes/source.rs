//! `/api/v1/source/...`: the configured broker sources, and the messages each rejected (could
//! not parse or store) — kept here because the broker only dead-letters them.

use axum::Json;
use axum::extract::{Path, State};
use rustyhook_core::id::RejectedId;
use rustyhook_core::sources::{Broker, Format, SourceConfig};
use rustyhook_core::time::to_rfc3339;
use rustyhook_engine::sources::status::SourceState;
use rustyhook_store::{Order, PauseScope, RejectedMessage};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::pause::paused_in;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(list_rejected))
}

const TAG: &str = "Source";

/// A source as listed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceOut {
    name: String,
    /// `redis`, `rabbitmq` or `nats`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The stream, queue or JetStream stream read.
    reads: String,
    /// `native` or `sendhooks`.
    format: &'static str,
    app: Option<String>,
    handler: Option<String>,
    /// Whether it is paused (`/api/v1/pause/source/{name}`): reading nothing from its broker.
    paused: bool,
    /// How many messages wait in its broker, not yet stored (see docs/sources.md for what each
    /// broker counts), as this node last measured it (every 5 seconds); `null` until measured,
    /// or when this node does not read the source.
    lag: Option<u64>,
    /// When `lag` was measured.
    lag_at: Option<String>,
    /// What this node's reader of the source is doing: `starting`, `reading`, `paused` or
    /// `reconnecting`; `null` when this node does not read it (`--role api`).
    state: Option<&'static str>,
    /// Since when it has been doing that.
    since: Option<String>,
    /// Why it is reconnecting; `null` in the other states.
    last_error: Option<String>,
}

impl SourceOut {
    fn new(c: &SourceConfig, paused: bool, status: Option<SourceState>) -> Self {
        let (kind, reads) = match &c.broker {
            Broker::Redis(r) => ("redis", r.stream.clone()),
            Broker::Rabbitmq(a) => ("rabbitmq", a.queue.clone()),
            Broker::Nats(n) => ("nats", n.stream.clone()),
        };
        Self {
            name: c.name(),
            kind,
            reads,
            format: match c.format {
                Format::Native => "native",
                Format::Sendhooks => "sendhooks",
            },
            app: c.app.clone(),
            handler: c.handler.clone(),
            paused,
            lag: status.as_ref().and_then(|s| s.lag),
            lag_at: status.as_ref().and_then(|s| s.lag_at).map(to_rfc3339),
            state: status.as_ref().map(|s| s.activity.as_str()),
            since: status.as_ref().map(|s| to_rfc3339(s.since)),
            last_error: status.and_then(|s| s.last_error),
        }
    }
}

/// A rejected broker message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedOut {
    id: String,
    source: String,
    broker_id: String,
    reason: String,
    body: String,
    timestamp: String,
}

impl From<RejectedMessage> for RejectedOut {
    fn from(r: RejectedMessage) -> Self {
        Self {
            id: r.id,
            source: r.source,
            broker_id: r.broker_id,
            reason: r.reason,
            body: r.body,
            timestamp: to_rfc3339(r.created_at),
        }
    }
}

/// List Sources
#[utoipa::path(get, path = "/api/v1/source", tag = TAG, operation_id = "v1.source.list",
    responses((status = 200, body = ListResponse<SourceOut>)))]
async fn list(State(state): State<ApiState>) -> ApiResult<Json<ListResponse<SourceOut>>> {
    let paused = paused_in(&state, PauseScope::Source).await?;
    Ok(Json(ListResponse {
        data: state
            .sources
            .iter()
            .map(|c| {
                let name = c.name();
                SourceOut::new(c, paused.contains(&name), state.source_states.get(&name))
            })
            .collect(),
        iterator: None,
        prev_iterator: None,
        done: true,
    }))
}

/// List Rejected Source Messages
///
/// The messages the source read but could not parse or store, newest first.
#[utoipa::path(get, path = "/api/v1/source/{source_name}/rejected", tag = TAG,
    operation_id = "v1.source.rejected.list", params(ListParams),
    responses((status = 200, body = ListResponse<RejectedOut>)))]
async fn list_rejected(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<RejectedOut>>> {
    if !state.sources.iter().any(|s| s.name() == name) {
        return Err(ApiError::not_found("source"));
    }
    let listed = state
        .store
        .list_rejected(
            Some(name),
            params.page(Order::Descending, |k| RejectedId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |r| r.id.clone(),
        RejectedOut::from,
    )))
}
