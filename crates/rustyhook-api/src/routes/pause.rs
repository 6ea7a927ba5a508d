//! `/api/v1/pause/...`: pausing and resuming processing, for the whole server, an app, an
//! endpoint, a handler or a broker source, and how much waits behind each pause.
//!
//! - `GET /api/v1/pause` lists every pause in force, each with what it holds back.
//! - `GET`, `POST` (pause) and `DELETE` (resume) `/api/v1/pause/server` and
//!   `/api/v1/pause/{scope}/{id}`, where the scope is `app` (id or uid), `endpoint` (its
//!   `ep_…` id), `handler` (its id) or `source` (its name).
//!
//! While paused, messages and runs are still accepted and stored; their deliveries wait,
//! unattempted, and go out oldest first at the endpoint's rate limit once resumed. Pausing
//! twice keeps the first pause; resuming what is not paused changes nothing. Both answer the
//! state as it is afterwards. Writing takes a token that may write everything (the admin
//! token, or an `admin` token): pauses live outside `/api/v1/app/...`, so app tokens may only
//! not reach them, and read-only tokens may read them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use rustyhook_core::id::EndpointId;
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{Pause, PauseScope, Waiting};
use serde::{Deserialize, Serialize};

use super::common::load_app;
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::parse_json;
use crate::state::ApiState;

/// The longest reason kept with a pause, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/pause", get(list))
        .route(
            "/api/v1/pause/{scope}",
            get(fetch).post(pause).delete(resume),
        )
        .route(
            "/api/v1/pause/{scope}/{id}",
            get(fetch).post(pause).delete(resume),
        )
}

/// The path: a scope, and an id for every scope but the server.
#[derive(Debug, Deserialize)]
struct PausePath {
    scope: String,
    id: Option<String>,
}

/// What a pause request may carry (the body is optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseIn {
    /// Why, for whoever looks later.
    #[serde(default)]
    reason: Option<String>,
}

/// A target's pause state and what waits for it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseOut {
    scope: &'static str,
    /// The target's id; absent for the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    paused: bool,
    paused_at: Option<String>,
    paused_by: Option<String>,
    reason: Option<String>,
    /// Deliveries or runs pending or due to retry; `null` for a source, whose messages wait in
    /// its broker.
    waiting: Option<WaitingOut>,
}

/// How much waits, and since when.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingOut {
    count: u64,
    /// When the oldest waiting message (or run) was created.
    oldest_at: Option<String>,
    /// How long the oldest has waited, in seconds.
    oldest_age_secs: Option<f64>,
}

impl WaitingOut {
    fn new(w: Waiting, now: i64) -> Self {
        Self {
            count: w.count,
            oldest_at: w.oldest.map(to_rfc3339),
            oldest_age_secs: w.oldest.map(|t| (now - t).max(0) as f64 / 1000.0),
        }
    }
}

/// Reads the scope from the path, and checks that it is given an id exactly when it needs one.
fn scope_of(scope: &str, id: Option<&str>) -> ApiResult<PauseScope> {
    let names = PauseScope::ALL.map(PauseScope::as_str).join(", ");
    let scope = PauseScope::parse(scope).ok_or_else(|| {
        ApiError::invalid(
            &["path", "scope"],
            format!("{scope:?} is not a scope that can be paused; use one of {names}"),
        )
    })?;
    match (scope, id) {
        (PauseScope::Server, Some(_)) => Err(ApiError::invalid(
            &["path", "id"],
            "the server is paused as a whole: use /api/v1/pause/server, with no id",
        )),
        (PauseScope::Server, None) | (_, Some(_)) => Ok(scope),
        (_, None) => Err(ApiError::invalid(
            &["path", "id"],
            format!(
                "a {} is paused by id: use /api/v1/pause/{}/{{id}}",
                scope.as_str(),
                scope.as_str()
            ),
        )),
    }
}

/// The stored target of `id` in `scope`: an app's id (given its id or uid), an endpoint's id,
/// a handler's id, a source's name; `""` for the server. 404 when there is no such thing.
async fn target_of(state: &ApiState, scope: PauseScope, id: Option<&str>) -> ApiResult<String> {
    let id = id.unwrap_or_default();
    match scope {
        PauseScope::Server => Ok(String::new()),
        PauseScope::App => Ok(load_app(state, id).await?.id.to_string()),
        PauseScope::Endpoint => {
            let found = match EndpointId::parse(id) {
                Some(eid) => state.store.get_endpoint_by_id(&eid).await?,
                None => None,
            };
            found
                .map(|e| e.id.to_string())
                .ok_or_else(|| ApiError::not_found("endpoint (give its id, ep_…, not its uid)"))
        }
        PauseScope::Handler => state
            .automation
            .handlers()
            .get(id)
            .map(|h| h.id.clone())
            .ok_or_else(|| ApiError::not_found("handler")),
        PauseScope::Source => state
            .sources
            .iter()
            .map(|s| s.name())
            .find(|name| name == id)
            .ok_or_else(|| ApiError::not_found("source")),
    }
}

