//! `publish:` for handlers: a trigger's event becomes a message of an app, fanned out to its
//! endpoints like one posted to the API. The run id is the message's `eventId`, so a run that
//! is retried or re-run after a crash publishes once.

use std::sync::Arc;

use async_trait::async_trait;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::Message;
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::time::now_millis;
use rustyhook_engine::automation::{Publication, PublishError, Published, Publisher};

use crate::http::error::ApiError;
use crate::routes::message::publish;
use crate::state::ApiState;

/// Publishes through the API's own message path.
pub struct ApiPublisher(pub ApiState);

#[async_trait]
impl Publisher for ApiPublisher {
    async fn publish(&self, p: Publication<'_>) -> Result<Published, PublishError> {
        let state = &self.0;
        let invalid = |what: String| PublishError::Invalid(what);
        let app = state
            .store
            .get_app(p.app)
            .await
            .map_err(|e| PublishError::Unavailable(e.to_string()))?
            .ok_or_else(|| invalid(format!("no app {:?}", p.app)))?;
        let event_type = EventTypeName::parse(p.event_type.to_owned())
            .map_err(|e| invalid(format!("event type {:?}: {e}", p.event_type)))?;
        let channels = p
            .channels
            .iter()
            .map(|c| Channel::parse(c.clone()).map_err(|e| invalid(format!("channel {c:?}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let event_id = Uid::parse(p.event_id.to_owned())
            .map_err(|e| invalid(format!("event id {:?}: {e}", p.event_id)))?;
        // Message payloads are JSON; a body that is not becomes a JSON string.
        let payload = match serde_json::from_str::<serde_json::Value>(p.payload) {
            Ok(_) => p.payload.to_owned(),
            Err(_) => serde_json::Value::String(p.payload.to_owned()).to_string(),
        };
        if payload.len() > state.limits.max_payload_bytes {
            return Err(invalid(format!(
                "the payload is over {} bytes",
                state.limits.max_payload_bytes
            )));
        }
        let now = now_millis();
        let message = Message {
            id: MessageId::generate(now),
            app_id: app.id.clone(),
            event_id: Some(event_id),
            event_type,
            payload: Some(Arc::from(payload)),
            channels: (!channels.is_empty()).then_some(channels),
            tags: None,
            created_at: now,
        };
        let created = publish(state, message, p.endpoint.cloned())
            .await
            .map_err(|e| match e {
                ApiError::Internal(detail) => PublishError::Unavailable(detail),
                // Not the message's fault: it is taken again once the store is back.
                ApiError::Store { state } => PublishError::Unavailable(format!(
                    "the store cannot be written ({})",
                    state.as_str()
                )),
                // The same words an API caller would read, not the error's debug form.
                ApiError::Http { detail, .. } => invalid(detail),
                ApiError::Validation(items) => invalid(
                    items
                        .iter()
                        .map(|i| format!("{}: {}", i.loc.join("."), i.msg))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            })?;
        Ok(Published {
            message_id: created.message.id.to_string(),
            existing: created.existing,
        })
    }
}
