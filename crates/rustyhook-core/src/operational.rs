//! Operational events: what rustyhook tells its operator about itself (an endpoint disabled, a
//! delivery given up on, a handler run failed), as Svix's operational webhooks do. An event is
//! a message of the reserved [`OPERATIONAL_APP_UID`] app, whose endpoints are the operator's,
//! so it is signed, retried and recorded like any other message.
//!
//! The store queues events in an outbox, in the same transaction as the change they report,
//! and the engine publishes them; building one is [`OperationalEvent::new`] with a kind and
//! its `data`.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::id::MessageId;
use crate::names::{EndpointUrl, EventTypeName, Uid};
use crate::signing::SigningSecret;
use crate::time::{Millis, to_rfc3339};

/// The uid of the app that holds operational events and the operator's endpoints for them.
/// Created on start; hidden from app lists and refused by the app routes' changes.
pub const OPERATIONAL_APP_UID: &str = "rustyhook-operational";

/// The kinds of operational event, by the name they are sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationalKind {
    /// An endpoint was created.
    EndpointCreated,
    /// An endpoint's settings changed.
    EndpointUpdated,
    /// An endpoint was deleted.
    EndpointDeleted,
    /// An endpoint was disabled: by the engine (failing too long, `410 Gone`) or by a user.
    EndpointDisabled,
    /// A disabled endpoint was enabled again.
    EndpointEnabled,
    /// A delivery used its last attempt and is dead.
    AttemptExhausted,
    /// A delivery failed its fourth attempt (Svix's rule) and will be retried.
    AttemptFailing,
    /// A delivery that had been reported failing succeeded.
    AttemptRecovered,
    /// A handler run ended failed, with no retry left.
    HandlerRunFailed,
    /// A broker source rejected a message it could not store.
    SourceRejected,
    /// An alert rule fired.
    AlertFired,
    /// An alert rule's condition cleared.
    AlertResolved,
}

impl OperationalKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Self; 12] = [
        Self::EndpointCreated,
        Self::EndpointUpdated,
        Self::EndpointDeleted,
        Self::EndpointDisabled,
        Self::EndpointEnabled,
        Self::AttemptExhausted,
        Self::AttemptFailing,
        Self::AttemptRecovered,
        Self::HandlerRunFailed,
        Self::SourceRejected,
        Self::AlertFired,
        Self::AlertResolved,
    ];

    /// The kind sent as `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The event type the event is sent as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointCreated => "endpoint.created",
            Self::EndpointUpdated => "endpoint.updated",
            Self::EndpointDeleted => "endpoint.deleted",
            Self::EndpointDisabled => "endpoint.disabled",
            Self::EndpointEnabled => "endpoint.enabled",
            Self::AttemptExhausted => "message.attempt.exhausted",
            Self::AttemptFailing => "message.attempt.failing",
            Self::AttemptRecovered => "message.attempt.recovered",
            Self::HandlerRunFailed => "handler.run.failed",
            Self::SourceRejected => "source.rejected",
            Self::AlertFired => "alert.fired",
            Self::AlertResolved => "alert.resolved",
        }
    }
}

/// After this many failed attempts in a row, a delivery is reported failing (Svix: "sent on the
/// fourth failure"); a later success of it is reported as recovered.
pub const FAILING_AFTER_ATTEMPTS: u32 = 4;

/// One operational event, queued to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationalEvent {
    /// The id of the message it becomes, and its `eventId`: publishing it twice stores it once.
    pub id: MessageId,
    /// The event type.
    pub event_type: String,
    /// The JSON payload: `{"type": …, "timestamp": …, "data": {…}}`, Svix's shape.
    pub payload: String,
    /// When it happened.
    pub created_at: Millis,
}

impl OperationalEvent {
    /// An event of `kind` at `now` carrying `data` (an object with Svix's camelCase names).
    pub fn new(kind: OperationalKind, data: Value, now: Millis) -> Self {
        let payload = json!({
            "type": kind.as_str(),
            "timestamp": to_rfc3339(now),
            "data": data,
        });
        Self {
            id: MessageId::generate(now),
            event_type: kind.as_str().to_owned(),
            payload: payload.to_string(),
            created_at: now,
        }
    }

    /// An `endpoint.*` event (Svix's `EndpointEvent` data, plus `failSince` and `trigger` for
    /// `endpoint.disabled`).
    pub fn endpoint(kind: OperationalKind, about: &EndpointRef, now: Millis) -> Self {
        let mut data = json!({
            "appId": about.app_id,
            "appUid": about.app_uid,
            "endpointId": about.endpoint_id,
            "endpointUid": about.endpoint_uid,
        });
        if kind == OperationalKind::EndpointDisabled {
            data["failSince"] = about.failing_since.map(to_rfc3339).into();
            data["trigger"] = if about.failing_since.is_some() {
                "automatic"
            } else {
                "manual"
            }
            .into();
        }
        Self::new(kind, data, now)
    }
}

