//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the handlers and the
//! types they read and write, so it says what the server does: the same field names (serde's
//! renames), the same optional fields, the same query parameters.
//!
//! # Adding a route: the pattern every module of [`crate::routes`] follows
//!
//! 1. Derive `utoipa::ToSchema` on the body types beside their serde derives (`XIn`, `XPatch`,
//!    `XOut`), and `utoipa::IntoParams` with `#[into_params(parameter_in = Query)]` on the query
//!    struct. A flattened [`ListParams`](crate::http::list::ListParams) field gets
//!    `#[param(ignore)]`, and the operation lists `ListParams` in its `params(…)`. Give every
//!    field a `///` line: it is what a generated client shows.
//! 2. Annotate the handler. Its first doc line is the summary, the rest the description; path
//!    parameters are named from the path and typed from the handler's `Path<…>`; list only the
//!    success answers, since [`document`] adds the error answers every route can give (and the
//!    `idempotency-key` header of every `POST`):
//!
//!    ```text
//!    /// Get Application
//!    #[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = TAG,
//!        operation_id = "v1.application.get",
//!        responses((status = 200, body = ApplicationOut)))]
//!    async fn fetch(State(state): State<ApiState>, Path(app_id): Path<String>) -> … {}
//!    ```
//! 3. Register it in the module's `router()`, an `OpenApiRouter`, with
//!    `.routes(routes!(fetch, update, …))` (one call per path): `routes!` serves the handlers
//!    and adds their operations to this document in one step. Never `.route(…)`, which would
//!    serve a route the document does not show; a unit test below refuses one in `routes/`.
//!    A new module's `router()` is merged in `routes::protected` (behind a token), and a new
//!    path parameter gets its description in `PATH_PARAMS` below.
//!
//! Operation ids are Svix's (`v1.application.list`, …) where Svix has the route, and follow
//! the same `v1.<resource>.<action>` form for rustyhook's own.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{PartialSchema, ToSchema};

use crate::http::error::{HttpErrorOut, ValidationOut};

/// The errors every authenticated operation can answer, with the schema of each body.
const ERRORS: &[(&str, &str, &str)] = &[
    ("400", "HttpErrorOut", "malformed request"),
    ("401", "HttpErrorOut", "missing, wrong or expired token"),
    ("403", "HttpErrorOut", "the token may not do this"),
    ("404", "HttpErrorOut", "not found"),
    ("409", "HttpErrorOut", "conflict"),
    ("413", "HttpErrorOut", "body too large"),
    (
        "422",
        "HTTPValidationError",
        "validation error: every problem, by field",
    ),
    (
        "429",
        "HttpErrorOut",
        "rate limited: retry after `Retry-After` seconds",
    ),
    (
        "503",
        "HttpErrorOut",
        "the store cannot be reached: retry after `Retry-After`",
    ),
    (
        "507",
        "HttpErrorOut",
        "the store's disk is full: retry after `Retry-After`",
    ),
];

/// What each path parameter names. A route with a new parameter adds it here (a unit test
/// below finds one without a description).
const PATH_PARAMS: &[(&str, &str)] = &[
    ("app_id", "The application's id (`app_…`) or uid."),
    ("endpoint_id", "The endpoint's id (`ep_…`) or uid."),
    ("msg_id", "The message's id (`msg_…`) or `eventId`."),
    ("attempt_id", "The attempt's id (`atmpt_…`)."),
    (
        "event_type_name",
        "The event type's name, such as `invoice.paid`.",
    ),
    ("task_id", "The background task's id (`qtask_…`)."),
    ("handler_id", "The handler's `id` in the config."),
    ("run_id", "The run's id (`run_…`)."),
    ("rule_id", "The alert rule's id (`alr_…`)."),
    (
        "source_name",
        "The source's name, as `GET /api/v1/source` lists it.",
    ),
    ("token_id", "The token's id (`tok_…`)."),
    (
        "scope",
        "What is paused: `app`, `endpoint`, `handler` or `source` (the server's pause is at \
         `/api/v1/pause/server`).",
    ),
    (
        "id",
        "The paused target: an app's id (`app_…`) or uid, an endpoint's id (`ep_…`), a \
         handler's `id` in the config, or a source's name.",
    ),
];

