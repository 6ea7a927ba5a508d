//! Incoming webhooks for handlers: `/hooks/{handler-id}` on the main listener, and each
//! handler's own `port`/`path` as RustyHook serves them. A request is checked (address, auth,
//! signature, rate, size), turned into an event and durably queued as a run before it is
//! answered: `202` with the run id, or with `response: wait` the command's result.

pub mod verify;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use rustyhook_core::handlers::options::{ResponseMode, WebhookOptions};
use rustyhook_core::handlers::{Handler, Trigger};
use rustyhook_core::ratelimit::{Gcra, Rate};
use rustyhook_core::run::{Event, Run, RunKey, env_name_part};
use rustyhook_engine::automation::{Automation, TriggerError};
use serde_json::json;

/// Headers never passed to commands: they carry credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-auth-token",
    "cookie",
    "proxy-authorization",
];

/// What the hook routes share.
#[derive(Clone)]
pub struct HooksState {
    automation: Automation,
    max_body: usize,
    limiters: Arc<Mutex<HashMap<String, Gcra>>>,
    origin: Instant,
}

impl HooksState {
    /// Hooks for `automation`'s webhook handlers; bodies over `max_body` bytes are refused
    /// unless a handler sets its own cap.
    pub fn new(automation: Automation, max_body: usize) -> Self {
        Self {
            automation,
            max_body,
            limiters: Arc::new(Mutex::new(HashMap::new())),
            origin: Instant::now(),
        }
    }
}

fn webhook(h: &Handler) -> Option<&WebhookOptions> {
    match &h.trigger {
        Trigger::Webhook(w) => Some(w),
        _ => None,
    }
}

/// `/hooks/{handler-id}` (any method) for the main listener. Needs the peer address
/// (`into_make_service_with_connect_info::<SocketAddr>`).
pub fn router(state: HooksState) -> Router {
    Router::new()
        .route("/hooks/{id}", any(by_id))
        .with_state(state)
}

/// The routers for handlers with their own `port`, by port.
pub fn port_routers(state: &HooksState) -> BTreeMap<u16, Router> {
    let mut by_port: BTreeMap<u16, Router<HooksState>> = BTreeMap::new();
    for h in state.automation.handlers().iter() {
        let Some(w) = webhook(h) else { continue };
        let Some(port) = w.port else { continue };
        let id = h.id.clone();
        let mut r = by_port.remove(&port).unwrap_or_default().route(
            &w.path,
            any(
                move |State(s): State<HooksState>, peer, method, uri, headers, body| {
                    let id = id.clone();
                    let request = Incoming {
                        peer,
                        method,
                        uri,
                        headers,
                        main_listener: false,
                    };
                    async move { receive(&s, &id, request, body).await }
                },
            ),
        );
        if let Some(health) = &w.health_path {
            r = r.route(
                health,
                get(|| async { axum::Json(json!({"status": "ok"})) }),
            );
        }
        by_port.insert(port, r);
    }
    by_port
        .into_iter()
        .map(|(p, r)| (p, r.with_state(state.clone())))
        .collect()
}

async fn by_id(
    State(s): State<HooksState>,
    Path(id): Path<String>,
    peer: ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = Incoming {
        peer,
        method,
        uri,
        headers,
        main_listener: true,
    };
    receive(&s, &id, request, body).await
}

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "detail": detail.into()})),
    )
        .into_response()
}

fn with_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// A request's head: everything checked before its body is read.
struct Incoming {
    peer: ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// Came through `/hooks/{id}` on the main listener, not the handler's own port.
    main_listener: bool,
}

