//! Messages: creation with fan-out in one transaction, lookup, listing and expunging.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, EndpointId, MessageId};
use rustyhook_core::model::Message;

use super::conn::db_err;
use super::deliveries;
use super::fanout::FanoutCache;
use super::list::{DIALECT, SqlitePage};
use crate::page::{Listed, Page};
use crate::query::{Query, filter_messages};
use crate::rows::{self, DELIVERY_COLS, MESSAGE_COLS, to_json};
use crate::stats::Tally;
use crate::{
    EndpointMessage, MessageCreated, MessageFilter, NewMessage, StoreError, StoreResult, rules,
};

pub(crate) fn create(
    conn: &Connection,
    new: &NewMessage,
    sbox: &SecretBox,
    fanout: &FanoutCache,
) -> StoreResult<MessageCreated> {
    let m = &new.message;
    if let Some(event_id) = &m.event_id
        && let Some(existing) = get(conn, &m.app_id, event_id.as_str())?
    {
        return Ok(MessageCreated {
            message: existing,
            existing: true,
            deliveries: Vec::new(),
            leased: false,
        });
    }
    conn.prepare_cached(
        r#"INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .and_then(|mut s| {
        s.execute(params![
            m.id.as_str(),
            m.app_id.as_str(),
            m.event_id.as_ref().map(|e| e.as_str()),
            m.event_type.as_str(),
            m.payload.as_deref(),
            m.channels.as_ref().map(to_json),
            m.created_at,
            m.tags.as_ref().map(to_json)
        ])
    })
    .map_err(db_err)?;

    let created = rules::fan_out(new, fanout.enabled(conn, &m.app_id, sbox)?.iter());
    let lease = match new.lease_to.as_ref() {
        Some(lease) if !super::pauses::holds_any(conn, &created)? => Some(lease),
        _ => None,
    };
    for delivery in &created {
        deliveries::insert(conn, delivery, lease, false)?;
    }
    let mut tally = Tally::default();
    tally.deliveries(&created);
    super::stats::apply(&tally);
    Ok(MessageCreated {
        message: m.clone(),
        existing: false,
        deliveries: created,
        leased: lease.is_some(),
    })
}

pub(crate) fn get(
    conn: &Connection,
    app: &AppId,
    id_or_event_id: &str,
) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&crate::query::message_by_id_or_event_id("?1", "?2"))
        .and_then(|mut s| {
            s.query_row([app.as_str(), id_or_event_id], |r| rows::message_at(r, 0))
                .optional()
        })
        .map_err(db_err)
}

pub(crate) fn list(
    conn: &Connection,
    app: &AppId,
    filter: MessageFilter,
    page: &Page,
) -> StoreResult<Listed<Message>> {
    let q = Query::new(format!("SELECT {MESSAGE_COLS}\nFROM messages m"))
        .and("m.app_id = ?", [app.as_str().to_owned().into()]);
    filter_messages(q, filter, &DIALECT).page(conn, "m.id", page, |r| rows::message_at(r, 0))
}

pub(crate) fn list_for_endpoint(
    conn: &Connection,
    endpoint: &EndpointId,
    status: Option<u8>,
    filter: MessageFilter,
    page: &Page,
) -> StoreResult<Listed<EndpointMessage>> {
    let statuses = status.map(rules::statuses_with_svix_status);
    let q = Query::new(format!(
        "SELECT {MESSAGE_COLS}, {DELIVERY_COLS}\nFROM deliveries d\nJOIN messages m ON m.id = d.msg_id"
    ))
    .and("d.endpoint_id = ?", [endpoint.as_str().to_owned().into()])
    .and_in("d.status", statuses);
    filter_messages(q, filter, &DIALECT).page(conn, "m.id", page, |r| {
        Ok(EndpointMessage {
            message: rows::message_at(r, 0)?,
            delivery: rows::delivery_at(r, rows::MESSAGE_COL_COUNT)?,
        })
    })
}

pub(crate) fn expunge(conn: &Connection, id: &MessageId) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE messages SET payload = NULL WHERE id = ?",
            [id.as_str()],
        )
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