/// The tag of routes that need no token.
const UNAUTHENTICATED_TAG: &str = "Health";

static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// The document, as JSON.
pub fn document() -> Value {
    DOCUMENT.clone()
}

/// Serves the document.
pub async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.to_string(),
    )
        .into_response()
}

/// The operations served, as `(method, path)`, for tests that check every one is routed.
pub fn operations() -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in DOCUMENT["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
            ops.push((method.clone(), path.clone()));
        }
    }
    ops
}

fn build() -> Value {
    let mut doc = crate::routes::documented().into_openapi();
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("rustyhook API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Svix-compatible webhook API served by rustyhook, with rustyhook's own handlers, \
             sources, tokens and audit log. Authenticate with `Authorization: Bearer <token>`.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "HTTPBearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    let mut schemas = Vec::new();
    HttpErrorOut::schemas(&mut schemas);
    ValidationOut::schemas(&mut schemas);
    schemas.push((HttpErrorOut::name().into(), HttpErrorOut::schema()));
    schemas.push((ValidationOut::name().into(), ValidationOut::schema()));
    components.schemas.extend(schemas);
    let mut doc = serde_json::to_value(doc).expect("an OpenAPI document serializes");
    doc["security"] = json!([{"HTTPBearer": []}]);
    refer_to_list_items(&mut doc["components"]["schemas"]);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for (method, op) in item.as_object_mut().into_iter().flatten() {
                complete(method, path, op);
            }
        }
    }
    doc
}

/// utoipa inlines a generic's argument: `ListResponse_EndpointOut` would hold a copy of
/// `EndpointOut`, and a generated client a second class for it. Each list's `data` refers to
/// its item's schema instead, as Svix's document does.
fn refer_to_list_items(schemas: &mut Value) {
    let Some(schemas) = schemas.as_object_mut() else {
        return;
    };
    let named: Vec<String> = schemas.keys().cloned().collect();
    for (name, schema) in schemas.iter_mut() {
        if let Some(item) = name.strip_prefix("ListResponse_")
            && named.iter().any(|n| n == item)
        {
            schema["properties"]["data"]["items"] =
                json!({"$ref": format!("#/components/schemas/{item}")});
        }
    }
}

