//! The records rustyhook keeps, as the store reads and writes them. The API maps these to Svix's
//! JSON shapes; the engine works on them directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::id::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use crate::names::{Channel, EventTypeName, Uid};
use crate::outcome::OutcomeCode;
use crate::signing::{HeaderStyle, SigningSecret};
use crate::time::Millis;

/// A tenant: owns endpoints and messages.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Primary id.
    pub id: AppId,
    /// Optional caller-chosen id, unique among apps.
    pub uid: Option<Uid>,
    /// Display name.
    pub name: String,
    /// Default per-endpoint rate limit (requests per second) for endpoints that set none.
    pub rate_limit: Option<u32>,
    /// Free-form labels.
    pub metadata: BTreeMap<String, String>,
    /// Signature header names for this app's endpoints that choose none; `None` leaves it to
    /// the server's `delivery.header_style`. Lets a migrating Svix user keep `svix-*` headers
    /// per tenant, since Svix's SDKs cannot send an endpoint's `headerStyle`.
    pub header_style: Option<HeaderStyle>,
    /// An `https://` URL of the app's logo, shown with its name in the app portal (the
    /// dashboard an app-scoped token opens).
    pub logo_url: Option<String>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// An event type users may send and endpoints may filter on.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// The name, unique.
    pub name: EventTypeName,
    /// Description shown to endpoint owners.
    pub description: String,
    /// JSON schemas by version, as given.
    pub schemas: Option<serde_json::Value>,
    /// Archived ("deleted") event types keep filtering but accept no new messages.
    pub archived: bool,
    /// Marked deprecated.
    pub deprecated: bool,
    /// Feature flag gating visibility (Svix's older, single `featureFlag`).
    pub feature_flag: Option<String>,
    /// Feature flags gating visibility (Svix's `featureFlags`), kept so a client reads back
    /// what it wrote.
    pub feature_flags: Option<Vec<String>>,
    /// The group the event type is shown under (Svix's `groupName`).
    pub group_name: Option<String>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// A signing secret and, for one being rotated out, when it stops being used.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSecret {
    /// The key.
    pub secret: SigningSecret,
    /// `None` for the current secret; a time for a previous one still in its grace period.
    pub expires_at: Option<Millis>,
}

/// An HTTP subscriber of an app.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Primary id.
    pub id: EndpointId,
    /// The owning app.
    pub app_id: AppId,
    /// Optional caller-chosen id, unique within the app.
    pub uid: Option<Uid>,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Svix's deprecated `version`, kept for compatibility.
    pub version: u16,
    /// Disabled endpoints receive nothing; new messages create no deliveries for them.
    pub disabled: bool,
    /// Requests per second; `None` means unlimited.
    pub rate_limit: Option<u32>,
    /// Event types this endpoint receives; `None` means all.
    pub filter_types: Option<Vec<EventTypeName>>,
    /// Channels this endpoint receives; `None` means all.
    pub channels: Option<Vec<Channel>>,
    /// Free-form labels.
    pub metadata: BTreeMap<String, String>,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// The current secret first, then secrets in their rotation grace period.
    pub secrets: Vec<EndpointSecret>,
    /// Which header names carry the signature; `None` follows the app, then the server
    /// (see [`HeaderStyle::effective`]).
    pub header_style: Option<HeaderStyle>,
    /// Most requests in flight to this endpoint at once.
    pub max_in_flight: u32,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

impl Endpoint {
    /// The secrets to sign with at `now`: the current one and any not yet expired.
    pub fn live_secrets(&self, now: Millis) -> impl Iterator<Item = &SigningSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|t| t > now))
            .map(|s| &s.secret)
    }
}

/// One event sent to an app. Immutable once stored, except that its payload can be expunged.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Primary id; also the `webhook-id` header of every attempt.
    pub id: MessageId,
    /// The owning app.
    pub app_id: AppId,
    /// Caller-chosen id that makes creation idempotent.
    pub event_id: Option<Uid>,
    /// The event type.
    pub event_type: EventTypeName,
    /// The JSON payload text exactly as received (validated JSON); `None` once expunged.
    pub payload: Option<Arc<str>>,
    /// Channels it was sent on.
    pub channels: Option<Vec<Channel>>,
    /// Svix's `tags`: labels for finding messages again (`GET …/msg?tag=…`), each once.
    pub tags: Option<Vec<String>>,
    /// Creation time.
    pub created_at: Millis,
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// An attempt is in flight.
    Sending,
    /// A 2xx was received.
    Succeeded,
    /// The last attempt failed; another is scheduled.
    Failed,
    /// Attempts exhausted (or the endpoint was disabled); can be recovered or resent.
    Dead,
    /// Canceled by an operator.
    Canceled,
}

impl DeliveryStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Canceled => "canceled",
        }
    }

    /// The inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    /// Svix's `MessageStatusText`, the newer API's name for [`Self::svix_status`].
    pub fn svix_status_text(self) -> &'static str {
        match self.svix_status() {
            0 => "success",
            1 => "pending",
            3 => "sending",
            _ => "fail",
        }
    }

    /// Svix's `MessageStatus`: 0 success, 1 pending (including a retry scheduled), 2 fail
    /// (final), 3 sending.
    pub fn svix_status(self) -> u8 {
        match self {
            Self::Succeeded => 0,
            Self::Pending | Self::Failed => 1,
            Self::Dead | Self::Canceled => 2,
            Self::Sending => 3,
        }
    }
}

/// One message × one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Primary id.
    pub id: DeliveryId,
    /// The message delivered.
    pub msg_id: MessageId,
    /// The endpoint delivered to.
    pub endpoint_id: EndpointId,
    /// The app both belong to.
    pub app_id: AppId,
    /// Where it is in its life.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, while pending or failed.
    pub next_attempt_at: Option<Millis>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerType {
    /// The first attempt or a scheduled retry.
    Scheduled = 0,
    /// A resend or recover asked for by a user.
    Manual = 1,
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Primary id.
    pub id: AttemptId,
    /// The delivery tried.
    pub delivery_id: DeliveryId,
    /// Its message.
    pub msg_id: MessageId,
    /// Its endpoint.
    pub endpoint_id: EndpointId,
    /// Its app.
    pub app_id: AppId,
    /// The URL requested.
    pub url: String,
    /// How it ended.
    pub outcome: OutcomeCode,
    /// HTTP status, or 0 when no response arrived.
    pub status_code: u16,
    /// The response body (capped), or a description of the failure when there was none.
    pub response: Option<String>,
    /// Time from sending to the end of the response (or the failure).
    pub duration_ms: i64,
    /// Scheduled or manual.
    pub trigger: TriggerType,
    /// When it started.
    pub created_at: Millis,
    /// The headers sent with the request, credentials of the endpoint's own headers redacted
    /// (see [`crate::signing::redacted_headers`]); `None` when no request was sent (a
    /// disabled endpoint, an expunged payload) or for attempts stored before they were kept.
    pub request_headers: Option<BTreeMap<String, String>>,
}
