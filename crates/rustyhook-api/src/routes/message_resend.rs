//! Resending many messages at once: `POST /api/v1/app/{app_id}/resend-failed`. The dashboard's
//! Messages page selects messages and resends each to the endpoints where it failed; one call
//! for the whole selection, rather than a listing and a resend per message and endpoint.

use axum::Json;
use axum::extract::{Path, State};
use rustyhook_core::id::MessageId;
use rustyhook_core::time::now_millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::load_app;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::ApiState;

/// The most messages one call names: a few pages of the Messages list.
const MAX_MESSAGES: usize = 250;

const TAG: &str = "Message";

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(resend_failed))
}

/// `ResendFailedIn`: the messages to resend.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ResendFailedIn {
    /// Ids of the app's messages (`msg_…`), 1 to 250.
    msg_ids: Vec<String>,
}

/// `ResendFailedOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ResendFailedOut {
    /// How many deliveries (message × endpoint) were made due again.
    resent: u64,
}

/// Resend Failed Messages
///
/// Makes each message's deliveries that failed (dead, or waiting to retry) due again now, as
/// manual attempts. Deliveries that succeeded, or are in flight, are left alone; a message of
/// another app, or unknown, changes nothing.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/resend-failed", tag = TAG,
    operation_id = "v1.message.resend-failed", request_body = ResendFailedIn,
    responses((status = 200, body = ResendFailedOut)))]
async fn resend_failed(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(body): JsonBody<ResendFailedIn>,
) -> ApiResult<Json<ResendFailedOut>> {
    if body.msg_ids.is_empty() || body.msg_ids.len() > MAX_MESSAGES {
        return Err(ApiError::invalid(
            &["body", "msgIds"],
            format!("msgIds must list 1 to {MAX_MESSAGES} message ids"),
        ));
    }
    let msgs = body
        .msg_ids
        .iter()
        .map(|id| {
            MessageId::parse(id).ok_or_else(|| {
                ApiError::invalid(&["body", "msgIds"], format!("{id:?} is not a message id"))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let app = load_app(&state, &app_id).await?;
    let resent = state
        .store
        .resend_failed(&app.id, msgs, now_millis())
        .await?;
    if resent > 0 {
        state.dispatcher.wake();
    }
    Ok(Json(ResendFailedOut { resent }))
}
