//! The OpenAPI document served at `/api/v1/openapi.json`, built from the table of routes this
//! crate serves so the two cannot drift apart.

use axum::Json;

/// One served operation.
struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    success: &'static str,
}

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    success: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        id,
        summary,
        success,
    }
}

const APP: &str = "/api/v1/app/{app_id}";
const HANDLER: &str = "/api/v1/handler/{handler_id}";
const RUN: &str = "/api/v1/handler/{handler_id}/run/{run_id}";
const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/app",
        "v1.application.list",
        "List Applications",
        "200",
    ),
    op(
        "post",
        "/api/v1/app",
        "v1.application.create",
        "Create Application",
        "201",
    ),
    op("get", APP, "v1.application.get", "Get Application", "200"),
    op(
        "put",
        APP,
        "v1.application.update",
        "Update Application",
        "200",
    ),
    op(
        "patch",
        APP,
        "v1.application.patch",
        "Patch Application",
        "200",
    ),
    op(
        "delete",
        APP,
        "v1.application.delete",
        "Delete Application",
        "204",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint",
        "v1.endpoint.list",
        "List Endpoints",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/endpoint",
        "v1.endpoint.create",
        "Create Endpoint",
        "201",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
        "v1.endpoint.get",
        "Get Endpoint",
        "200",
    ),
    op(
        "put",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
        "v1.endpoint.update",
        "Update Endpoint",
        "200",
    ),
    op(
        "patch",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
        "v1.endpoint.patch",
        "Patch Endpoint",
        "200",
    ),
    op(
        "delete",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
        "v1.endpoint.delete",
        "Delete Endpoint",
        "204",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
        "v1.endpoint.get-headers",
        "Get Endpoint Headers",
        "200",
    ),
    op(
        "put",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
        "v1.endpoint.update-headers",
        "Update Endpoint Headers",
        "204",
    ),
    op(
        "patch",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
        "v1.endpoint.patch-headers",
        "Patch Endpoint Headers",
        "204",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret",
        "v1.endpoint.get-secret",
        "Get Endpoint Secret",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
        "v1.endpoint.rotate-secret",
        "Rotate Endpoint Secret",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover",
        "v1.endpoint.recover",
        "Recover Failed Webhooks",
        "202",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing",
        "v1.endpoint.replay-missing",
        "Replay Missing Webhooks",
        "202",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats",
        "v1.endpoint.get-stats",
        "Endpoint Stats",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example",
        "v1.endpoint.send-example",
        "Send Event Type Example Message",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg",
        "v1.message-attempt.list-attempted-messages",
        "List Attempted Messages",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg",
        "v1.message.list",
        "List Messages",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/msg",
        "v1.message.create",
        "Create Message",
        "202",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg/{msg_id}",
        "v1.message.get",
        "Get Message",
        "200",
    ),
    op(
        "delete",
        "/api/v1/app/{app_id}/msg/{msg_id}/content",
        "v1.message.expunge-content",
        "Delete Message Payload",
        "204",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
        "v1.message-attempt.list-by-endpoint",
        "List Attempts By Endpoint",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/attempt/msg/{msg_id}",
        "v1.message-attempt.list-by-msg",
        "List Attempts By Msg",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg/{msg_id}/attempt",
        "v1.message-attempt.list-by-msg-deprecated",
        "List Attempts (deprecated)",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
        "v1.message-attempt.get",
        "Get Attempt",
        "200",
    ),
    op(
        "delete",
        "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
        "v1.message-attempt.expunge-content",
        "Delete Attempt Response Body",
        "204",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg/{msg_id}/endpoint",
        "v1.message-attempt.list-attempted-destinations",
        "List Attempted Destinations",
        "200",
    ),
    op(
        "get",
        "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt",
        "v1.message-attempt.list-by-endpoint-deprecated",
        "List Attempts For Endpoint (deprecated)",
        "200",
    ),
    op(
        "post",
        "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
        "v1.message-attempt.resend",
        "Resend Webhook",
        "202",
    ),
    op(
        "get",
        "/api/v1/event-type",
        "v1.event-type.list",
        "List Event Types",
        "200",
    ),
    op(
        "post",
        "/api/v1/event-type",
        "v1.event-type.create",
        "Create Event Type",
        "201",
    ),
    op(
        "get",
        "/api/v1/event-type/{event_type_name}",
        "v1.event-type.get",
        "Get Event Type",
        "200",
    ),
    op(
        "put",
        "/api/v1/event-type/{event_type_name}",
        "v1.event-type.update",
        "Update Event Type",
        "200",
    ),
    op(
        "patch",
        "/api/v1/event-type/{event_type_name}",
        "v1.event-type.patch",
        "Patch Event Type",
        "200",
    ),
    op(
        "delete",
        "/api/v1/event-type/{event_type_name}",
        "v1.event-type.delete",
        "Delete Event Type",
        "204",
    ),
    op(
        "get",
        "/api/v1/handler",
        "v1.handler.list",
        "List Handlers",
        "200",
    ),
    op("get", HANDLER, "v1.handler.get", "Get Handler", "200"),
    op(
        "get",
        "/api/v1/handler/{handler_id}/run",
        "v1.handler.run.list",
        "List Handler Runs",
        "200",
    ),
    op(
        "post",
        "/api/v1/handler/{handler_id}/run",
        "v1.handler.run.create",
        "Run Handler",
        "202",
    ),
    op("get", RUN, "v1.handler.run.get", "Get Handler Run", "200"),
    op(
        "get",
        "/api/v1/handler/{handler_id}/run/{run_id}/attempt",
        "v1.handler.run.attempt.list",
        "List Handler Run Attempts",
        "200",
    ),
    op(
        "post",
        "/api/v1/handler/{handler_id}/run/{run_id}/rerun",
        "v1.handler.run.rerun",
        "Re-run Handler Run",
        "202",
    ),
    op(
        "post",
        "/api/v1/handler/{handler_id}/recover",
        "v1.handler.recover",
        "Recover Dead Handler Runs",
        "202",
    ),
    op(
        "get",
        "/api/v1/source",
        "v1.source.list",
        "List Sources",
        "200",
    ),
    op(
        "get",
        "/api/v1/source/{source_name}/rejected",
        "v1.source.rejected.list",
        "List Rejected Source Messages",
        "200",
    ),
    op(
        "get",
        "/api/v1/token",
        "v1.token.list",
        "List API Tokens",
        "200",
    ),
    op(
        "post",
        "/api/v1/token",
        "v1.token.create",
        "Create API Token",
        "201",
    ),
    op(
        "get",
        "/api/v1/token/{token_id}",
        "v1.token.get",
        "Get API Token",
        "200",
    ),
    op(
        "delete",
        "/api/v1/token/{token_id}",
        "v1.token.revoke",
        "Revoke API Token",
        "204",
    ),
    op(
        "get",
        "/api/v1/stats/summary",
        "v1.stats.summary",
        "Server Stats Summary",
        "200",
    ),
    op(
        "get",
        "/api/v1/stats/server",
        "v1.stats.server",
        "Server Stats Series",
        "200",
    ),
    op(
        "get",
        "/api/v1/stats/app/{app_id}",
        "v1.stats.app",
        "Application Stats Series",
        "200",
    ),
    op(
        "get",
        "/api/v1/stats/app/{app_id}/endpoint/{endpoint_id}",
        "v1.stats.endpoint",
        "Endpoint Stats Series",
        "200",
    ),
    op(
        "get",
        "/api/v1/stats/handler/{handler_id}",
        "v1.stats.handler",
        "Handler Stats Series",
        "200",
    ),
    op(
        "get",
        "/api/v1/stats/source/{source_name}",
        "v1.stats.source",
        "Source Stats Series",
        "200",
    ),
    op(
        "get",
        "/api/v1/audit",
        "v1.audit.list",
        "List Audit Log",
        "200",
    ),
    op(
        "get",
        "/api/v1/background-task",
        "v1.background-task.list",
        "List Background Tasks",
        "200",
    ),
    op(
        "get",
        "/api/v1/background-task/{task_id}",
        "v1.background-task.get",
        "Get Background Task",
        "200",
    ),
    op(
        "post",
        "/api/v1/auth/app-portal-access/{app_id}",
        "v1.authentication.app-portal-access",
        "Get Consumer App Portal Access",
        "200",
    ),
    op(
        "post",
        "/api/v1/auth/logout",
        "v1.authentication.logout",
        "Logout",
        "204",
    ),
    op("get", "/api/v1/health", "v1.health.get", "Health", "204"),
    op(
        "get",
        "/api/v1/health/ping",
        "v1.health.ping",
        "Ping",
        "204",
    ),
];

