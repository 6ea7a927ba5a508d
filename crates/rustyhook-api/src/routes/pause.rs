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
use axum::{Extension, Json};
use rustyhook_core::id::EndpointId;
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{Pause, PauseScope, Waiting};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::load_app;
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::parse_json;
use crate::state::ApiState;

/// The longest reason kept with a pause, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// The routes. `/api/v1/pause/server` is matched before `/api/v1/pause/{scope}/{id}`; a path
/// with a scope but no id (`/api/v1/pause/endpoint`) is answered by [`misaddressed`], which
/// serves no operation, only the 422 that says what is missing.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(server_fetch, server_pause, server_resume))
        .routes(routes!(fetch, pause, resume))
}

const TAG: &str = "Pause";

/// What a pause request may carry (the body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseIn {
    /// Why, for whoever looks later (at most 1,000 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// A target's pause state and what waits for it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseOut {
    /// What is paused: `server`, `app`, `endpoint`, `handler` or `source`.
    scope: &'static str,
    /// The target's id: an app's id, an endpoint's id, a handler's id or a source's name;
    /// absent for the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Whether it is paused now.
    paused: bool,
    /// When it was paused; `null` when it is not.
    paused_at: Option<String>,
    /// Who paused it: `admin` or the token's id; `null` when it is not paused.
    paused_by: Option<String>,
    /// Why, as given when it was paused.
    reason: Option<String>,
    /// Deliveries or runs pending or due to retry; `null` for a source, whose messages wait in
    /// its broker.
    waiting: Option<WaitingOut>,
}

/// How much waits, and since when.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingOut {
    /// How many deliveries (or runs) are pending or due to retry.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseList {
    /// One entry per pause, each with what it holds back.
    data: Vec<PauseOut>,
}

/// List Pauses
///
/// Every pause in force, each with what waits behind it.
#[utoipa::path(get, path = "/api/v1/pause", tag = TAG, operation_id = "v1.pause.list",
    responses((status = 200, body = PauseList)))]
async fn list(State(state): State<ApiState>) -> ApiResult<Json<PauseList>> {
    let mut data = Vec::new();
    for p in state.store.list_pauses().await? {
        data.push(state_of(&state, p.scope, p.target.clone(), Some(p)).await?);
    }
    Ok(Json(PauseList { data }))
}

/// Get Server Pause
///
/// Whether the whole server is paused, and every delivery and run waiting.
#[utoipa::path(get, path = "/api/v1/pause/server", tag = TAG,
    operation_id = "v1.pause.server.get",
    responses((status = 200, body = PauseOut)))]
async fn server_fetch(State(state): State<ApiState>) -> ApiResult<Json<PauseOut>> {
    fetch_state(&state, "server", None).await
}

/// Pause Server
///
/// Holds every delivery and run back; messages and runs are still accepted and stored.
/// Pausing twice keeps the first pause. The body may be left out.
#[utoipa::path(post, path = "/api/v1/pause/server", tag = TAG,
    operation_id = "v1.pause.server.pause", request_body = Option<PauseIn>,
    responses((status = 200, body = PauseOut)))]
async fn server_pause(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    body: Bytes,
) -> ApiResult<Json<PauseOut>> {
    pause_target(&state, principal, "server", None, &body).await
}

/// Resume Server
///
/// Lifts the server's pause: what it held back goes out, oldest first. Resuming what is not
/// paused changes nothing.
#[utoipa::path(delete, path = "/api/v1/pause/server", tag = TAG,
    operation_id = "v1.pause.server.resume",
    responses((status = 200, body = PauseOut)))]
async fn server_resume(State(state): State<ApiState>) -> ApiResult<Json<PauseOut>> {
    resume_target(&state, "server", None).await
}

/// Get Pause
///
/// Whether an app, endpoint, handler or source is paused, and what waits for it.
#[utoipa::path(get, path = "/api/v1/pause/{scope}/{id}", tag = TAG,
    operation_id = "v1.pause.get",
    responses((status = 200, body = PauseOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path((scope, id)): Path<(String, String)>,
) -> ApiResult<Json<PauseOut>> {
    fetch_state(&state, &scope, Some(id)).await
}

/// Pause
///
/// Holds back an app's, an endpoint's, a handler's deliveries or runs, or stops reading a
/// source; what arrives meanwhile is still accepted and stored. Pausing twice keeps the first
/// pause. The body may be left out.
#[utoipa::path(post, path = "/api/v1/pause/{scope}/{id}", tag = TAG,
    operation_id = "v1.pause.pause", request_body = Option<PauseIn>,
    responses((status = 200, body = PauseOut)))]
