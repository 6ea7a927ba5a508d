//! Dead letters across apps and handlers: `/api/v1/dead-letter`.
//!
//! - `GET /api/v1/dead-letter` lists dead deliveries to endpoints and dead handler runs
//!   together, by when they died, newest first, filtered by app, endpoint, handler, event type
//!   and a window of death times.
//! - `POST /api/v1/dead-letter/recover` makes those the same filters (or a list of ids) name
//!   due again, as manual attempts, and says how many.
//!
//! Admin and read-only tokens list; admin tokens recover. App tokens use their app's
//! endpoint routes (`…/endpoint/{id}/msg?status=2`, `…/recover`) instead.

use axum::Json;
use axum::extract::State;
use rustyhook_core::id::EndpointId;
use rustyhook_core::time::{Millis, now_millis, to_rfc3339};
use rustyhook_store::{
    Cursor, DeadCursor, DeadKey, DeadLetter, DeadLetterFilter, DeadPage, DeadTarget, Order,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{load_app, load_endpoint};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The most dead letters one recover makes due: one short statement; call again while the
/// answer says `done: false`.
pub const RECOVER_MAX: usize = 10_000;

/// The most ids one recover names.
const MAX_IDS: usize = 1_000;

const TAG: &str = "Dead letter";

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(recover))
}

/// `DeadLetterOut`: a dead delivery to an endpoint, or a dead handler run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadLetterOut {
    /// The delivery's id, or the run's: what `recover`'s `ids` take.
    id: String,
    /// `endpoint` (a message's delivery to an endpoint) or `handler` (a handler's run).
    kind: &'static str,
    /// The message's app (`endpoint` only).
    app_id: Option<String>,
    /// The endpoint (`endpoint` only).
    endpoint_id: Option<String>,
    /// The endpoint's URL (`endpoint` only; `null` once the endpoint is deleted).
    endpoint_url: Option<String>,
    /// The message (`endpoint` only).
    msg_id: Option<String>,
    /// The handler (`handler` only).
    handler_id: Option<String>,
    /// The run, the same as `id` (`handler` only).
    run_id: Option<String>,
    /// The message's event type, or the run's event's.
    event_type: String,
    /// Attempts made.
    attempts: u32,
    /// The last attempt's HTTP status: 0 when no response came (and for runs).
    last_status_code: Option<u16>,
    /// The last attempt's outcome code (`E_HTTP_STATUS`, `E_TIMEOUT`, `E_EXIT_CODE`, …).
    last_outcome: Option<&'static str>,
    /// The last attempt's exit code (`handler` only).
    last_exit_code: Option<i32>,
    /// When it died: its last attempt failed with none left.
    dead_at: String,
    /// When the delivery or run was created.
    created_at: String,
}

impl From<DeadLetter> for DeadLetterOut {
    fn from(d: DeadLetter) -> Self {
        let (kind, app_id, endpoint_id, endpoint_url, msg_id, handler_id, run_id) = match d.target {
            DeadTarget::Endpoint {
                app_id,
                endpoint_id,
                url,
                msg_id,
            } => (
                "endpoint",
                Some(app_id.into()),
                Some(endpoint_id.into()),
                url,
                Some(msg_id.into()),
                None,
                None,
            ),
            DeadTarget::Handler { handler_id } => (
                "handler",
                None,
                None,
                None,
                None,
                Some(handler_id),
                Some(d.id.clone()),
            ),
        };
        Self {
            id: d.id,
            kind,
            app_id,
            endpoint_id,
            endpoint_url,
            msg_id,
            handler_id,
            run_id,
            event_type: d.event_type,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_outcome: d.last_outcome.map(|o| o.as_str()),
            last_exit_code: d.last_exit_code,
            dead_at: to_rfc3339(d.died_at),
            created_at: to_rfc3339(d.created_at),
        }
    }
}

/// The filters, as the query string (list) or the body (recover) gives them.
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct DeadLetterFilters {
    /// Only deliveries of this app's messages (its id or uid).
    #[serde(default)]
    app: Option<String>,
    /// Only deliveries to this endpoint (its id; or its uid, with `app`).
    #[serde(default)]
    endpoint: Option<String>,
    /// Only runs of this handler.
    #[serde(default)]
    handler: Option<String>,
    /// Only of this event type.
    #[serde(default)]
    event_type: Option<String>,
    /// Only those that died at or after this time (RFC 3339).
    #[serde(default)]
    since: Option<String>,
    /// Only those that died before this time (RFC 3339).
    #[serde(default)]
    until: Option<String>,
}

impl DeadLetterFilters {
    fn is_empty(&self) -> bool {
        [
            &self.app,
            &self.endpoint,
            &self.handler,
            &self.event_type,
            &self.since,
            &self.until,
        ]
        .iter()
        .all(|f| f.as_deref().is_none_or(str::is_empty))
    }