/// The document, as JSON.
pub fn document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for o in OPERATIONS {
        let params: Vec<serde_json::Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses = serde_json::json!({
            o.success: {"description": "success"},
            "400": {"description": "malformed request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpErrorOut"}}}},
            "401": {"description": "missing or wrong token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpErrorOut"}}}},
            "404": {"description": "not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpErrorOut"}}}},
            "409": {"description": "conflict", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpErrorOut"}}}},
            "413": {"description": "body too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpErrorOut"}}}},
            "422": {"description": "validation error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}},
        });
        if o.path.starts_with("/api/v1/health") {
            responses = serde_json::json!({"204": {"description": "healthy"}, "503": {"description": "store unavailable"}});
        }
        let mut operation = serde_json::json!({
            "operationId": o.id,
            "summary": o.summary,
            "parameters": params,
            "responses": responses,
        });
        if o.method == "post" {
            operation["parameters"]
                .as_array_mut()
                .expect("parameters is an array")
                .push(serde_json::json!({"name": "idempotency-key", "in": "header", "required": false, "schema": {"type": "string"}}));
        }
        if o.path.starts_with("/api/v1/health") {
            operation["security"] = serde_json::json!([]);
        }
        let entry = paths
            .entry(o.path.to_owned())
            .or_insert_with(|| serde_json::json!({}));
        entry[o.method] = operation;
    }
    serde_json::json!({
        "openapi": "3.0.2",
        "info": {"title": "rustyhook API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Svix-compatible webhook API served by rustyhook."},
        "security": [{"HTTPBearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "HttpErrorOut": {"type": "object", "required": ["code", "detail"],
                    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}}},
                "HTTPValidationError": {"type": "object", "required": ["detail"],
                    "properties": {"detail": {"type": "array", "items": {"type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {"loc": {"type": "array", "items": {"type": "string"}},
                                       "msg": {"type": "string"}, "type": {"type": "string"}}}}}}
            }
        }
    })
}

/// Serves the document.
pub async fn serve() -> Json<serde_json::Value> {
    Json(document())
}

/// The operations served, as `(method, path)`, for tests that check every one is routed.
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPERATIONS.iter().map(|o| (o.method, o.path))
}
