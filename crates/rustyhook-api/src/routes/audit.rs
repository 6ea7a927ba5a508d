//! The audit log of API writes: `GET /api/v1/audit`, newest first, filtered by who
//! (`actor`: a token id or `admin`), `method` and time (`before`, `after`), paginated like every
//! list. Admins only. See [`crate::http::audit`] for what is recorded and what is not.

use axum::Json;
use axum::extract::State;
use rustyhook_core::id::AuditId;
use rustyhook_core::time::to_rfc3339;
use rustyhook_store::{AuditEntry, AuditFilter, Order};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::time_param;
use crate::http::error::ApiResult;
use crate::http::extract::QueryParams;
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The list's query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    #[serde(flatten)]
    #[param(ignore)]
    list: ListParams,
    /// Only writes by this token id, or `admin`.
    actor: Option<String>,
    /// Only writes with this HTTP method.
    method: Option<String>,
    /// Only writes before this RFC 3339 time.
    before: Option<String>,
    /// Only writes after this RFC 3339 time.
    after: Option<String>,
}

/// `AuditEntryOut`: one write.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryOut {
    id: String,
    actor: String,
    method: String,
    route: String,
    /// The route's parameters (`{"app_id": "app_…"}`).
    #[schema(value_type = Object)]
    resource: serde_json::Value,
    address: String,
    status: u16,
    timestamp: String,
}

impl From<AuditEntry> for AuditEntryOut {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            method: e.method,
            route: e.route,
            resource: serde_json::from_str(&e.resource).unwrap_or(serde_json::Value::Null),
            address: e.address,
            status: e.status,
            timestamp: to_rfc3339(e.created_at),
        }
    }
}

/// List Audit Log
#[utoipa::path(get, path = "/api/v1/audit", tag = "Audit", operation_id = "v1.audit.list",
    params(ListParams, AuditParams),
    responses((status = 200, body = ListResponse<AuditEntryOut>)))]
async fn list(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<AuditParams>,
) -> ApiResult<Json<ListResponse<AuditEntryOut>>> {
    let filter = AuditFilter {
        actor: params.actor.filter(|a| !a.is_empty()),
        method: params
            .method
            .filter(|m| !m.is_empty())
            .map(|m| m.to_ascii_uppercase()),
        before: time_param("before", params.before.as_deref())?,
        after: time_param("after", params.after.as_deref())?,
    };
    let listed = state
        .store
        .list_audit(
            filter,
            params
                .list
                .page(Order::Descending, |k| AuditId::parse(k).is_some())?,
        )
        .await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |e| e.id.clone(),
        AuditEntryOut::from,
    )))
}