/// Checks the head (handler, listener, method, address, credentials, rate, backlog) before the
/// body is read, then the body (size, signature, replay), then queues the run.
async fn receive(s: &HooksState, id: &str, req: Incoming, body: Body) -> Response {
    let Some(handler) = s.automation.handlers().get(id).cloned() else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no webhook handler {id:?}"),
        );
    };
    let Some(opts) = webhook(&handler).filter(|o| !req.main_listener || o.on_main_listener())
    else {
        // Own-port handlers are not on the main listener unless `main_listener: true`.
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no webhook handler {id:?} on this listener"),
        );
    };
    let ConnectInfo(peer) = req.peer;
    if !opts.allows(req.method.as_str()) {
        let resp = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this hook takes {}", opts.methods.join(", ")),
        );
        return with_header(resp, "allow", &opts.methods.join(", "));
    }
    if let Err(r) = verify::check_caller(opts, peer.ip(), &req.headers) {
        tracing::info!(handler = %id, peer = %peer, reason = r.reason, "webhook refused");
        return problem(r.status, "unauthorized", r.reason);
    }
    if let Some(limit) = opts.rate_limit
        && let Err(wait) = s.limit(id, limit)
    {
        let resp = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return with_header(resp, "retry-after", &secs.to_string());
    }
    if let Err(e) = s.automation.admit(id).await {
        return trigger_failed(id, e);
    }
    let cap = opts.max_body_bytes.unwrap_or(s.max_body);
    let Ok(body) = axum::body::to_bytes(body, cap).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {cap} bytes, or was not received whole"),
        );
    };
    let now = chrono::Utc::now().timestamp();
    let delivery = match verify::check_signature(opts, &req.headers, &body, now) {
        Ok(d) => d,
        Err(r) => {
            tracing::info!(handler = %id, peer = %peer, reason = r.reason, "webhook refused");
            return problem(r.status, "unauthorized", r.reason);
        }
    };
    // A signed delivery is run once: its replay (by anyone who saw it) runs nothing.
    let key = delivery.map(|d| RunKey::webhook_delivery(id, &d));
    let event = event(&req.method, &req.uri, &req.headers, peer, &body);
    let accepted = |run: &Run| {
        (
            StatusCode::ACCEPTED,
            axum::Json(json!({"runId": run.id, "handler": id, "status": "queued"})),
        )
            .into_response()
    };
    match opts.response {
        ResponseMode::Accepted => {
            let queued = match &key {
                Some(k) => s.automation.trigger_once(id, event, "webhook", k).await,
                None => s.automation.trigger(id, event, "webhook").await.map(Some),
            };
            match queued {
                Ok(Some(run)) => accepted(&run),
                Ok(None) => duplicate(id),
                Err(e) => trigger_failed(id, e),
            }
        }
        ResponseMode::Wait => {
            let (run, done) = match s
                .automation
                .trigger_and_wait(id, event, "webhook", key.as_ref())
                .await
            {
                Ok(Some(x)) => x,
                Ok(None) => return duplicate(id),
                Err(e) => return trigger_failed(id, e),
            };
            let limit = handler.action.timeout + Duration::from_secs(10);
            match tokio::time::timeout(limit, done).await {
                Ok(Ok((_, attempt))) => {
                    let status = if attempt.exit_code == Some(0) {
                        StatusCode::OK
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    };
                    let resp = (status, attempt.output).into_response();
                    with_header(resp, "x-rustyhook-run-id", run.id.as_str())
                }
                _ => accepted(&run),
            }
        }
    }
}

/// A signed delivery seen before: `200`, so that the sender (whose retry it may be) stops, and
/// nothing runs.
fn duplicate(id: &str) -> Response {
    tracing::info!(handler = %id, "a signed webhook delivery seen before; nothing runs");
    (
        StatusCode::OK,
        axum::Json(json!({"handler": id, "status": "duplicate"})),
    )
        .into_response()
}

fn trigger_failed(id: &str, e: TriggerError) -> Response {
    match e {
        TriggerError::ShuttingDown => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            e.to_string(),
        ),
        TriggerError::UnknownHandler(_) => {
            problem(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        TriggerError::Backlogged { why, retry_after } => with_header(
            problem(StatusCode::TOO_MANY_REQUESTS, "backlog_full", why),
            "retry-after",
            &retry_after.as_secs().max(1).to_string(),
        ),
        TriggerError::Store(err) => {
            tracing::error!(handler = %id, error = %err, "could not queue a webhook run");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "the run could not be stored; nothing was queued",
            )
        }
    }
}

impl HooksState {
    fn limit(&self, id: &str, per_second: u32) -> Result<(), Duration> {
        let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        let g = map
            .entry(id.to_owned())
            .or_insert_with(|| Gcra::new(Rate::per_second(per_second)));
        g.check(self.origin.elapsed())
    }
}

/// The request as an event: the body is the payload; method, path, query, peer and headers
/// (minus credentials) are variables.
fn event(method: &Method, uri: &Uri, headers: &HeaderMap, peer: SocketAddr, body: &[u8]) -> Event {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = header("webhook-id")
        .or_else(|| header("svix-id"))
        .or_else(|| header("x-github-delivery"))
        .or_else(|| header("x-request-id"))
        .filter(|v| v.len() <= 256)
        .unwrap_or_else(|| {
            format!(
                "http:{}",
                rustyhook_core::id::RunId::generate(rustyhook_core::time::now_millis())
            )
        });
    let mut vars = BTreeMap::new();
    vars.insert("RUSTYHOOK_HTTP_METHOD".to_owned(), method.to_string());
    vars.insert("RUSTYHOOK_HTTP_PATH".to_owned(), uri.path().to_owned());
    vars.insert(
        "RUSTYHOOK_HTTP_QUERY".to_owned(),
        uri.query().unwrap_or("").to_owned(),
    );
    vars.insert("RUSTYHOOK_REMOTE_ADDR".to_owned(), peer.ip().to_string());
    for (name, value) in headers {
        if SECRET_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            // Header names may hold `.`, `~`, `!` …: only letters, digits and `_` remain.
            let key = format!("RUSTYHOOK_HEADER_{}", env_name_part(name.as_str(), true));
            vars.insert(key, v.to_owned());
        }
    }
    Event {
        id,
        event_type: header("x-github-event").unwrap_or_else(|| "webhook".into()),
        payload: String::from_utf8_lossy(body).into_owned(),
        vars,
        files: Vec::new(),
    }
}
