//! Extractors that turn bad input into clear answers: malformed JSON is a 400, JSON of the wrong
//! shape a 422 naming the field, an oversized body a 413. Nothing is stored on any of these paths,
//! because a handler only runs once its input has parsed.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ValidationItem};

/// A JSON body parsed into `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Http {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "payload_too_large",
                    detail: "the request body is larger than limits.max_payload_bytes allows"
                        .into(),
                }
            } else {
                ApiError::bad_request("invalid_body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a body: syntax errors are 400, shape errors 422 with the path of the bad field.
///
/// Every request body of the API is a JSON object, and nothing may follow it but whitespace:
/// serde would otherwise read a struct from an array (`[]` as "no fields") and stop at the
/// end of the first value, accepting `{...} garbage`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let syntax = |inner: &serde_json::Error| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {inner}"),
        )
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| matches!(b, b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')) {
        return Err(ApiError::invalid(
            &["body"],
            "the body must be a JSON object",
        ));
    }
    if let Some(loc) = nul_in_text(bytes) {
        return Err(ApiError::Validation(vec![ValidationItem {
            loc,
            msg: "text may not contain the NUL character (\\u0000)".into(),
            kind: "value_error".into(),
        }]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return syntax(inner);
        }
        let mut loc = vec!["body".to_owned()];
        let path = e.path().to_string();
        if path != "." {
            loc.extend(path.split('.').map(str::to_owned));
        }
        ApiError::Validation(vec![ValidationItem {
            loc,
            msg: strip_position(&inner.to_string()),
            kind: "value_error.jsondecode".into(),
        }])
    })?;
    de.end().map_err(|e| syntax(&e))?;
    Ok(parsed)
}

/// Where a JSON string of the body, outside a message's `payload` (kept as JSON text), holds a
/// NUL character: no text column of PostgreSQL can store one, so it is refused up front on both
/// backends alike. Only a body that has the escape at all is parsed a second time.
fn nul_in_text(bytes: &[u8]) -> Option<Vec<String>> {
    const ESCAPE: &[u8] = b"\\u0000";
    if !bytes.windows(ESCAPE.len()).any(|w| w == ESCAPE) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut loc = vec!["body".to_owned()];
    find_nul(&value, &mut loc).then_some(loc)
}

fn find_nul(value: &serde_json::Value, loc: &mut Vec<String>) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            loc.push(i.to_string());
            let found = find_nul(v, loc);
            if !found {
                loc.pop();
            }
            found
        }),
        serde_json::Value::Object(fields) => fields.iter().any(|(k, v)| {
            if loc.len() == 1 && k == "payload" {
                return false;
            }
            loc.push(k.clone());
            let found = k.contains('\0') || find_nul(v, loc);
            if !found {
                loc.pop();
            }
            found
        }),
        _ => false,
    }
}

/// serde_json appends " at line 1 column 17"; the path already says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// A query string parsed into `T`; a value of the wrong type is a 422 naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                // A field inside a flattened struct has no path of its own ("."): its message
                // names the bad value instead.
                let field = e.path().to_string();
                let mut loc = vec!["query".to_owned()];
                if field != "." {
                    loc.push(field);
                }
                ApiError::Validation(vec![ValidationItem {
                    loc,
                    msg: e.inner().to_string(),
                    kind: "type_error".into(),
                }])
            })
    }
}
