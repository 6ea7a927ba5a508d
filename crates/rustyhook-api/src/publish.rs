//! `publish:` for handlers: a trigger's event becomes a message of an app, fanned out to its
//! endpoints like one posted to the API. The run id is the message's `eventId`, so a run that
//! is retried or re-run after a crash publishes once.

use std::sync::Arc;

use async_trait::async_trait;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::Message;
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::time::now_millis;
use rustyhook_engine::automation::Publisher;

use crate::routes::message::publish;
use crate::state::ApiState;

/// Publishes through the API's own message path.
pub struct ApiPublisher(pub ApiState);

#[async_trait]
impl Publisher for ApiPublisher {
    async fn publish(
        &self,
        app: &str,
        event_type: &str,
        channels: &[String],
        payload: &str,
        event_id: &str,
    ) -> Result<String, String> {
        let state = &self.0;
        let app = state
            .store
            .get_app(app)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no app {app:?}"))?;
        let event_type = EventTypeName::parse(event_type.to_owned())
            .map_err(|e| format!("event type {event_type:?}: {e}"))?;
        let channels = channels
            .iter()
            .map(|c| Channel::parse(c.clone()).map_err(|e| format!("channel {c:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        // Message payloads are JSON; a body that is not becomes a JSON string.
        let payload = match serde_json::from_str::<serde_json::Value>(payload) {
            Ok(_) => payload.to_owned(),
            Err(_) => serde_json::Value::String(payload.to_owned()).to_string(),
        };
        let now = now_millis();
        let message = Message {
            id: MessageId::generate(now),
            app_id: app.id.clone(),
            event_id: Some(Uid::parse(event_id.to_owned()).map_err(|e| e.to_string())?),
            event_type,
            payload: Some(Arc::from(payload)),
            channels: (!channels.is_empty()).then_some(channels),
            created_at: now,
        };
        let created = publish(state, message, None)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(created.message.id.to_string())
    }
}
