//! The API's routes, one module per resource, assembled under `/api/v1`.

pub mod alert;
pub mod app;
pub mod attempt;
pub mod audit;
pub mod background_task;
mod common;
pub mod endpoint;
mod endpoint_extras;
mod endpoint_replay;
pub mod event_type;
pub mod handler;
pub mod health;
pub mod message;
pub mod node;
pub mod operational;
pub mod pause;
pub mod portal;
pub mod source;
pub mod stats;
pub mod stream;
pub mod token;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use utoipa_axum::router::OpenApiRouter;

use crate::http::error::ApiError;
use crate::http::ratelimit::{self, ApiRateLimit};
use crate::http::{audit as audit_log, auth, idempotency, store_gate};
use crate::state::ApiState;

/// Every documented route: the API under `/api/v1` and health. Each module registers its
/// handlers with `routes!`, which routes them and adds their `#[utoipa::path]` to the OpenAPI
/// document in one step (see [`crate::openapi`]), so no route is served undocumented.
pub fn documented() -> OpenApiRouter<ApiState> {
    protected().merge(health::router())
}

/// The routes behind a token.
fn protected() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .merge(app::router())
        .merge(endpoint::router())
        .merge(endpoint_extras::router())
        .merge(endpoint_replay::router())
        .merge(background_task::router())
        .merge(message::router())
        .merge(attempt::router())
        .merge(event_type::router())
        .merge(handler::router())
        .merge(source::router())
        .merge(pause::router())
        .merge(stats::router())
        .merge(token::router())
        .merge(portal::router())
        .merge(audit::router())
        .merge(stream::router())
        .merge(operational::router())
        .merge(alert::router())
        .merge(node::router())
}

/// The whole API. Paths are matched with or without a trailing slash (the caller strips it; see
/// [`crate::http`]), so Svix's SDKs, which use both, work.
pub fn router(state: ApiState) -> Router {
    let (protected, _) = protected().split_for_parts();
    let mut protected = protected
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(crate::openapi::serve),
        )
        // No operation: the 422 for a pause path with a scope but no id (see `pause::router`).
        .route(
            "/api/v1/pause/{scope}",
            axum::routing::any(pause::misaddressed),
        )
        .layer(middleware::from_fn_with_state(
            state.store.clone(),
            idempotency::idempotency,
        ));
    if let Some(limit) = ApiRateLimit::new(state.limits.api_rate_limit, state.limits.api_burst) {
        protected = protected.layer(middleware::from_fn_with_state(
            limit,
            ratelimit::limit_per_token,
        ));
    }
    // Authentication runs before the rate limit, so only valid tokens reach it, and before the
    // audit log, which records who; the store gate is outermost, answering at once while the
    // store is known to be down.
    let protected = protected
        .layer(middleware::from_fn_with_state(
            state.clone(),
            audit_log::record_writes,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.health.clone(),
            store_gate::store_gate,
        ));
    Router::new()
        .merge(protected)
        .merge(health::router().split_for_parts().0)
        .route("/metrics", axum::routing::get(crate::metrics::serve))
        .route("/api/docs", axum::routing::get(api_docs))
        .merge(crate::dashboard::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn(refuse_nul))
        .layer(DefaultBodyLimit::max(state.limits.max_payload_bytes))
        .with_state(state)
}

/// A browsable reference of the API, written here and embedded (no CDN): it asks for a token,
/// keeps it in the browser session, and lists the operations of `/api/v1/openapi.json`; with
/// `?app=<id>` (the `url` app-portal-access returns) it shows that app's routes.
async fn api_docs() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../assets/api-docs.html"))
}

/// A NUL character (`%00`) in the path or query: no id, name or filter can hold one, and
/// PostgreSQL refuses it in text, so it is a 400 here rather than a fault of the store.
async fn refuse_nul(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    let nul = |s: &str| s.contains("%00");
    if nul(uri.path()) || uri.query().is_some_and(nul) {
        return ApiError::bad_request(
            "invalid_request",
            "the path or query contains a NUL character (%00)",
        )
        .into_response();
    }
    next.run(req).await
}

/// A path no route serves: the dashboard's page when a browser asks for one (a client-side
/// route such as `/apps/acme`), else a JSON error like every other, so an SDK raises its API
/// error rather than failing to decode an empty body.
async fn unknown_route(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if crate::dashboard::wants_page(&method, uri.path(), &headers) {
        return crate::dashboard::page();
    }
    ApiError::Http {
        status: axum::http::StatusCode::NOT_FOUND,
        code: "not_found",
        detail: format!("no route serves {}", uri.path()),
    }
    .into_response()
}

/// A served path asked with a method it does not take.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::Http {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        detail: format!("{} does not take {method}", uri.path()),
    }
}

/// What a `worker` node serves: health and metrics, no API.
pub fn worker_router(state: ApiState) -> Router {
    Router::new()
        .merge(health::router().split_for_parts().0)
        .route("/metrics", axum::routing::get(crate::metrics::serve))
        .fallback(unknown_route)
        .with_state(state)
}
