//! The audit log of API writes: `GET /api/v1/audit`, newest first, filtered by who
//! (`actor`: a token id or `admin`), `method` and time (`before`, `after`), paginated like every
//! list. Admins only. See [`crate::http::audit`] for what is recorded and what is not.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rustyhook_core::id::AuditId;
use rustyhook_core::time::to_rfc3339;
use rustyhook_store::{AuditEntry, AuditFilter, Order};
use serde::{Deserialize, Serialize};

use super::common::time_param;
use crate::http::error::ApiResult;
use crate::http::extract::QueryParams;
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/audit", get(list))
}

/// The list's query string.
#[derive(Debug, Deserialize)]
struct AuditParams {
    #[serde(flatten)]
    list: ListParams,
    actor: Option<String>,
    method: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// `AuditEntryOut`: one write.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryOut {
    id: String,
    actor: String,
    method: String,
    route: String,
    /// The route's parameters (`{"app_id": "app_…"}`).
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
