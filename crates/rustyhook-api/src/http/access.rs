//! What each kind of token may reach, decided from the method and path alone (pure, so every
//! rule is unit-tested here). The one question it cannot answer alone — whether an app named by
//! uid is the token's own — it hands back as [`Decision::IfApp`] for the caller to look up.
//!
//! - The admin token and `admin` tokens reach everything.
//! - Managing tokens, reading the audit log, issuing app-portal tokens and operational webhooks
//!   are for admins only.
//! - `read-only` tokens, and app tokens made read-only, may only `GET` (and `HEAD`).
//! - `app` tokens reach every route under `/api/v1/app/{their app}` except changing or
//!   deleting the app itself; `GET /api/v1/app` (which then lists only their app),
//!   `GET /api/v1/background-task[/{id}]` (which then shows only their app's tasks),
//!   `GET /api/v1/stream` (which then shows only their app's events), reading the event-type
//!   catalog (`GET /api/v1/event-type[/{name}]`, shared by every app: what their endpoints can
//!   subscribe to), `GET /api/v1/stats/app/{their app}[/endpoint/{id}]` (their app's and
//!   endpoints' stats) and the OpenAPI document; nothing else.
//! - Any token may log itself out (`POST /api/v1/auth/logout`) and ask what it may do
//!   (`GET /api/v1/auth/me`).

use axum::http::{Method, StatusCode};
use rustyhook_store::TokenRole;

use super::auth::Principal;
use super::error::ApiError;

/// The outcome for one request.
#[derive(Debug)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse with this error.
    Deny(ApiError),
    /// Go ahead only if this id or uid is the caller's app; else 404.
    IfApp(String),
}

/// Paths under these prefixes are for admins only.
const ADMIN_ONLY: &[&str] = &[
    "/api/v1/token",
    "/api/v1/audit",
    "/api/v1/auth/app-portal-access",
];

/// The operator's operational webhook endpoints: admins only, read-only tokens included.
const OPERATIONAL_WEBHOOKS: &str = "/api/v1/operational-webhook";

/// The path every token may call to revoke itself.
pub const LOGOUT: &str = "/api/v1/auth/logout";

/// The path every token may call to learn its own role and app.
pub const ME: &str = "/api/v1/auth/me";

/// The event-type catalog, which app tokens may read.
const EVENT_TYPES: &str = "/api/v1/event-type";

/// Where background tasks are read: an app token reads its app's, the routes filtering them.
const BACKGROUND_TASKS: &str = "/api/v1/background-task";

/// The live feed: an app token sees its app's events, the route holding its filter to them.
const STREAM: &str = "/api/v1/stream";
/// Where an app's stats are read; an app token may read its own app's (GET only, the routes
/// have no other method).
const APP_STATS: &str = "/api/v1/stats/app/";

