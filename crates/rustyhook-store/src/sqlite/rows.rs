//! Reading rows into domain records and writing records' fields as columns. Column lists are
//! constants so every query selects the same columns in the same order as the readers expect.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Row;
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use rustyhook_core::model::{
    App, Attempt, Delivery, DeliveryStatus, Endpoint, EndpointSecret, EventType, Message,
    TriggerType,
};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::signing::{HeaderStyle, SigningSecret};

use crate::StoreError;

pub(crate) const APP_COLS: &str = "id, uid, name, rate_limit, metadata, created_at, updated_at";
pub(crate) const EVENT_TYPE_COLS: &str =
    "name, description, schemas, archived, deprecated, feature_flag, created_at, updated_at";
pub(crate) const ENDPOINT_COLS: &str = "id, app_id, uid, url, description, version, disabled, \
     rate_limit, filter_types, channels, metadata, headers, secrets, header_style, max_in_flight, \
     created_at, updated_at";
pub(crate) const MESSAGE_COLS: &str =
    "m.id, m.app_id, m.event_id, m.event_type, m.payload, m.channels, m.created_at";
pub(crate) const DELIVERY_COLS: &str = "d.id, d.msg_id, d.endpoint_id, d.app_id, d.status, \
     d.attempts, d.next_attempt_at, d.created_at, d.updated_at";
pub(crate) const ATTEMPT_COLS: &str = "a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, \
     a.url, a.outcome, a.status_code, a.response, a.duration_ms, a.trigger_type, a.created_at";

/// A row could not be read; wraps the reason as a rusqlite error so row closures can use `?`.
pub(crate) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(what.to_owned())),
    )
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings always serialize")
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(row: &Row, i: usize) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    serde_json::from_str(&text).map_err(|_| corrupt("a JSON column"))
}

fn opt_json_col<T: serde::de::DeserializeOwned>(
    row: &Row,
    i: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt("a JSON column")))
        .transpose()
}

fn uid_col(row: &Row, i: usize) -> rusqlite::Result<Option<Uid>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| Uid::parse(t).map_err(|_| corrupt("a uid")))
        .transpose()
}

fn event_type_col(row: &Row, i: usize) -> rusqlite::Result<EventTypeName> {
    EventTypeName::parse(row.get::<_, String>(i)?).map_err(|_| corrupt("an event type"))
}

pub(crate) fn app(row: &Row) -> rusqlite::Result<App> {
    Ok(App {
        id: AppId::from_trusted(row.get(0)?),
        uid: uid_col(row, 1)?,
        name: row.get(2)?,
        rate_limit: row.get(3)?,
        metadata: json_col(row, 4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

pub(crate) fn event_type(row: &Row) -> rusqlite::Result<EventType> {
    Ok(EventType {
        name: event_type_col(row, 0)?,
        description: row.get(1)?,
        schemas: opt_json_col(row, 2)?,
        archived: row.get(3)?,
        deprecated: row.get(4)?,
        feature_flag: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSecret {
    key: String,
    expires_at: Option<i64>,
}

/// Seals an endpoint's secrets for storage.
pub(crate) fn seal_secrets(secrets: &[EndpointSecret], sbox: &SecretBox) -> String {
    let stored: Vec<StoredSecret> = secrets
        .iter()
        .map(|s| StoredSecret {
            key: s.secret.expose(),
            expires_at: s.expires_at,
        })
        .collect();
    sbox.seal(to_json(&stored).as_bytes())
}

fn open_secrets(sealed: &str, sbox: &SecretBox) -> rusqlite::Result<Vec<EndpointSecret>> {
    let plain = sbox
        .open(sealed)
        .map_err(|_| corrupt("an endpoint secret (is the encryption key the right one?)"))?;
    let stored: Vec<StoredSecret> =
        serde_json::from_slice(&plain).map_err(|_| corrupt("endpoint secrets"))?;
    stored
        .into_iter()
        .map(|s| {
            Ok(EndpointSecret {
                secret: SigningSecret::parse(&s.key).map_err(|_| corrupt("a signing secret"))?,
                expires_at: s.expires_at,
            })
        })
        .collect()
}

pub(crate) fn endpoint(row: &Row, sbox: &SecretBox) -> rusqlite::Result<Endpoint> {
    endpoint_at(row, 0, sbox)
}

/// Reads an endpoint from columns starting at `at`.
pub(crate) fn endpoint_at(row: &Row, at: usize, sbox: &SecretBox) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: EndpointId::from_trusted(row.get(at)?),
        app_id: AppId::from_trusted(row.get(at + 1)?),
        uid: uid_col(row, at + 2)?,
        url: row.get(at + 3)?,
        description: row.get(at + 4)?,
        version: row.get(at + 5)?,
        disabled: row.get(at + 6)?,
        rate_limit: row.get(at + 7)?,
        filter_types: opt_json_col::<Vec<EventTypeName>>(row, at + 8)?,
        channels: opt_json_col::<Vec<Channel>>(row, at + 9)?,
        metadata: json_col::<BTreeMap<String, String>>(row, at + 10)?,
        headers: json_col::<BTreeMap<String, String>>(row, at + 11)?,
        secrets: open_secrets(&row.get::<_, String>(at + 12)?, sbox)?,
        header_style: HeaderStyle::parse(&row.get::<_, String>(at + 13)?),
        max_in_flight: row.get(at + 14)?,
        created_at: row.get(at + 15)?,
        updated_at: row.get(at + 16)?,
    })
}

/// Reads a message from columns starting at `at`.
pub(crate) fn message_at(row: &Row, at: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId::from_trusted(row.get(at)?),
        app_id: AppId::from_trusted(row.get(at + 1)?),
        event_id: uid_col(row, at + 2)?,
        event_type: event_type_col(row, at + 3)?,
        payload: row.get::<_, Option<String>>(at + 4)?.map(Arc::from),
        channels: opt_json_col::<Vec<Channel>>(row, at + 5)?,
        created_at: row.get(at + 6)?,
    })
}

/// Reads a delivery from columns starting at `at`.
pub(crate) fn delivery_at(row: &Row, at: usize) -> rusqlite::Result<Delivery> {
    let status: String = row.get(at + 4)?;
    Ok(Delivery {
        id: DeliveryId::from_trusted(row.get(at)?),
        msg_id: MessageId::from_trusted(row.get(at + 1)?),
        endpoint_id: EndpointId::from_trusted(row.get(at + 2)?),
        app_id: AppId::from_trusted(row.get(at + 3)?),
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("a delivery status"))?,
        attempts: row.get(at + 5)?,
        next_attempt_at: row.get(at + 6)?,
        created_at: row.get(at + 7)?,
        updated_at: row.get(at + 8)?,
    })
}

pub(crate) fn attempt(row: &Row) -> rusqlite::Result<Attempt> {
    let outcome: String = row.get(6)?;
    let trigger: i64 = row.get(10)?;
    Ok(Attempt {
        id: AttemptId::from_trusted(row.get(0)?),
        delivery_id: DeliveryId::from_trusted(row.get(1)?),
        msg_id: MessageId::from_trusted(row.get(2)?),
        endpoint_id: EndpointId::from_trusted(row.get(3)?),
        app_id: AppId::from_trusted(row.get(4)?),
        url: row.get(5)?,
        outcome: OutcomeCode::parse(&outcome).ok_or_else(|| corrupt("an outcome code"))?,
        status_code: row.get(7)?,
        response: row.get(8)?,
        duration_ms: row.get(9)?,
        trigger: if trigger == 1 {
            TriggerType::Manual
        } else {
            TriggerType::Scheduled
        },
        created_at: row.get(11)?,
    })
}
