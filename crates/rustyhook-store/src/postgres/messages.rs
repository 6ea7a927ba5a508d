//! Messages: creation with fan-out in one transaction, lookup, listing and expunging.

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, EndpointId, MessageId};
use rustyhook_core::model::Message;
use sqlx::{PgConnection, PgPool};

use super::apps::change_one;
use super::conn::{DUE_CHANNEL, db_err, notify};
use super::list::{DIALECT, PgPage};
use super::{deliveries, endpoints};
use crate::page::{Listed, Page};
use crate::query::{Query, filter_messages};
use crate::rows::{self, DELIVERY_COLS, MESSAGE_COLS, to_json};
use crate::stats::Tally;
use crate::{EndpointMessage, MessageCreated, MessageFilter, NewMessage, StoreResult, rules};

/// Stores the message and its deliveries in one transaction. A repeated `eventId` returns the
/// message stored first, as SQLite does; `ON CONFLICT DO NOTHING` makes that hold when two nodes
/// store the same `eventId` at once (the second waits for the first to commit, then finds its
/// message).
pub(crate) async fn create(
    pool: &PgPool,
    new: &NewMessage,
    sbox: &SecretBox,
) -> StoreResult<MessageCreated> {
    let m = &new.message;
    let existing = |message| MessageCreated {
        message,
        existing: true,
        deliveries: Vec::new(),
        leased: false,
    };
    let mut tx = pool.begin().await.map_err(db_err)?;
    if let Some(event_id) = &m.event_id
        && let Some(first) = get(&mut tx, &m.app_id, event_id.as_str()).await?
    {
        return Ok(existing(first));
    }
    let inserted = sqlx::query(
        r#"INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, tags)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (app_id, event_id) DO NOTHING"#,
    )
    .bind(m.id.as_str())
    .bind(m.app_id.as_str())
    .bind(m.event_id.as_ref().map(|e| e.as_str()))
    .bind(m.event_type.as_str())
    .bind(m.payload.as_deref())
    .bind(m.channels.as_ref().map(to_json))
    .bind(m.created_at)
    .bind(m.tags.as_ref().map(to_json))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if inserted.rows_affected() == 0
        && let Some(event_id) = &m.event_id
    {
        // Another node stored this eventId since the lookup above, and has committed.
        let first = get(&mut tx, &m.app_id, event_id.as_str()).await?;
        return first.map(existing).ok_or(crate::StoreError::NotFound);
    }
    let enabled = endpoints::enabled_of_app(&mut tx, &m.app_id, sbox).await?;
    let created = rules::fan_out(new, &enabled);
    // Read in this transaction: a pause committed on any node before it is honoured here.
    let lease = match new.lease_to.as_ref() {
        Some(lease) if !super::pauses::holds_any(&mut tx, &created).await? => Some(lease),
        _ => None,
    };
    let mut tally = Tally::default();
    tally.deliveries(&created);
    deliveries::insert_many(&mut tx, &created, lease, false, &tally).await?;
    if lease.is_none() && !created.is_empty() {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(MessageCreated {
        message: m.clone(),
        existing: false,
        deliveries: created,
        leased: lease.is_some(),
    })
}

pub(crate) async fn get(
    conn: &mut PgConnection,
    app: &AppId,
    id_or_event_id: &str,
) -> StoreResult<Option<Message>> {
    let sql = crate::query::message_by_id_or_event_id("$1", "$2");
    let row = sqlx::query(&sql)
        .bind(app.as_str())
        .bind(id_or_event_id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    row.map(|r| rows::message_at(&r, 0)).transpose()
}

pub(crate) async fn list(
    pool: &PgPool,
    app: &AppId,
    filter: MessageFilter,
    page: &Page,
) -> StoreResult<Listed<Message>> {
    let q = Query::new(format!("SELECT {MESSAGE_COLS}\nFROM messages m"))
        .and("m.app_id = ?", [app.as_str().into()]);
    filter_messages(q, filter, &DIALECT)
        .page(pool, "m.id", page, |r| rows::message_at(r, 0))
        .await
}

pub(crate) async fn list_for_endpoint(
    pool: &PgPool,
    endpoint: &EndpointId,
    status: Option<u8>,
    filter: MessageFilter,
    page: &Page,
) -> StoreResult<Listed<EndpointMessage>> {
    let q = Query::new(format!(
        "SELECT {MESSAGE_COLS}, {DELIVERY_COLS}\nFROM deliveries d\nJOIN messages m ON m.id = d.msg_id"
    ))
    .and("d.endpoint_id = ?", [endpoint.as_str().into()])
    .and_in("d.status", status.map(rules::statuses_with_svix_status));
    filter_messages(q, filter, &DIALECT)
        .page(pool, "m.id", page, |r| {
            Ok(EndpointMessage {
                message: rows::message_at(r, 0)?,
                delivery: rows::delivery_at(r, rows::MESSAGE_COL_COUNT)?,
            })
        })
        .await
}

pub(crate) async fn expunge(pool: &PgPool, id: &MessageId) -> StoreResult<()> {
    change_one(
        pool,
        r#"UPDATE messages
        SET payload = NULL
        WHERE id = $1"#,
        id.as_str(),
    )
    .await
}
