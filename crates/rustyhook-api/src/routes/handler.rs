//! `/api/v1/handler/...`: the configured handlers, their runs and each run's attempts; a run
//! can be started by hand or re-run, and a handler's dead runs (its dead letters: runs that
//! failed their last retry) listed with `?status=dead` and recovered in bulk.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::handlers::{Command, Handler, Trigger};
use rustyhook_core::id::{AttemptId, RunId};
use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::run::{Event, Run, RunAttempt, caller_var, is_settable_var};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_engine::automation::TriggerError;
use rustyhook_store::{Order, Target};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::endpoint_replay::RecoverIn;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(fetch))
        .routes(routes!(list_runs, start))
        .routes(routes!(fetch_run))
        .routes(routes!(list_attempts))
        .routes(routes!(rerun))
        .routes(routes!(recover))
}

const TAG: &str = "Handler";

/// A handler as listed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandlerOut {
    id: String,
    name: String,
    /// The trigger's type: `webhook`, `cron`, `filesystem`, `sqs`, `plugin` or `custom`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The trigger's settings: `hookPath`, `cronExpression`, `path`, … by type.
    #[schema(value_type = Object)]
    trigger: serde_json::Value,
    /// The command: a shell line (a string) or an argument list.
    #[schema(value_type = Option<Value>)]
    command: Option<serde_json::Value>,
    timeout_secs: f64,
    max_retries: u32,
    /// Runs at once (its lane's most in flight).
    concurrency: u32,
    /// Runs started per second at most, if limited.
    run_rate: Option<u32>,
    forward_to: Vec<String>,
    depends_on: Vec<String>,
    exports: Vec<String>,
    /// How many routes the handler has.
    routes: usize,
    /// The app it publishes messages to, if any.
    publish_app: Option<String>,
}

impl HandlerOut {
    fn new(h: &Handler) -> Self {
        let trigger = match &h.trigger {
            Trigger::Webhook(w) => serde_json::json!({
                "hookPath": w.on_main_listener().then(|| format!("/hooks/{}", h.id)),
                "port": w.port, "path": w.path, "methods": w.methods,
            }),
            Trigger::Cron(c) => serde_json::json!({"cronExpression": c.cron_expression.as_str()}),
            Trigger::Filesystem(f) => serde_json::json!({"path": f.path}),
            Trigger::Sqs(q) => serde_json::json!({"queueUrl": q.queue_url}),
            Trigger::Plugin { plugin, .. } => serde_json::json!({"plugin": plugin}),
            Trigger::Custom => serde_json::json!({}),
        };
        Self {
            id: h.id.clone(),
            name: h.name.clone(),
            kind: h.trigger.kind().as_str(),
            trigger,
            command: h.action.command.as_ref().map(|c| match c {
                Command::Shell(s) => serde_json::json!(s),
                Command::Argv(v) => serde_json::json!(v),
            }),
            timeout_secs: h.action.timeout.as_secs_f64(),
            max_retries: h.action.retry.max_retries(),
            concurrency: h.concurrency,
            run_rate: h.run_rate,
            forward_to: h.forward_to.clone(),
            depends_on: h.depends_on.clone(),
            exports: h.exports.clone(),
            routes: h.routes.len(),
            publish_app: h.publish.as_ref().map(|p| p.app.clone()),
        }
    }
}

/// A run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunOut {
    id: String,
    handler_id: String,
    /// What the run does: `command`, `forward`, `publish`, …
    step: &'static str,
    /// `pending`, `running`, `failed` (a retry is scheduled), `succeeded`, `dead` or
    /// `canceled`.
    status: &'static str,
    attempts: u32,
    next_attempt: Option<String>,
    triggered_by: String,
    parent_id: Option<String>,
    event: Event,
    exit_code: Option<i32>,
    output: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Run> for RunOut {
    fn from(r: Run) -> Self {
        Self {
            id: r.id.to_string(),
            handler_id: r.handler_id,
            step: r.step.as_str(),
            status: match r.status.as_str() {
                "sending" => "running",
                s => s,
            },
            attempts: r.attempts,
            next_attempt: r
                .next_attempt_at
                .filter(|_| r.status.as_str() == "failed")
                .map(to_rfc3339),
            triggered_by: r.triggered_by,
            parent_id: r.parent_id.map(|p| p.to_string()),
            event: r.event,
            exit_code: r.exit_code,
            output: r.output,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
        }
    }
}