fn forbidden(detail: impl Into<String>) -> Decision {
    Decision::Deny(ApiError::Http {
        status: StatusCode::FORBIDDEN,
        code: "forbidden",
        detail: detail.into(),
    })
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What `principal` may do with `method` on `path` (already stripped of a trailing slash).
pub fn decide(principal: &Principal, method: &Method, path: &str) -> Decision {
    let token = match principal {
        Principal::Admin => return Decision::Allow,
        Principal::Token(t) if t.role == TokenRole::Admin => return Decision::Allow,
        Principal::Token(t) => t,
    };
    if (path == LOGOUT && method == Method::POST) || (path == ME && method == Method::GET) {
        return Decision::Allow;
    }
    if under(path, OPERATIONAL_WEBHOOKS) {
        return forbidden(format!(
            "this token's role ({}) may not manage operational webhooks; use an admin token",
            token.role.as_str()
        ));
    }
    if ADMIN_ONLY.iter().any(|p| under(path, p)) {
        return forbidden(format!(
            "this token's role ({}) may not manage tokens or read the audit log; use an admin token",
            token.role.as_str()
        ));
    }
    let reads = method == Method::GET || method == Method::HEAD;
    if !reads && (token.role == TokenRole::ReadOnly || token.read_only) {
        return forbidden(format!(
            "this token is read-only: {method} is not allowed, only GET"
        ));
    }
    if token.role != TokenRole::App {
        return Decision::Allow;
    }
    // The background-task routes hold an app token to its own app's tasks themselves.
    let own_tasks = reads && (under(path, BACKGROUND_TASKS) || path == STREAM);
    let catalog = reads && under(path, EVENT_TYPES);
    if own_tasks || catalog || path == "/api/v1/openapi.json" || (path == "/api/v1/app" && reads) {
        return Decision::Allow;
    }
    if let Some(rest) = path.strip_prefix(APP_STATS) {
        let app = rest.split('/').next().unwrap_or_default();
        return Decision::IfApp(app.to_owned());
    }
    let Some(rest) = path.strip_prefix("/api/v1/app/") else {
        return forbidden("this token is limited to one app: only that app's routes are allowed");
    };
    let (app, below) = match rest.split_once('/') {
        Some((app, below)) => (app, !below.is_empty()),
        None => (rest, false),
    };
    if !below && !reads {
        return forbidden("a token limited to one app may not change or delete the app itself");
    }
    Decision::IfApp(app.to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustyhook_core::id::AppId;
    use rustyhook_store::ApiToken;

    use super::*;

    fn token(role: TokenRole, read_only: bool) -> Principal {
        Principal::Token(Arc::new(ApiToken {
            id: "tok_1".into(),
            name: "t".into(),
            role,
            app_id: (role == TokenRole::App).then(|| AppId::from_trusted("app_1".into())),
            read_only,
            token_hash: String::new(),
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        }))
    }

    fn outcome(p: &Principal, method: Method, path: &str) -> String {
        match decide(p, &method, path) {
            Decision::Allow => "allow".into(),
            Decision::Deny(ApiError::Http { status, .. }) => status.as_u16().to_string(),
            Decision::Deny(other) => format!("{other:?}"),
            Decision::IfApp(app) => format!("if {app}"),
        }
    }

    #[test]
    fn each_role_reaches_what_its_documentation_says() {
        let admin = token(TokenRole::Admin, false);
        let read = token(TokenRole::ReadOnly, false);
        let app = token(TokenRole::App, false);
        let app_read = token(TokenRole::App, true);
        let table = [
            (&Principal::Admin, Method::POST, "/api/v1/token", "allow"),
            (&admin, Method::DELETE, "/api/v1/token/tok_2", "allow"),
            (&read, Method::GET, "/api/v1/app/app_9/msg", "allow"),
            (&read, Method::GET, "/api/v1/handler", "allow"),
            (&read, Method::POST, "/api/v1/app", "403"),
            (&read, Method::DELETE, "/api/v1/app/app_9", "403"),
            (&read, Method::GET, "/api/v1/token", "403"),
            (&read, Method::GET, "/api/v1/audit", "403"),
            (&read, Method::POST, "/api/v1/auth/logout", "allow"),
            (&app, Method::GET, "/api/v1/app", "allow"),
            (&app, Method::POST, "/api/v1/app", "403"),
            (&app, Method::GET, "/api/v1/app/app_1", "if app_1"),
            (&app, Method::PUT, "/api/v1/app/app_1", "403"),
            (&app, Method::DELETE, "/api/v1/app/app_1", "403"),
            (&app, Method::POST, "/api/v1/app/acme/endpoint", "if acme"),
            (&app, Method::POST, "/api/v1/app/app_1/msg", "if app_1"),
            (&app, Method::GET, "/api/v1/event-type", "allow"),
            (
                &app,
                Method::GET,
                "/api/v1/event-type/invoice.paid",
                "allow",
            ),
            (&app, Method::POST, "/api/v1/event-type", "403"),
            (
                &app_read,
                Method::DELETE,
                "/api/v1/event-type/invoice.paid",
                "403",
            ),
            (&app, Method::GET, "/api/v1/event-types", "403"),
            (&app, Method::GET, "/api/v1/auth/me", "allow"),
            (&app_read, Method::GET, "/api/v1/auth/me", "allow"),
            (&read, Method::GET, "/api/v1/auth/me", "allow"),
            (&app, Method::POST, "/api/v1/auth/me", "403"),
            (&app, Method::GET, "/api/v1/handler", "403"),
            (&app, Method::GET, "/api/v1/application", "403"),
            (
                &app,
                Method::POST,
                "/api/v1/auth/app-portal-access/app_1",
                "403",
            ),
            (&app, Method::GET, "/api/v1/openapi.json", "allow"),
            (&app, Method::GET, "/api/v1/stats/app/app_1", "if app_1"),
            (
                &app,
                Method::GET,
                "/api/v1/stats/app/acme/endpoint/ep_1",
                "if acme",
            ),
            (&app, Method::GET, "/api/v1/stats/server", "403"),
            (&app, Method::GET, "/api/v1/stats/summary", "403"),
            (&app, Method::GET, "/api/v1/stats/handler/h", "403"),
            (&read, Method::GET, "/api/v1/stats/summary", "allow"),
            (&app, Method::GET, "/api/v1/background-task", "allow"),
            (
                &app,
                Method::GET,
                "/api/v1/background-task/qtask_1",
                "allow",
            ),
            (&app, Method::POST, "/api/v1/background-task", "403"),
            (&app, Method::GET, "/api/v1/stream", "allow"),
            (&app, Method::POST, "/api/v1/stream", "403"),
            (&read, Method::GET, "/api/v1/stream", "allow"),
            (&app, Method::GET, "/api/v1/background-tasks", "403"),
            (&read, Method::GET, "/api/v1/background-task", "allow"),
            (
                &app_read,
                Method::GET,
                "/api/v1/app/app_1/endpoint",
                "if app_1",
            ),
            (&app_read, Method::POST, "/api/v1/app/app_1/endpoint", "403"),
        ];
        for (principal, method, path, expected) in table {
            assert_eq!(
                outcome(principal, method.clone(), path),
                expected,
                "{principal:?} {method} {path}"
            );
        }
    }
}