/// The state of `target` in `scope`, given its pause if any.
async fn state_of(
    state: &ApiState,
    scope: PauseScope,
    target: String,
    pause: Option<Pause>,
) -> ApiResult<PauseOut> {
    let waiting = match scope {
        PauseScope::Source => None,
        _ => Some(WaitingOut::new(
            state.store.waiting(scope, &target).await?,
            now_millis(),
        )),
    };
    Ok(PauseOut {
        scope: scope.as_str(),
        id: (scope != PauseScope::Server).then_some(target),
        paused: pause.is_some(),
        paused_at: pause.as_ref().map(|p| to_rfc3339(p.paused_at)),
        paused_by: pause.as_ref().map(|p| p.paused_by.clone()),
        reason: pause.and_then(|p| p.reason),
        waiting,
    })
}

/// The targets of `scope` paused now, for the read routes that show `paused`.
pub(super) async fn paused_in(
    state: &ApiState,
    scope: PauseScope,
) -> ApiResult<std::collections::HashSet<String>> {
    Ok(state
        .store
        .list_pauses()
        .await?
        .into_iter()
        .filter(|p| p.scope == scope)
        .map(|p| p.target)
        .collect())
}

/// Every pause in force.
#[derive(Debug, Serialize)]
struct PauseList {
    data: Vec<PauseOut>,
}

async fn list(State(state): State<ApiState>) -> ApiResult<Json<PauseList>> {
    let mut data = Vec::new();
    for p in state.store.list_pauses().await? {
        data.push(state_of(&state, p.scope, p.target.clone(), Some(p)).await?);
    }
    Ok(Json(PauseList { data }))
}

async fn fetch(
    State(state): State<ApiState>,
    Path(PausePath { scope, id }): Path<PausePath>,
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(&scope, id.as_deref())?;
    let target = target_of(&state, scope, id.as_deref()).await?;
    let pause = state
        .store
        .list_pauses()
        .await?
        .into_iter()
        .find(|p| p.scope == scope && p.target == target);
    Ok(Json(state_of(&state, scope, target, pause).await?))
}

async fn pause(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Path(PausePath { scope, id }): Path<PausePath>,
    body: Bytes,
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(&scope, id.as_deref())?;
    let body: PauseIn = if body.iter().all(u8::is_ascii_whitespace) {
        PauseIn::default()
    } else {
        parse_json(&body)?
    };
    let reason = body.reason.filter(|r| !r.trim().is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ApiError::invalid(
            &["body", "reason"],
            format!("reason must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let target = target_of(&state, scope, id.as_deref()).await?;
    let paused_by = principal.map_or_else(|| "admin".to_owned(), |p| p.actor().to_owned());
    let held = state
        .store
        .pause(Pause {
            scope,
            target: target.clone(),
            reason,
            paused_by,
            paused_at: now_millis(),
        })
        .await?;
    state.dispatcher.pauses().changed().await;
    tracing::info!(scope = scope.as_str(), id = %target, by = %held.paused_by, "paused");
    Ok(Json(state_of(&state, scope, target, Some(held)).await?))
}

async fn resume(
    State(state): State<ApiState>,
    Path(PausePath { scope, id }): Path<PausePath>,
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(&scope, id.as_deref())?;
    let (target, lifted) = match target_of(&state, scope, id.as_deref()).await {
        Ok(target) => {
            let lifted = state.store.resume(scope, &target).await?;
            (target, lifted)
        }
        // Gone since it was paused (a deleted endpoint): its pause can still be lifted.
        Err(e) => match id {
            Some(id) => match state.store.resume(scope, &id).await? {
                Some(lifted) => (id, Some(lifted)),
                None => return Err(e),
            },
            None => return Err(e),
        },
    };
    state.dispatcher.pauses().changed().await;
    if lifted.is_some() {
        tracing::info!(scope = scope.as_str(), id = %target, "resumed");
        // What the pause held back is due: claim it now rather than at the next poll.
        state.dispatcher.wake();
    }
    Ok(Json(state_of(&state, scope, target, None).await?))
}