/// One attempt of a run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunAttemptOut {
    id: String,
    run_id: String,
    outcome: &'static str,
    exit_code: Option<i32>,
    output: String,
    duration_ms: i64,
    timestamp: String,
}

impl From<RunAttempt> for RunAttemptOut {
    fn from(a: RunAttempt) -> Self {
        Self {
            id: a.id.to_string(),
            run_id: a.run_id.to_string(),
            outcome: a.outcome.as_str(),
            exit_code: a.exit_code,
            output: a.output,
            duration_ms: a.duration_ms,
            timestamp: to_rfc3339(a.created_at),
        }
    }
}

/// A run started through the API.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunIn {
    /// Given to the command on stdin.
    #[serde(default)]
    payload: String,
    /// `RUSTYHOOK_EVENT_TYPE`; `api` unless set.
    event_type: Option<String>,
    /// Extra environment variables, given to the command as `RUSTYHOOK_VAR_<NAME>`.
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

fn handler<'a>(state: &'a ApiState, id: &str) -> ApiResult<&'a std::sync::Arc<Handler>> {
    state
        .automation
        .handlers()
        .get(id)
        .ok_or_else(|| ApiError::not_found("handler"))
}

/// List Handlers
#[utoipa::path(get, path = "/api/v1/handler", tag = TAG, operation_id = "v1.handler.list",
    responses((status = 200, body = ListResponse<HandlerOut>)))]
async fn list(State(state): State<ApiState>) -> Json<ListResponse<HandlerOut>> {
    Json(ListResponse {
        data: state
            .automation
            .handlers()
            .iter()
            .map(|h| HandlerOut::new(h))
            .collect(),
        iterator: None,
        prev_iterator: None,
        done: true,
    })
}

/// Get Handler
#[utoipa::path(get, path = "/api/v1/handler/{handler_id}", tag = TAG,
    operation_id = "v1.handler.get",
    responses((status = 200, body = HandlerOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<HandlerOut>> {
    Ok(Json(HandlerOut::new(handler(&state, &id)?)))
}

/// Query parameters of a handler's run list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListRunsParams {
    #[serde(flatten)]
    #[param(ignore)]
    page: ListParams,
    /// Only runs in this state: `pending`, `running`, `failed` (a retry is scheduled),
    /// `succeeded`, `dead` (the handler's dead letters) or `canceled`.
    status: Option<String>,
}

/// List Handler Runs
#[utoipa::path(get, path = "/api/v1/handler/{handler_id}/run", tag = TAG,
    operation_id = "v1.handler.run.list", params(ListParams, ListRunsParams),
    responses((status = 200, body = ListResponse<RunOut>)))]
async fn list_runs(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListRunsParams>,
) -> ApiResult<Json<ListResponse<RunOut>>> {
    let h = handler(&state, &id)?;
    let status = match params.status.as_deref() {
        None => None,
        Some("running") => Some(DeliveryStatus::Sending),
        Some(s) => Some(
            DeliveryStatus::parse(s)
                .filter(|s| *s != DeliveryStatus::Sending)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &["query", "status"],
                        "status is one of pending, running, failed, succeeded, dead, canceled",
                    )
                })?,
        ),
    };
    let listed = state
        .store
        .list_runs(
            Some(h.id.clone()),
            status,
            params
                .page
                .page(Order::Descending, |k| RunId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |r| r.id.to_string(),
        RunOut::from,
    )))
}

async fn load_run(state: &ApiState, handler_id: &str, run_id: &str) -> ApiResult<Run> {
    let h = handler(state, handler_id)?;
    match state.store.get_run(run_id).await? {
        Some(r) if r.handler_id == h.id => Ok(r),
        _ => Err(ApiError::not_found("run")),
    }
}

/// Get Handler Run
#[utoipa::path(get, path = "/api/v1/handler/{handler_id}/run/{run_id}", tag = TAG,
    operation_id = "v1.handler.run.get",
    responses((status = 200, body = RunOut)))]
