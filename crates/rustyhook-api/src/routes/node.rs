//! `GET /api/v1/node`: the nodes sharing this store, as each last said on its heartbeat (on
//! SQLite, the one node). A node is alive while its last heartbeat is within the node timeout
//! by the database's clock, the clock every node's liveness is judged by.

use axum::Json;
use axum::extract::State;
use rustyhook_core::time::to_rfc3339;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::ApiResult;
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// `NodeOut`: one node.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeOut {
    /// Its name: `cluster.node_id` when set, otherwise the id it generated at start.
    id: String,
    /// `all`, `api` or `worker`.
    role: String,
    /// Its last heartbeat (RFC 3339).
    last_seen: String,
    /// Whether that heartbeat is within the node timeout.
    alive: bool,
    /// Whether it leads the schedules and the alert evaluation (and is alive).
    leader: bool,
}

/// `ListResponse_NodeOut_`, without pagination: a store has a handful of nodes.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    /// The nodes, by name.
    data: Vec<NodeOut>,
}

/// List Nodes
#[utoipa::path(get, path = "/api/v1/node", tag = "Node", operation_id = "v1.node.list",
    responses((status = 200, body = NodeList)))]
async fn list(State(state): State<ApiState>) -> ApiResult<Json<NodeList>> {
    let nodes = state.store.list_nodes().await?;
    let timeout = i64::try_from(state.node_timeout.as_millis()).unwrap_or(i64::MAX);
    let data = nodes
        .nodes
        .into_iter()
        .map(|n| {
            let alive = nodes.now - n.last_seen <= timeout;
            NodeOut {
                id: n.seen.name,
                role: n.seen.role,
                last_seen: to_rfc3339(n.last_seen),
                alive,
                leader: alive && n.seen.leader,
            }
        })
        .collect();
    Ok(Json(NodeList { data }))
}