/// What an `endpoint.*` event names.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointRef {
    /// The endpoint's app.
    pub app_id: String,
    /// The app's uid.
    pub app_uid: Option<String>,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's uid.
    pub endpoint_uid: Option<String>,
    /// When it started failing without a success since, for an automatic disable.
    pub failing_since: Option<Millis>,
}

/// What a `message.attempt.*` event names (Svix's `MessageAttemptEvent` data).
#[derive(Debug, Clone)]
pub struct AttemptRef {
    /// The message's app.
    pub app_id: String,
    /// The app's uid.
    pub app_uid: Option<String>,
    /// The message.
    pub msg_id: String,
    /// The message's `eventId`.
    pub msg_event_id: Option<String>,
    /// The endpoint.
    pub endpoint_id: String,
    /// The last attempt's id.
    pub attempt_id: String,
    /// When it was made.
    pub attempt_at: Millis,
    /// Its HTTP status (0 for none).
    pub status_code: u16,
}

impl AttemptRef {
    /// The event of `kind` about this attempt.
    pub fn event(&self, kind: OperationalKind, now: Millis) -> OperationalEvent {
        let data = json!({
            "appId": self.app_id,
            "appUid": self.app_uid,
            "msgId": self.msg_id,
            "msgEventId": self.msg_event_id,
            "endpointId": self.endpoint_id,
            "lastAttempt": {
                "id": self.attempt_id,
                "timestamp": to_rfc3339(self.attempt_at),
                "responseStatusCode": self.status_code,
            },
        });
        OperationalEvent::new(kind, data, now)
    }
}

/// The metadata key holding an operational endpoint's body format (`slack`); absent for the
/// standard body.
pub const FORMAT_KEY: &str = "rustyhook.format";

/// The body an operational endpoint receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OperationalWebhookFormat))]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The event as Svix sends it: `{"type", "timestamp", "data"}`.
    #[default]
    Standard,
    /// A Slack incoming-webhook body: `{"text": "<one readable sentence>"}`.
    Slack,
}

impl WebhookFormat {
    /// The format an endpoint's metadata names.
    pub fn of(metadata: &std::collections::BTreeMap<String, String>) -> Self {
        match metadata.get(FORMAT_KEY).map(String::as_str) {
            Some("slack") => Self::Slack,
            _ => Self::Standard,
        }
    }

    /// Writes the format into an endpoint's metadata (the standard one is no key at all).
    pub fn apply(self, metadata: &mut std::collections::BTreeMap<String, String>) {
        match self {
            Self::Standard => metadata.remove(FORMAT_KEY),
            Self::Slack => metadata.insert(FORMAT_KEY.to_owned(), "slack".to_owned()),
        };
    }
}

/// The Slack body for an operational event's payload: the alert's summary for `alert.*`, a
/// sentence naming the event and what it is about for the others.
pub fn slack_body(payload: &str) -> String {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let kind = v["type"].as_str().unwrap_or("event");
    let data = &v["data"];
    let text = match kind {
        "alert.fired" => format!(
            "Alert {}: {}",
            data["ruleName"].as_str().unwrap_or_default(),
            data["summary"].as_str().unwrap_or_default()
        ),
        "alert.resolved" => format!(
            "Resolved: alert {} on {} is back under its threshold (it fired with: {})",
            data["ruleName"].as_str().unwrap_or_default(),
            data["subject"].as_str().unwrap_or_default(),
            data["summary"].as_str().unwrap_or_default()
        ),
        other => {
            let about: Vec<String> = ["endpointId", "appId", "msgId", "handlerId", "source"]
                .iter()
                .filter_map(|k| data[*k].as_str().map(|v| format!("{k} {v}")))
                .collect();
            format!("rustyhook operational event {other}: {}", about.join(", "))
        }
    };
    json!({ "text": text }).to_string()
}

/// One entry of `operational_webhooks:` in the config: an operator endpoint for operational
/// events, created (or brought in step) on start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationalWebhookSettings {
    /// Where events are POSTed.
    pub url: EndpointUrl,
    /// The endpoint's uid in the operational app, which identifies it from one start to the
    /// next; `config-<n>` (its place in the list, from 1) when unset.
    #[serde(default)]
    pub uid: Option<Uid>,
    /// Only these event types (every one when unset).
    #[serde(default)]
    pub filter_types: Option<Vec<EventTypeName>>,
    /// The signing secret (`whsec_…`); generated once when unset, and then kept.
    #[serde(default)]
    pub secret: Option<SigningSecret>,
    /// Shown in the API.
    #[serde(default)]
    pub description: String,
    /// `standard` (the default) or `slack`.
    #[serde(default)]
    pub format: WebhookFormat,
}

impl OperationalWebhookSettings {
    /// The uid the endpoint is kept under: its own, or `config-<n>` for the `index`th entry.
    pub fn uid_at(&self, index: usize) -> Uid {
        self.uid.clone().unwrap_or_else(|| {
            Uid::parse(format!("config-{}", index + 1)).expect("config-<n> is a valid uid")
        })
    }
}

