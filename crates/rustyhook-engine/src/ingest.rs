//! Ingest: creating a message, whoever asks. The API's message route, a handler's `publish:`
//! step and the broker sources all come through here, so a message is stored, fanned out and
//! handed over the same way wherever it came from.
//!
//! A message is stored with its deliveries in one transaction (the store fans it out and makes
//! a repeated `eventId` a no-op). While this node's dispatcher has room, the deliveries are
//! leased to it in that transaction and handed straight over; otherwise (or when a pause holds
//! one of them) they are stored unleased and the poller is woken to bring them in.

use std::sync::Arc;

use rustyhook_core::id::{EndpointId, MessageId};
use rustyhook_core::model::{Message, TriggerType};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{MessageCreated, NewMessage, Store, StoreError, StoreResult};

use crate::dispatcher::{Dispatcher, Job};
use crate::health::StoreState;
use crate::observe;

/// Creates messages. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    /// Where messages and their deliveries are stored.
    store: Arc<dyn Store>,
    /// This node's dispatcher, handed the deliveries leased to it.
    dispatcher: Dispatcher,
    /// The largest payload [`Ingest::publish`] accepts, in bytes.
    max_payload_bytes: usize,
}

/// A message to publish from loose text, as a handler or a broker has it.
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    /// The app, by id or uid.
    pub app: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// Channels.
    pub channels: &'a [String],
    /// The payload; text that is not JSON is sent as a JSON string.
    pub payload: &'a str,
    /// The idempotency key: the same id never makes a second message.
    pub event_id: &'a str,
    /// Only this endpoint receives it (instead of every subscribed endpoint).
    pub endpoint: Option<&'a EndpointId>,
}

/// A message [`Ingest::publish`] stored, or found stored under the same `event_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The message's id.
    pub message_id: String,
    /// Whether it was stored before, by an earlier publish with the same `event_id`.
    pub existing: bool,
}

/// Why a publication was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// It can never be stored as it is (no such app, a bad event type): give up on it.
    #[error("{0}")]
    Invalid(String),
    /// The store failed: try again later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl Ingest {
    /// Ingest into `store`, handing deliveries to `dispatcher`; [`Ingest::publish`] refuses
    /// payloads over `max_payload_bytes`.
    pub fn new(store: Arc<dyn Store>, dispatcher: Dispatcher, max_payload_bytes: usize) -> Self {
        Self {
            store,
            dispatcher,
            max_payload_bytes,
        }
    }

    /// Stores a validated `message` with its deliveries — to `only_endpoint` if given, else to
    /// every subscribed endpoint — and hands them to the dispatcher. Deliveries are leased to
    /// this node only while the dispatcher has room; otherwise the poller brings them in later.
    /// A `deliver_at` still ahead leaves them unleased in the store, where the poller claims
    /// them once due. For a repeated `eventId`, returns the message stored first and does
    /// nothing else.
    pub async fn create(
        &self,
        message: Message,
        only_endpoint: Option<EndpointId>,
        deliver_at: Option<Millis>,
    ) -> StoreResult<MessageCreated> {
        let deliver_at = deliver_at.filter(|t| *t > message.created_at);
        let lease =
            (deliver_at.is_none() && self.dispatcher.has_room(1)).then(|| self.dispatcher.lease());
        let created = self
            .store
            .create_message(NewMessage {
                message,
                lease_to: lease.clone(),
                only_endpoint,
                deliver_at,
            })
            .await?;
        if created.existing {
            return Ok(created);
        }
        observe::message_accepted(created.deliveries.len());
        tracing::debug!(msg_id = %created.message.id, deliveries = created.deliveries.len(), "message accepted");
        if let Some(lease) = lease.as_ref().filter(|_| created.leased) {
            let m = &created.message;
            self.dispatcher.submit(
                lease,
                created.deliveries.iter().map(|d| Job {
                    delivery: d.clone(),
                    event_type: m.event_type.clone(),
                    payload: m.payload.clone(),
                    trigger: TriggerType::Scheduled,
                }),
            );
        } else if deliver_at.is_none() {
            self.dispatcher.wake();
        }
        Ok(created)
    }

    /// Publishes `p` as a message, idempotently under its `event_id`: checks and parses what
    /// it carries, then [`Ingest::create`]s it. Returns once it is stored.
    pub async fn publish(&self, p: Publication<'_>) -> Result<Published, PublishError> {
        let message = self.message(p).await?;
        let created = self
            .create(message, p.endpoint.cloned(), None)
            .await
            .map_err(refused)?;
        Ok(Published {
            message_id: created.message.id.to_string(),
            existing: created.existing,
        })
    }

    /// The message `p` describes, for an app that exists.
    async fn message(&self, p: Publication<'_>) -> Result<Message, PublishError> {
        let invalid = |what: String| PublishError::Invalid(what);
        let app = self
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
        let payload = json_payload(p.payload);
        if payload.len() > self.max_payload_bytes {
            return Err(invalid(format!(
                "the payload is over {} bytes",
                self.max_payload_bytes
            )));
        }
        let now = now_millis();
        Ok(Message {
            id: MessageId::generate(now),
            app_id: app.id,
            event_id: Some(event_id),
            event_type,
            payload: Some(Arc::from(payload)),
            channels: (!channels.is_empty()).then_some(channels),
            tags: None,
            created_at: now,
        })
    }
}

/// Message payloads are JSON; text that is not becomes a JSON string.
fn json_payload(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => text.to_owned(),
        Err(_) => serde_json::Value::String(text.to_owned()).to_string(),
    }
}

/// Why the store did not take a publication: given up on when it never will, retried when it
/// is down or full (not the message's fault: it is taken again once the store is back). The
/// words are those an API caller would read for the same error.
fn refused(e: StoreError) -> PublishError {
    match e {
        StoreError::Conflict(_) => {
            PublishError::Invalid("a resource with this uid or name already exists".into())
        }
        StoreError::NotFound => PublishError::Invalid("entity not found".into()),
        StoreError::Unavailable(_) | StoreError::Full(_) => {
            let state = StoreState::of_error(&e).unwrap_or(StoreState::Down);
            PublishError::Unavailable(format!("the store cannot be written ({})", state.as_str()))
        }
        other => PublishError::Unavailable(other.with_causes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_json_is_published_as_a_json_string() {
        assert_eq!(json_payload(r#"{"n":1}"#), r#"{"n":1}"#);
        assert_eq!(json_payload("hello"), r#""hello""#);
        assert_eq!(json_payload("42"), "42");
    }

    #[test]
    fn a_full_store_is_worth_retrying_and_a_conflict_is_not() {
        assert!(matches!(
            refused(StoreError::Full("no space left on device".into())),
            PublishError::Unavailable(_)
        ));
        assert!(matches!(
            refused(StoreError::Conflict("uid".into())),
            PublishError::Invalid(_)
        ));
    }
}
