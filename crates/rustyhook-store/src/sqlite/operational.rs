//! Operational events on SQLite: the outbox, the facts an event names, an endpoint's
//! `failing_since`, and disabling endpoints that failed too long. Every function runs inside
//! the caller's transaction, so an event is queued exactly when its change commits.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::id::{AppId, MessageId};
use rustyhook_core::model::{Attempt, Endpoint};
use rustyhook_core::operational::{EndpointRef, OperationalEvent, OperationalKind};
use rustyhook_core::run::RunAttempt;
use rustyhook_core::time::Millis;

use super::conn::db_err;
use crate::operational::{self as decide, DeliveryFacts, FailingSince};
use crate::{AttemptRecord, StoreResult};

/// Queues `events`, and records the endpoint changes they report for the live feed.
pub(crate) fn insert(conn: &Connection, events: &[OperationalEvent]) -> StoreResult<()> {
    for c in crate::feed::changes_of(events) {
        conn.prepare_cached(&format!(
            "INSERT INTO endpoint_changes ({})\nVALUES (?, ?, ?, ?, ?, ?)",
            crate::feed::CHANGE_COLS
        ))
        .and_then(|mut s| {
            s.execute(params![
                c.id.as_str(),
                c.app_id.as_str(),
                c.endpoint_id.as_str(),
                c.change,
                c.detail,
                c.created_at
            ])
        })
        .map_err(db_err)?;
    }
    let mut stmt = conn
        .prepare_cached(
            r#"INSERT INTO operational_events (id, event_type, payload, created_at)
            VALUES (?, ?, ?, ?)"#,
        )
        .map_err(db_err)?;
    for e in events {
        stmt.execute(params![
            e.id.as_str(),
            e.event_type,
            e.payload,
            e.created_at
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

/// The oldest `limit` queued events.
pub(crate) fn pending(conn: &Connection, limit: usize) -> StoreResult<Vec<OperationalEvent>> {
    conn.prepare_cached(
        r#"SELECT id, event_type, payload, created_at
        FROM operational_events
        ORDER BY id
        LIMIT ?"#,
    )
    .and_then(|mut s| {
        s.query_map([limit as i64], |r| {
            Ok(OperationalEvent {
                id: MessageId::from_trusted(r.get(0)?),
                event_type: r.get(1)?,
                payload: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect()
    })
    .map_err(db_err)
}

/// Forgets published events.
pub(crate) fn forget(conn: &Connection, ids: &[MessageId]) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM operational_events WHERE id = ?")
        .map_err(db_err)?;
    for id in ids {
        stmt.execute([id.as_str()]).map_err(db_err)?;
    }
    Ok(())
}

fn app_uid(conn: &Connection, app: &AppId) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT uid FROM apps WHERE id = ?")
        .and_then(|mut s| {
            s.query_row([app.as_str()], |r| r.get::<_, Option<String>>(0))
                .optional()
        })
        .map(Option::flatten)
        .map_err(db_err)
}

/// Queues an `endpoint.*` event of each kind about `e`, unless it is the operational app's.
pub(crate) fn endpoint_events(
    conn: &Connection,
    kinds: &[OperationalKind],
    e: &Endpoint,
    now: Millis,
) -> StoreResult<()> {
    let uid = app_uid(conn, &e.app_id)?;
    if !decide::reported(uid.as_deref()) {
        return Ok(());
    }
    let about = decide::endpoint_ref(e, uid);
    let events: Vec<_> = kinds
        .iter()
        .map(|k| OperationalEvent::endpoint(*k, &about, now))
        .collect();
    insert(conn, &events)
}

/// Whether the endpoint is disabled now (`None` if there is none), read before an update.
pub(crate) fn was_disabled(conn: &Connection, e: &Endpoint) -> StoreResult<Option<bool>> {
    conn.prepare_cached("SELECT disabled FROM endpoints WHERE id = ?")
        .and_then(|mut s| s.query_row([e.id.as_str()], |r| r.get(0)).optional())
        .map_err(db_err)
}

/// Clears an endpoint's `failing_since` (it was enabled again: its clock starts afresh).
pub(crate) fn clear_failing(conn: &Connection, e: &Endpoint) -> StoreResult<()> {
    conn.execute(
        "UPDATE endpoints SET failing_since = NULL WHERE id = ?",
        [e.id.as_str()],
    )
    .map_err(db_err)?;
    Ok(())
}

/// What follows an endpoint attempt's record: its endpoint's `failing_since` moves, and the
/// events it makes are queued, given the delivery's attempts so far (`None`: the record did not
/// move it on). What the events name is read only when there can be some, as on PostgreSQL, so
/// an ordinary success costs no read.
pub(crate) fn after_endpoint_attempt(
    conn: &Connection,
    rec: &AttemptRecord,
    a: &Attempt,
    attempts: Option<u32>,
) -> StoreResult<()> {
    // Cached statements: one of these runs for every attempt.
    match decide::failing_since_change(a.outcome, a.created_at) {
        FailingSince::Clear => conn
            .prepare_cached(
                r#"UPDATE endpoints
                SET failing_since = NULL
                WHERE id = ? AND failing_since IS NOT NULL"#,
            )
            .and_then(|mut s| s.execute([a.endpoint_id.as_str()])),
        FailingSince::SetIfUnset(at) => conn
            .prepare_cached(
                r#"UPDATE endpoints
                SET failing_since = ?
                WHERE id = ? AND failing_since IS NULL"#,
            )
            .and_then(|mut s| s.execute(params![at, a.endpoint_id.as_str()])),
        FailingSince::Keep => Ok(0),
    }
    .map_err(db_err)?;
    if !decide::may_report(rec, a.outcome, attempts) {
        return Ok(());
    }
    let facts = conn
        .prepare_cached(
            r#"SELECT ap.uid, m.event_id, d.attempts, e.uid
            FROM deliveries d
            JOIN apps ap ON ap.id = d.app_id
            LEFT JOIN messages m ON m.id = d.msg_id
            LEFT JOIN endpoints e ON e.id = d.endpoint_id
            WHERE d.id = ?"#,
        )
        .and_then(|mut s| {
            s.query_row([a.delivery_id.as_str()], |r| {
                Ok(DeliveryFacts {
                    app_uid: r.get(0)?,
                    msg_event_id: r.get(1)?,
                    attempts: r.get(2)?,
                    endpoint_uid: r.get(3)?,
                })
            })
            .optional()
        })
        .map_err(db_err)?;
    match facts {
        Some(facts) => insert(conn, &decide::attempt_events(rec, a, facts)),
        None => Ok(()),
    }
}

/// Queues what a handler run's record makes.
pub(crate) fn after_run_attempt(
    conn: &Connection,
    rec: &AttemptRecord,
    a: &RunAttempt,
) -> StoreResult<()> {
    insert(conn, &decide::run_events(rec, a))
}

/// Disables every enabled endpoint failing since before `failing_before`, queuing one
/// `endpoint.disabled` for each (none for the operational app's own). Returns them.
pub(crate) fn disable_failing(
    conn: &Connection,
    failing_before: Millis,
    now: Millis,
) -> StoreResult<Vec<EndpointRef>> {
    let disabled = conn
        .prepare_cached(
            r#"UPDATE endpoints
            SET disabled = 1, updated_at = ?
            WHERE disabled = 0 AND failing_since IS NOT NULL AND failing_since < ?
            RETURNING app_id, id, uid, failing_since,
                (SELECT uid FROM apps WHERE apps.id = endpoints.app_id)"#,
        )
        .and_then(|mut s| {
            s.query_map(params![now, failing_before], |r| {
                Ok(EndpointRef {
                    app_id: r.get(0)?,
                    endpoint_id: r.get(1)?,
                    endpoint_uid: r.get(2)?,
                    failing_since: r.get(3)?,
                    app_uid: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_err)?;
    let events: Vec<_> = disabled
        .iter()
        .filter(|e| decide::reported(e.app_uid.as_deref()))
        .map(|e| OperationalEvent::endpoint(OperationalKind::EndpointDisabled, e, now))
        .collect();
    insert(conn, &events)?;
    Ok(disabled)
}
