//! API errors, in the shapes Svix's SDKs expect: `{"code", "detail"}` for most 4xx, and
//! `{"detail": [{"loc", "msg", "type"}]}` for 422. Internal faults are logged with their cause and
//! answered with a generic 500, so no detail of our infrastructure reaches the caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustyhook_engine::health::StoreState;
use rustyhook_store::StoreError;
use serde::Serialize;

/// One field-level validation problem (Svix's `ValidationError`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = ValidationError)]
pub struct ValidationItem {
    /// Where: `["body", "url"]`, `["query", "limit"]`, …
    pub loc: Vec<String>,
    /// What is wrong, for people.
    pub msg: String,
    /// A machine-readable kind: `value_error`, `type_error`, `value_error.jsondecode`, …
    #[serde(rename = "type")]
    pub kind: String,
}

impl ValidationItem {
    /// A `value_error` at `loc`.
    pub fn new(loc: &[&str], msg: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind: "value_error".into(),
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// A 4xx with a code and detail.
    Http {
        /// The status.
        status: StatusCode,
        /// A stable code.
        code: &'static str,
        /// What happened, for people.
        detail: String,
    },
    /// 422 with one item per problem.
    Validation(Vec<ValidationItem>),
    /// The store cannot serve the request now: 503 while the database cannot be reached, 507
    /// while its disk is full. Nothing was stored; the caller may send the same request again
    /// after `Retry-After`.
    Store {
        /// [`StoreState::Down`] or [`StoreState::Full`].
        state: StoreState,
    },
    /// A fault of ours; logged, answered with a generic 500.
    Internal(String),
}

/// Seconds a client is asked to wait while the database cannot be reached.
const RETRY_DOWN_SECS: u32 = 5;
/// Seconds a client is asked to wait while the database's disk is full.
const RETRY_FULL_SECS: u32 = 30;

/// Route handlers' result type.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// 404 for a missing resource.
    pub fn not_found(what: &str) -> Self {
        Self::Http {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            detail: format!("{what} not found"),
        }
    }

    /// 409 for a taken unique value.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Http {
            status: StatusCode::CONFLICT,
            code: "conflict",
            detail: detail.into(),
        }
    }

    /// 400 for a request that cannot be acted on.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Http {
            status: StatusCode::BAD_REQUEST,
            code,
            detail: detail.into(),
        }
    }

    /// 422 for one field.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![ValidationItem::new(loc, msg)])
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => {
                Self::conflict("a resource with this uid or name already exists")
            }
            StoreError::NotFound => Self::not_found("entity"),
            StoreError::Unavailable(_) | StoreError::Full(_) => {
                tracing::debug!(error = %e, "request refused: the store cannot serve it now");
                Self::Store {
                    state: StoreState::of_error(&e).unwrap_or(StoreState::Down),
                }
            }
            other => Self::Internal(other.with_causes()),
        }
    }
}

/// Every error but a validation error (Svix's `HttpErrorOut`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct HttpErrorOut<'a> {
    /// A stable code: `not_found`, `conflict`, `authentication_failed`, …
    code: &'a str,
    /// What happened, for people.
    detail: &'a str,
}

/// A 422: every problem found with the request (Svix's `HTTPValidationError`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = HTTPValidationError)]
pub(crate) struct ValidationOut<'a> {
    #[schema(value_type = Vec<ValidationItem>)]
    detail: &'a [ValidationItem],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Http {
                status,
                code,
                detail,
            } => (
                status,
                Json(HttpErrorOut {
                    code,
                    detail: &detail,
                }),
            )
                .into_response(),
            Self::Validation(items) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationOut { detail: &items }),
            )
                .into_response(),
            Self::Store { state } => {
                let (status, code, detail, retry) = if state == StoreState::Full {
                    (
                        StatusCode::INSUFFICIENT_STORAGE,
                        "store_full",
                        "the store's disk is full: nothing was stored; send again once space is freed",
                        RETRY_FULL_SECS,
                    )
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store_unavailable",
                        "the database cannot be reached: nothing was stored; send again shortly",
                        RETRY_DOWN_SECS,
                    )
                };
                let mut response = (
                    status,
                    [(axum::http::header::RETRY_AFTER, retry.to_string())],
                    Json(HttpErrorOut { code, detail }),
                )
                    .into_response();
                // For the store gate, which keeps the node's view of the store current.
                response.extensions_mut().insert(state);
                response
            }
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(HttpErrorOut {
                        code: "server_error",
                        detail: "Internal Server Error",
                    }),
                )
                    .into_response()
            }
        }
    }
}