async fn fetch_run(
    State(state): State<ApiState>,
    Path((handler_id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<RunOut>> {
    Ok(Json(load_run(&state, &handler_id, &run_id).await?.into()))
}

/// List Handler Run Attempts
#[utoipa::path(get, path = "/api/v1/handler/{handler_id}/run/{run_id}/attempt", tag = TAG,
    operation_id = "v1.handler.run.attempt.list", params(ListParams),
    responses((status = 200, body = ListResponse<RunAttemptOut>)))]
async fn list_attempts(
    State(state): State<ApiState>,
    Path((handler_id, run_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<RunAttemptOut>>> {
    let run = load_run(&state, &handler_id, &run_id).await?;
    let listed = state
        .store
        .list_run_attempts(
            &run.id,
            params.page(Order::Ascending, |k| AttemptId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |a| a.id.to_string(),
        RunAttemptOut::from,
    )))
}

/// Run Handler
///
/// Queues a run of the handler, as if its trigger had fired. The body may be left out.
#[utoipa::path(post, path = "/api/v1/handler/{handler_id}/run", tag = TAG,
    operation_id = "v1.handler.run.create", request_body = Option<RunIn>,
    responses((status = 202, body = RunOut)))]
async fn start(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<RunOut>)> {
    let h = handler(&state, &id)?.clone();
    let input: RunIn = if body.iter().all(u8::is_ascii_whitespace) {
        RunIn::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            if e.is_data() {
                ApiError::invalid(&["body"], e.to_string())
            } else {
                ApiError::bad_request("bad_json", format!("the body is not valid JSON: {e}"))
            }
        })?
    };
    for k in input.vars.keys() {
        if !is_settable_var(k) {
            return Err(ApiError::invalid(
                &["body", "vars", k],
                "a variable name is letters, digits and _, and not RUSTYHOOK_*",
            ));
        }
    }
    let event = Event {
        id: format!("api:{}", rustyhook_core::id::RunId::generate(now_millis())),
        event_type: input.event_type.unwrap_or_else(|| "api".into()),
        payload: input.payload,
        // Never under their own names: `BASH_ENV`, `PATH` or `LD_PRELOAD` would take the command.
        vars: input
            .vars
            .into_iter()
            .map(|(k, v)| (caller_var(&k), v))
            .collect(),
        files: Vec::new(),
    };
    let run = state
        .automation
        .trigger(&h.id, event, "api")
        .await
        .map_err(trigger_error)?;
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// Re-run Handler Run
#[utoipa::path(post, path = "/api/v1/handler/{handler_id}/run/{run_id}/rerun", tag = TAG,
    operation_id = "v1.handler.run.rerun",
    responses((status = 202, body = RunOut)))]
async fn rerun(
    State(state): State<ApiState>,
    Path((handler_id, run_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<RunOut>)> {
    let original = load_run(&state, &handler_id, &run_id).await?;
    let run = state
        .automation
        .rerun(&original)
        .await
        .map_err(trigger_error)?;
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// How many dead runs a recover made due again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct HandlerRecoverOut {
    recovered: u64,
}

/// Recover Dead Handler Runs
///
/// Makes every dead run of the handler created in `[since, until)` due again, as an
/// endpoint's recover does its dead deliveries: each gets one more attempt, then its retry
/// policy again.
#[utoipa::path(post, path = "/api/v1/handler/{handler_id}/recover", tag = TAG,
    operation_id = "v1.handler.recover", request_body = RecoverIn,
    responses((status = 202, body = HandlerRecoverOut)))]
async fn recover(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecoverIn>,
) -> ApiResult<(StatusCode, Json<HandlerRecoverOut>)> {
    let h = handler(&state, &id)?;
    let (since, until) = body.window()?;
    let target = Target::Handler(h.id.clone());
    let recovered = state
        .store
        .recover(&target, since, until, now_millis())
        .await?;
    tracing::info!(handler = %h.id, recovered, "recovering dead runs");
    state.automation.wake();
    Ok((StatusCode::ACCEPTED, Json(HandlerRecoverOut { recovered })))
}

fn trigger_error(e: TriggerError) -> ApiError {
    match e {
        TriggerError::UnknownHandler(_) => ApiError::not_found("handler"),
        TriggerError::ShuttingDown => ApiError::Http {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "shutting_down",
            detail: "the server is shutting down".into(),
        },
        TriggerError::Backlogged { why, .. } => ApiError::Http {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "backlog_full",
            detail: why,
        },
        TriggerError::Store(e) => e.into(),
    }
}