/// Checks a list of operational endpoints: known event types, each named once, and no two
/// entries with one uid. Errors name the entry and the field.
pub fn check_settings(list: &[OperationalWebhookSettings]) -> Result<(), String> {
    let mut uids = HashSet::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("operational_webhooks[{i}]");
        if let Some(types) = &entry.filter_types {
            if types.is_empty() {
                return Err(format!(
                    "{at}.filter_types is empty: omit it to receive every event type"
                ));
            }
            let mut seen = HashSet::new();
            for t in types {
                if OperationalKind::parse(t.as_str()).is_none() {
                    let known: Vec<_> = OperationalKind::ALL.iter().map(|k| k.as_str()).collect();
                    return Err(format!(
                        "{at}.filter_types: {:?} is not an operational event type (known: {})",
                        t.as_str(),
                        known.join(", ")
                    ));
                }
                if !seen.insert(t.as_str()) {
                    return Err(format!("{at}.filter_types names {:?} twice", t.as_str()));
                }
            }
        }
        let uid = entry.uid_at(i);
        if !uids.insert(uid.as_str().to_owned()) {
            return Err(format!(
                "{at}.uid {:?} is used by an earlier entry",
                uid.as_str()
            ));
        }
    }
    Ok(())
}

/// Reads and checks `operational_webhooks:`.
pub(crate) fn settings_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<OperationalWebhookSettings>, D::Error> {
    let list = Vec::<OperationalWebhookSettings>::deserialize(d)?;
    check_settings(&list).map_err(serde::de::Error::custom)?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_has_svix_shape_and_its_id_parses_as_a_message_id() {
        let about = EndpointRef {
            app_id: "app_1".into(),
            endpoint_id: "ep_1".into(),
            failing_since: Some(0),
            ..EndpointRef::default()
        };
        let e = OperationalEvent::endpoint(OperationalKind::EndpointDisabled, &about, 1_000);
        let v: Value = serde_json::from_str(&e.payload).expect("json");
        assert_eq!(v["type"], "endpoint.disabled");
        assert_eq!(v["data"]["endpointId"], "ep_1");
        assert_eq!(v["data"]["appUid"], Value::Null);
        assert_eq!(v["data"]["trigger"], "automatic");
        assert_eq!(v["data"]["failSince"], "1970-01-01T00:00:00.000Z");
        assert!(MessageId::parse(e.id.as_str()).is_some());
        let created = OperationalEvent::endpoint(OperationalKind::EndpointCreated, &about, 1_000);
        let v: Value = serde_json::from_str(&created.payload).expect("json");
        assert!(v["data"].get("trigger").is_none());
    }

    fn entry(yaml: &str) -> Result<Vec<OperationalWebhookSettings>, String> {
        let list: Vec<OperationalWebhookSettings> =
            serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
        check_settings(&list).map(|()| list)
    }

    #[test]
    fn config_entries_are_checked_naming_the_entry_and_field() {
        let ok =
            entry("- url: https://ops.example.com/hook\n  filter_types: [endpoint.disabled]\n")
                .expect("valid");
        assert_eq!(ok[0].uid_at(0).as_str(), "config-1");
        let unknown = entry("- url: https://a.example\n  filter_types: [invoice.paid]\n")
            .expect_err("not an operational type");
        assert!(
            unknown.contains("operational_webhooks[0].filter_types"),
            "{unknown}"
        );
        assert!(unknown.contains("invoice.paid"), "{unknown}");
        let twice =
            entry("- url: https://a.example\n  uid: ops\n- url: https://b.example\n  uid: ops\n")
                .expect_err("same uid");
        assert!(twice.contains("operational_webhooks[1].uid"), "{twice}");
        let bad_url = entry("- url: ftp://a.example\n").expect_err("bad url");
        assert!(
            bad_url.contains("url") || bad_url.contains("ftp"),
            "{bad_url}"
        );
        let unknown_key = entry("- url: https://a.example\n  filters: [x]\n").expect_err("key");
        assert!(unknown_key.contains("filters"), "{unknown_key}");
    }

    #[test]
    fn a_slack_body_is_one_sentence_of_text() {
        let fired = json!({"type": "alert.fired", "data": {"ruleName": "r", "summary": "S."}});
        let body: Value = serde_json::from_str(&slack_body(&fired.to_string())).expect("json");
        assert_eq!(body, json!({"text": "Alert r: S."}));
        let other = json!({"type": "endpoint.disabled", "data": {"endpointId": "ep_1"}});
        let body: Value = serde_json::from_str(&slack_body(&other.to_string())).expect("json");
        assert_eq!(
            body["text"],
            "rustyhook operational event endpoint.disabled: endpointId ep_1"
        );
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let names: std::collections::HashSet<_> =
            OperationalKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), OperationalKind::ALL.len());
    }
}