/// Adds to one operation what every operation of its kind has in common.
fn complete(method: &str, path: &str, op: &mut Value) {
    // `get_mut`, not `op["parameters"]`, which would add `"parameters": null` where none are.
    let params = op.get_mut("parameters").and_then(Value::as_array_mut);
    for param in params.into_iter().flatten() {
        if param["in"] == "path"
            && let Some((_, about)) = PATH_PARAMS.iter().find(|(n, _)| param["name"] == *n)
        {
            param["description"] = json!(about);
        }
    }
    for response in op["responses"]
        .as_object_mut()
        .into_iter()
        .flat_map(|r| r.values_mut())
    {
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!("success");
        }
    }
    let public = op["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == UNAUTHENTICATED_TAG));
    if public {
        op["security"] = json!([]);
        return;
    }
    for (status, schema, description) in ERRORS {
        op["responses"][*status] = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
        });
    }
    if method == "post" {
        let params = op["parameters"].as_array_mut();
        let header = json!({
            "name": "idempotency-key", "in": "header", "required": false,
            "description": "A key that makes the request safe to retry: the same key within 12 hours gets the first answer again.",
            "schema": {"type": "string"},
        });
        match params {
            Some(p) => p.push(header),
            None => op["parameters"] = json!([header]),
        }
    }
    debug_assert!(
        op["operationId"].is_string(),
        "{method} {path} has no operationId"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_module_serves_a_route_the_document_does_not_show() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        for entry in std::fs::read_dir(&dir).expect("src/routes") {
            let path = entry.expect("an entry").path();
            let text = std::fs::read_to_string(&path).expect("readable");
            if path.ends_with("mod.rs") {
                continue;
            }
            assert!(
                !text.contains(".route("),
                "{} registers a route with .route(…): use .routes(routes!(…)) with a \
                 #[utoipa::path] handler, so the OpenAPI document shows it",
                path.display()
            );
        }
    }

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_referred_to_is_in_the_document_and_lists_refer_to_their_items() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 100, "{} refs", all.len());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} is not a schema of this document"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} is missing"
            );
        }
        let list = &doc["components"]["schemas"]["ListResponse_EndpointOut"];
        assert_eq!(
            list["properties"]["data"]["items"]["$ref"],
            "#/components/schemas/EndpointOut"
        );
        assert_eq!(list["required"], json!(["data", "done"]));
    }

    #[test]
    fn the_live_feed_shows_its_filters_its_resume_header_and_its_events() {
        let doc = document();
        let op = &doc["paths"]["/api/v1/stream"]["get"];
        assert_eq!(op["operationId"], "v1.stream.get");
        let params = op["parameters"].as_array().expect("parameters");
        for (name, place) in [
            ("app", "query"),
            ("endpoint", "query"),
            ("handler", "query"),
            ("outcome", "query"),
            ("Last-Event-ID", "header"),
        ] {
            let p = params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("no parameter {name}"));
            assert_eq!(p["in"], place, "{name}");
            assert_eq!(p["required"], false, "{name}");
        }
        let ok = &op["responses"]["200"];
        assert_eq!(
            ok["content"]["text/event-stream"]["schema"]["$ref"],
            "#/components/schemas/StreamEventOut"
        );
        let description = op["description"].as_str().expect("a description");
        for event in ["`attempt`", "`run`", "`dead`", "`lag`", "`reset`"] {
            assert!(description.contains(event), "{event} is not described");
        }
        let data = &doc["components"]["schemas"]["StreamEventOut"];
        assert!(data["properties"]["outcome"].is_object(), "{data}");
    }

    #[test]
    fn every_operation_has_an_id_a_tag_and_a_success_answer_with_its_schema() {
        let doc = document();
        let ops = operations();
        assert!(ops.len() > 60, "{} operations", ops.len());
        let mut ids = std::collections::HashSet::new();
        for (method, path) in ops {
            let op = &doc["paths"][&path][&method];
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
            assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
            assert!(
                op.get("parameters").is_none_or(Value::is_array),
                "{method} {path}: parameters is not a list"
            );
            for param in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    param["description"].is_string(),
                    "{method} {path}: parameter {} has no description",
                    param["name"]
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success answer"
            );
            for s in responses.keys().filter(|s| *s == "200" || *s == "201") {
                // JSON, or the live feed's `text/event-stream`, whose schema is its events' data.
                let content = &responses[s]["content"];
                let media = ["application/json", "text/event-stream"]
                    .into_iter()
                    .find(|m| content[*m].is_object())
                    .unwrap_or("application/json");
                assert!(
                    content[media]["schema"].is_object(),
                    "{method} {path} answers {s} without a schema"
                );
                let out = &content[media]["schema"]["$ref"];
                // Handlers and sources come from the config, listed whole in one page.
                let whole = ["v1.handler.list", "v1.source.list"].contains(&id);
                if out.as_str().is_some_and(|r| r.contains("ListResponse")) && !whole {
                    let params = op["parameters"].as_array().into_iter().flatten();
                    assert!(
                        params
                            .into_iter()
                            .any(|p| p["name"] == "limit" && p["in"] == "query"),
                        "the list {method} {path} does not show its pagination"
                    );
                }
            }
        }
    }
}
