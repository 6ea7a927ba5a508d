//! Messages: creation with fan-out in one transaction, lookup, listing and expunging.

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, EndpointId, MessageId};
use rustyhook_core::model::{Delivery, Message};
use sqlx::{PgConnection, PgPool, Row};

use super::apps::change_one;
use super::conn::{DUE_CHANNEL, db_err};
use super::endpoints;
use super::list::{DIALECT, PgPage};
use crate::page::{Listed, Page};
use crate::pause::NOT_PAUSED;
use crate::query::{Query, filter_messages};
use crate::rows::{self, DELIVERY_COLS, MESSAGE_COLS, to_json};
use crate::stats::Tally;
use crate::{
    EndpointMessage, Lease, MessageCreated, MessageFilter, NewMessage, StoreResult, rules,
};

/// Stores the message and its deliveries. The app's enabled endpoints are read first, then
/// one statement of data-modifying CTEs stores the message, its deliveries and the row of
/// `stats_pending` that counts them, in its own implicit transaction: two round trips, where a
/// transaction of one statement each took six (measured on the write path, see
/// docs/operations.md). A repeated `eventId` returns the message stored first, as SQLite does;
/// `ON CONFLICT DO NOTHING` makes that hold when two nodes store the same `eventId` at once (the
/// second waits for the first to commit, stores nothing, then finds its message).
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
    let mut conn = pool.acquire().await.map_err(db_err)?;
    if let Some(event_id) = &m.event_id
        && let Some(first) = get(&mut conn, &m.app_id, event_id.as_str()).await?
    {
        return Ok(existing(first));
    }
    let enabled = endpoints::enabled_of_app(&mut conn, &m.app_id, sbox).await?;
    let created = rules::fan_out(new, &enabled);
    let mut tally = Tally::default();
    tally.deliveries(&created);
    let Some(leased) = insert(&mut conn, m, &created, new.lease_to.as_ref(), &tally).await? else {
        // Another node stored this eventId since the lookup above, and has committed.
        let first = match &m.event_id {
            Some(event_id) => get(&mut conn, &m.app_id, event_id.as_str()).await?,
            None => None,
        };
        return first.map(existing).ok_or(crate::StoreError::NotFound);
    };
    Ok(MessageCreated {
        message: m.clone(),
        existing: false,
        deliveries: created,
        leased,
    })
}

/// The statement [`insert`] runs, made once. Whether a pause holds the deliveries is the claims'
/// own rule ([`NOT_PAUSED`]) applied to the new rows; the last column only makes `woken` run.
fn insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            r#"WITH message AS (
            INSERT INTO messages (id, app_id, event_id, event_type, payload, channels,
                created_at, tags)
            VALUES ($13, $14, $15, $16, $17, $18, $19, $20)
            ON CONFLICT (app_id, event_id) DO NOTHING
            RETURNING id
        ),
        held AS (
            SELECT $10::TEXT IS NULL OR EXISTS (
                SELECT 1
                FROM (
                    SELECT n.app_id, n.endpoint_id, NULL::TEXT AS handler_id
                    FROM UNNEST($4::TEXT[], $3::TEXT[]) AS n (app_id, endpoint_id)
                ) AS d
                WHERE NOT {NOT_PAUSED}
            ) AS held
        ),
        delivered AS (
            INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts,
                next_attempt_at, manual, lease_owner, lease_claim, created_at, updated_at)
            SELECT d.id, d.msg_id, d.endpoint_id, d.app_id, d.status, d.attempts,
                d.next_attempt_at, FALSE,
                CASE WHEN held.held THEN NULL ELSE $10::TEXT END,
                CASE WHEN held.held THEN NULL ELSE $11::BIGINT END,
                d.created_at, d.updated_at
            FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                    $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[])
                AS d (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at,
                    created_at, updated_at)
                CROSS JOIN held
            WHERE EXISTS (SELECT 1 FROM message)
        ),
        counted AS (
            INSERT INTO stats_pending (tally)
            SELECT $12::TEXT
            WHERE $12::TEXT IS NOT NULL AND EXISTS (SELECT 1 FROM message)
        ),
        woken AS (
            SELECT pg_notify($21, '')
            FROM held
            WHERE held.held AND cardinality($1::TEXT[]) > 0 AND EXISTS (SELECT 1 FROM message)
        )
        SELECT EXISTS (SELECT 1 FROM message), NOT held.held, (SELECT COUNT(*) FROM woken)
        FROM held"#
        )
    })
}

/// Inserts the message, its deliveries (each column bound as an array) and the `stats_pending`
/// row that counts them, in one statement. The deliveries are leased under `lease` unless a
/// pause holds one of them: the pauses are read in the same statement, so a pause committed on
/// any node before it is honoured. Unleased
/// deliveries wake the nodes' pollers when it commits. Returns whether they were leased, or
/// `None` when the message's `eventId` was stored already (and nothing was written).
async fn insert(
    conn: &mut PgConnection,
    m: &Message,
    ds: &[Delivery],
    lease: Option<&Lease>,
    counted: &Tally,
) -> StoreResult<Option<bool>> {
    let text = |f: fn(&Delivery) -> &str| ds.iter().map(f).map(str::to_owned).collect::<Vec<_>>();
    let row = sqlx::query(insert_sql())
        .bind(text(|d| d.id.as_str()))
        .bind(text(|d| d.msg_id.as_str()))
        .bind(text(|d| d.endpoint_id.as_str()))
        .bind(text(|d| d.app_id.as_str()))
        .bind(text(|d| d.status.as_str()))
        .bind(ds.iter().map(|d| i64::from(d.attempts)).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.next_attempt_at).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.created_at).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.updated_at).collect::<Vec<_>>())
        .bind(lease.map(|l| l.node.as_str()))
        .bind(lease.map(|l| l.claim))
        .bind(counted.pending_row())
        .bind(m.id.as_str())
        .bind(m.app_id.as_str())
        .bind(m.event_id.as_ref().map(|e| e.as_str()))
        .bind(m.event_type.as_str())
        .bind(m.payload.as_deref())
        .bind(m.channels.as_ref().map(to_json))
        .bind(m.created_at)
        .bind(m.tags.as_ref().map(to_json))
        .bind(DUE_CHANNEL)
        .fetch_one(conn)
        .await
        .map_err(db_err)?;
    let stored: bool = row.try_get(0).map_err(db_err)?;
    let leased: bool = row.try_get(1).map_err(db_err)?;
    Ok(stored.then_some(leased))
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
