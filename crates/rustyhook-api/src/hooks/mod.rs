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
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use rustyhook_core::handlers::options::{ResponseMode, WebhookOptions};
use rustyhook_core::handlers::{Handler, Trigger};
use rustyhook_core::ratelimit::{Gcra, Rate};
use rustyhook_core::run::{Event, env_name_part};
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

    fn body_cap(&self) -> usize {
        self.automation
            .handlers()
            .iter()
            .filter_map(|h| webhook(h).and_then(|w| w.max_body_bytes))
            .fold(self.max_body, usize::max)
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
    let cap = state.body_cap();
    Router::new()
        .route("/hooks/{id}", any(by_id))
        .layer(DefaultBodyLimit::max(cap))
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
                    async move { receive(&s, &id, peer, method, uri, headers, body).await }
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
    let cap = state.body_cap();
    by_port
        .into_iter()
        .map(|(p, r)| {
            (
                p,
                r.layer(DefaultBodyLimit::max(cap))
                    .with_state(state.clone()),
            )
        })
        .collect()
}

async fn by_id(
    State(s): State<HooksState>,
    Path(id): Path<String>,
    peer: ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&s, &id, peer, method, uri, headers, body).await
}

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "detail": detail.into()})),
    )
        .into_response()
}

async fn receive(
    s: &HooksState,
    id: &str,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(handler) = s.automation.handlers().get(id).cloned() else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no webhook handler {id:?}"),
        );
    };
    let Some(opts) = webhook(&handler) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("handler {id:?} is not a webhook"),
        );
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(r) = verify::check(opts, peer.ip(), &headers, &body, now) {
        tracing::info!(handler = %id, peer = %peer, reason = r.reason, "webhook refused");
        return problem(r.status, "unauthorized", r.reason);
    }
    if let Some(limit) = opts.rate_limit
        && let Err(wait) = s.limit(id, limit)
    {
        let mut resp = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    let cap = opts.max_body_bytes.unwrap_or(s.max_body);
    if body.len() > cap {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {cap} bytes"),
        );
    }
    let event = event(&method, &uri, &headers, peer, &body);
    match opts.response {
        ResponseMode::Accepted => match s.automation.trigger(id, event, "webhook").await {
            Ok(run) => (
                StatusCode::ACCEPTED,
                axum::Json(json!({"runId": run.id, "handler": id, "status": "queued"})),
            )
                .into_response(),
            Err(e) => trigger_failed(id, e),
        },
        ResponseMode::Wait => {
            let (run, done) = match s.automation.trigger_and_wait(id, event, "webhook").await {
                Ok(x) => x,
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
                    let mut resp = (status, attempt.output).into_response();
                    if let Ok(v) = HeaderValue::from_str(run.id.as_str()) {
                        resp.headers_mut().insert("x-rustyhook-run-id", v);
                    }
                    resp
                }
                _ => (
                    StatusCode::ACCEPTED,
                    axum::Json(json!({"runId": run.id, "handler": id, "status": "queued"})),
                )
                    .into_response(),
            }
        }
    }
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