async fn pause(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Path((scope, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<PauseOut>> {
    pause_target(&state, principal, &scope, Some(id), &body).await
}

/// Resume
///
/// Lifts the pause: what it held back goes out, oldest first, at the endpoint's rate limit.
/// Resuming what is not paused changes nothing; the pause of a deleted app or endpoint can
/// still be lifted by its id.
#[utoipa::path(delete, path = "/api/v1/pause/{scope}/{id}", tag = TAG,
    operation_id = "v1.pause.resume",
    responses((status = 200, body = PauseOut)))]
async fn resume(
    State(state): State<ApiState>,
    Path((scope, id)): Path<(String, String)>,
) -> ApiResult<Json<PauseOut>> {
    resume_target(&state, &scope, Some(id)).await
}

/// `/api/v1/pause/{scope}` with a scope other than the server's: no operation, only the 422
/// that names what is wrong (an unknown scope, or the id it needs). Routed in
/// [`super::router`], outside the document, like the API's fallback.
pub(super) async fn misaddressed(Path(scope): Path<String>) -> ApiError {
    match scope_of(&scope, None) {
        Err(e) => e,
        // Only the server needs no id, and `/api/v1/pause/server` is matched before this.
        Ok(_) => ApiError::not_found("pause"),
    }
}

async fn fetch_state(
    state: &ApiState,
    scope: &str,
    id: Option<String>,
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(scope, id.as_deref())?;
    let target = target_of(state, scope, id.as_deref()).await?;
    let pause = state
        .store
        .list_pauses()
        .await?
        .into_iter()
        .find(|p| p.scope == scope && p.target == target);
    Ok(Json(state_of(state, scope, target, pause).await?))
}

async fn pause_target(
    state: &ApiState,
    principal: Option<Extension<Principal>>,
    scope: &str,
    id: Option<String>,
    body: &[u8],
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(scope, id.as_deref())?;
    let body: PauseIn = if body.iter().all(u8::is_ascii_whitespace) {
        PauseIn::default()
    } else {
        parse_json(body)?
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
    let target = target_of(state, scope, id.as_deref()).await?;
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
    Ok(Json(state_of(state, scope, target, Some(held)).await?))
}

async fn resume_target(
    state: &ApiState,
    scope: &str,
    id: Option<String>,
) -> ApiResult<Json<PauseOut>> {
    let scope = scope_of(scope, id.as_deref())?;
    let (target, lifted) = match target_of(state, scope, id.as_deref()).await {
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
    Ok(Json(state_of(state, scope, target, None).await?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_pause_operations_are_documented_with_their_body_answer_and_parameters() {
        let doc = crate::openapi::document();
        let state = json!({"$ref": "#/components/schemas/PauseOut"});
        for (path, ids) in [
            (
                "/api/v1/pause/server",
                [
                    "v1.pause.server.get",
                    "v1.pause.server.pause",
                    "v1.pause.server.resume",
                ],
            ),
            (
                "/api/v1/pause/{scope}/{id}",
                ["v1.pause.get", "v1.pause.pause", "v1.pause.resume"],
            ),
        ] {
            for (method, id) in ["get", "post", "delete"].into_iter().zip(ids) {
                let op = &doc["paths"][path][method];
                assert_eq!(op["operationId"], id, "{method} {path}");
                assert_eq!(op["tags"], json!(["Pause"]), "{method} {path}");
                assert_eq!(
                    op["responses"]["200"]["content"]["application/json"]["schema"], state,
                    "{method} {path}"
                );
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let in_path: Vec<_> = params.iter().filter(|p| p["in"] == "path").collect();
                if path.contains("{scope}") {
                    assert_eq!(in_path.len(), 2, "{method} {path}: {params:?}");
                } else {
                    assert!(in_path.is_empty(), "{method} {path}: {params:?}");
                }
            }
            let body = &doc["paths"][path]["post"]["requestBody"];
            // `Option<PauseIn>`: the schema or null, and not required.
            assert!(
                body["content"]["application/json"]["schema"]
                    .to_string()
                    .contains("#/components/schemas/PauseIn"),
                "{body}"
            );
            assert_ne!(body["required"], true, "the body may be left out");
        }
        assert_eq!(
            doc["paths"]["/api/v1/pause"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/PauseList"
        );
        let out = &doc["components"]["schemas"]["PauseOut"]["properties"];
        for field in [
            "scope", "id", "paused", "pausedAt", "pausedBy", "reason", "waiting",
        ] {
            assert!(out[field].is_object(), "PauseOut.{field}: {out}");
        }
        for schema in ["HandlerOut", "SourceOut"] {
            assert!(
                doc["components"]["schemas"][schema]["properties"]["paused"].is_object(),
                "{schema} shows paused"
            );
        }
    }
}