    /// The store's filter, looking up the app and endpoint named; `place` is `query` or `body`,
    /// for the fields errors name.
    async fn resolve(&self, state: &ApiState, place: &str) -> ApiResult<DeadLetterFilter> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let time = |name: &str, v: &Option<String>| -> ApiResult<Option<Millis>> {
            given(v)
                .map(|t| {
                    rustyhook_core::time::parse_rfc3339(&t).ok_or_else(|| {
                        ApiError::invalid(
                            &[place, name],
                            format!("{name} must be an RFC 3339 date-time"),
                        )
                    })
                })
                .transpose()
        };
        let (since, until) = (time("since", &self.since)?, time("until", &self.until)?);
        let app = match given(&self.app) {
            Some(a) => Some(load_app(state, &a).await?),
            None => None,
        };
        let endpoint_id = match (given(&self.endpoint), &app) {
            (None, _) => None,
            (Some(e), Some(app)) => Some(load_endpoint(state, app, &e).await?.id),
            (Some(e), None) => Some(EndpointId::parse(&e).ok_or_else(|| {
                ApiError::invalid(
                    &[place, "endpoint"],
                    "endpoint must be an endpoint id (ep_…), or give app too to name it by uid",
                )
            })?),
        };
        Ok(DeadLetterFilter {
            app_id: app.map(|a| a.id),
            endpoint_id,
            handler_id: given(&self.handler),
            event_type: given(&self.event_type),
            since,
            until,
            ids: None,
        })
    }
}

/// List Dead Letters
///
/// Dead deliveries to endpoints and dead handler runs, across apps and handlers, by when they
/// died, newest first. Each page is read from an index over dead rows alone.
#[utoipa::path(get, path = "/api/v1/dead-letter", tag = TAG,
    operation_id = "v1.dead-letter.list", params(ListParams, DeadLetterFilters),
    responses((status = 200, body = ListResponse<DeadLetterOut>)))]
async fn list(
    State(state): State<ApiState>,
    QueryParams(filters): QueryParams<DeadLetterFilters>,
    QueryParams(page): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<DeadLetterOut>>> {
    let page = page.page(Order::Descending, |k| DeadKey::parse(k).is_some())?;
    if page.order != Order::Descending {
        return Err(ApiError::invalid(
            &["query", "order"],
            "dead letters are listed newest first only: leave order out",
        ));
    }
    let cursor = page.cursor.as_ref().map(|c| match c {
        Cursor::After(k) => DeadCursor::After(DeadKey::parse(k).expect("checked by page()")),
        Cursor::Before(k) => DeadCursor::Before(DeadKey::parse(k).expect("checked by page()")),
    });
    let filter = filters.resolve(&state, "query").await?;
    let listed = state
        .store
        .list_dead_letters(
            filter,
            DeadPage {
                limit: page.limit,
                cursor,
            },
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |d| DeadKey::of(d).to_string(),
        DeadLetterOut::from,
    )))
}

/// `DeadLetterRecoverIn`: which dead letters to recover: the list's filters, `ids`, or both
/// (then both must hold); `all: true` alone recovers every dead letter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadLetterRecoverIn {
    #[serde(flatten)]
    filters: DeadLetterFilters,
    /// Delivery or run ids, as the list gives them (at most 1000).
    #[serde(default)]
    ids: Option<Vec<String>>,
    /// With no filter and no ids: every dead letter. Required then, so that an empty body
    /// recovers nothing by mistake.
    #[serde(default)]
    all: bool,
}

/// `DeadLetterRecoverOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadLetterRecoverOut {
    /// How many dead deliveries and runs this call made due again.
    recovered: u64,
    /// False when the call stopped at its cap (10 000) and more may match: call again.
    done: bool,
}

/// Recover Dead Letters
///
/// Makes the dead deliveries and runs the filters or ids name due again now, as manual
/// attempts (at most 10 000 a call, the newest first). A dead letter is recovered once: of
/// two calls at once, each takes a given one or neither does.
#[utoipa::path(post, path = "/api/v1/dead-letter/recover", tag = TAG,
    operation_id = "v1.dead-letter.recover", request_body = DeadLetterRecoverIn,
    responses((status = 200, body = DeadLetterRecoverOut)))]
async fn recover(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<DeadLetterRecoverIn>,
) -> ApiResult<Json<DeadLetterRecoverOut>> {
    if let Some(ids) = &body.ids {
        if ids.is_empty() || ids.len() > MAX_IDS {
            return Err(ApiError::invalid(
                &["body", "ids"],
                format!("ids must list 1 to {MAX_IDS} ids"),
            ));
        }
        if let Some(bad) = ids.iter().find(|id| !looks_like_id(id)) {
            return Err(ApiError::invalid(
                &["body", "ids"],
                format!("{bad:?} is not a delivery or run id"),
            ));
        }
    }
    if body.ids.is_none() && body.filters.is_empty() && !body.all {
        return Err(ApiError::invalid(
            &["body"],
            "name what to recover: ids, a filter (app, endpoint, handler, eventType, since, \
             until), or all: true",
        ));
    }
    let mut filter = body.filters.resolve(&state, "body").await?;
    filter.ids = body.ids;
    let recovered = state
        .store
        .recover_dead_letters(filter, now_millis(), RECOVER_MAX)
        .await?;
    tracing::info!(recovered, "dead letters recovered");
    if recovered > 0 {
        state.dispatcher.wake();
    }
    Ok(Json(DeadLetterRecoverOut {
        recovered,
        done: recovered < RECOVER_MAX as u64,
    }))
}

/// Whether `id` could be a delivery's or run's id: ids are letters, digits and `_`.
fn looks_like_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
