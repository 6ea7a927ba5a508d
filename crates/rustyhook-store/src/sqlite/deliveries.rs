//! Deliveries: the one queue, of deliveries to endpoints and of handler runs alike. Claiming
//! due work, recording attempts, leases, resend and recover.
//!
//! A delivery is "leased" while a node's dispatcher holds it in memory (`lease_owner` set). Only
//! unleased, due deliveries are claimed, so a delivery is in at most one dispatcher at a time.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::{Attempt, Delivery, Endpoint, Message};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use crate::dead::{self, DeadDialect, DeadLetter, DeadLetterFilter, DeadPage};
use crate::page::{Listed, Order, Page};
use crate::pause::NOT_PAUSED;
use crate::query::deliveries_of_message;
use crate::rows::{self, DUE_COLS};
use crate::rules::target_column;
use crate::{AttemptRecord, Attempted, Due, Lease, StoreResult, Target, WorkId, rules};

pub(crate) fn insert(
    conn: &Connection,
    d: &Delivery,
    lease: Option<&Lease>,
    manual: bool,
) -> StoreResult<()> {
    conn.prepare_cached(
        r#"INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts,
            next_attempt_at, manual, lease_owner, lease_claim, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .and_then(|mut s| {
        s.execute(params![
            d.id.as_str(),
            d.msg_id.as_str(),
            d.endpoint_id.as_str(),
            d.app_id.as_str(),
            d.status.as_str(),
            d.attempts,
            d.next_attempt_at,
            manual,
            lease.map(|l| l.node.as_str()),
            lease.map(|l| l.claim),
            d.created_at,
            d.updated_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn claim_due(
    conn: &Connection,
    lease: &Lease,
    now: Millis,
    limit: usize,
) -> StoreResult<Vec<Due>> {
    let mut select = conn
        .prepare_cached(&format!(
            "SELECT {DUE_COLS}\n\
             FROM deliveries d\n\
             LEFT JOIN messages m ON m.id = d.msg_id\n\
             WHERE d.lease_owner IS NULL\n\
               AND d.status IN ('pending', 'failed')\n\
               AND d.next_attempt_at <= ?\n\
               AND {NOT_PAUSED}\n\
             ORDER BY d.next_attempt_at, d.id\n\
             LIMIT ?"
        ))
        .map_err(db_err)?;
    let due = select
        .query_map(params![now, limit as i64], |r| rows::due(r))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut lease_row = conn
        .prepare_cached("UPDATE deliveries SET lease_owner = ?, lease_claim = ? WHERE id = ?")
        .map_err(db_err)?;
    for d in &due {
        let id = match d {
            Due::Endpoint(c) => c.delivery.id.as_str(),
            Due::Handler(r) => r.id.as_str(),
        };
        lease_row
            .execute(params![lease.node, lease.claim, id])
            .map_err(db_err)?;
    }
    Ok(due)
}

pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Millis>> {
    conn.query_row(
        &format!(
            "SELECT MIN(d.next_attempt_at)\n\
             FROM deliveries d\n\
             WHERE d.lease_owner IS NULL\n\
               AND d.status IN ('pending', 'failed')\n\
               AND {NOT_PAUSED}"
        ),
        [],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// Stores an attempt of either kind and moves its delivery on: one insert and one update for
/// both, then what only one kind has (a disabled endpoint; a run's follow-ups and exports).
/// `headers` is an endpoint attempt's `request_headers` as JSON, encoded by the caller.
pub(crate) fn record_attempt(
    conn: &Connection,
    rec: &AttemptRecord,
    headers: Option<&str>,
) -> StoreResult<()> {
    let (id, created_at, finished_at) = match &rec.attempt {
        Attempted::Endpoint(a) => {
            insert_attempt(conn, a, headers)?;
            (a.delivery_id.as_str(), a.created_at, a.created_at)
        }
        Attempted::Handler { attempt: a, .. } => {
            super::runs::insert_attempt(conn, a)?;
            (
                a.run_id.as_str(),
                a.created_at,
                a.created_at + a.duration_ms,
            )
        }
    };
    let (exit_code, output) = match &rec.attempt {
        Attempted::Handler { attempt: a, .. } => (a.exit_code, Some(a.output.as_str())),
        Attempted::Endpoint(_) => (None, None),
    };
    // The delivery's attempts so far; `None` when the record did not move it on.
    let attempts: Option<u32> = conn
        .prepare_cached(
            r#"UPDATE deliveries
        SET status = ?, attempts = attempts + 1, next_attempt_at = ?, manual = 0,
            lease_owner = NULL, updated_at = ?,
            exit_code = ?, output = ?
        WHERE id = ?
          AND (? IS NULL OR lease_owner IS NULL OR (lease_owner = ? AND lease_claim = ?))
        RETURNING attempts"#,
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    rec.status.as_str(),
                    rec.next_attempt_at,
                    finished_at,
                    exit_code,
                    output,
                    id,
                    rec.leased_to.as_ref().map(|l| l.node.as_str()),
                    rec.leased_to.as_ref().map(|l| l.node.as_str()),
                    rec.leased_to.as_ref().map(|l| l.claim)
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(db_err)?;
    let moved_on = attempts.is_some();
    match &rec.attempt {
        Attempted::Endpoint(a) if rec.disable_endpoint => {
            conn.execute(
                "UPDATE endpoints SET disabled = 1, updated_at = ? WHERE id = ?",
                params![created_at, a.endpoint_id.as_str()],
            )
            .map_err(db_err)?;
            super::operational::after_endpoint_attempt(conn, rec, a, attempts)?;
        }
        // A late result of a node taken for dead is kept, but what follows is left to the node
        // that holds the run now.
        Attempted::Handler {
            attempt,
            follow_ups,
            exports,
        } if moved_on => {
            super::runs::follow_on(conn, attempt, follow_ups, exports)?;
            super::operational::after_run_attempt(conn, rec, attempt)?;
        }
        Attempted::Handler { .. } => {}
        // What a late result of a node taken for dead makes is left to the node that holds it.
        Attempted::Endpoint(a) if moved_on => {
            super::operational::after_endpoint_attempt(conn, rec, a, attempts)?
        }
        Attempted::Endpoint(_) => {}
    }
    Ok(())
}

fn insert_attempt(conn: &Connection, a: &Attempt, headers: Option<&str>) -> StoreResult<()> {
    conn.prepare_cached(
        r#"INSERT INTO attempts (id, delivery_id, msg_id, endpoint_id, app_id, url, outcome,
            status_code, response, duration_ms, trigger_type, created_at, request_headers)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .and_then(|mut s| {
        s.execute(params![
            a.id.as_str(),
            a.delivery_id.as_str(),
            a.msg_id.as_str(),
            a.endpoint_id.as_str(),
            a.app_id.as_str(),
            a.url,
            a.outcome.as_str(),
            a.status_code,
            a.response,
            a.duration_ms,
            a.trigger as i64,
            a.created_at,
            headers
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

/// Gives work back, each under the claim it is held by: a run that was running is pending
/// again; with `due_at`, it falls due then.
pub(crate) fn release(
    conn: &Connection,
    node: &str,
    work: &[(WorkId, i64)],
    due_at: Option<Millis>,
) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            r#"UPDATE deliveries
            SET lease_owner = NULL, next_attempt_at = COALESCE(?, next_attempt_at),
                status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
            WHERE id = ? AND lease_owner = ? AND lease_claim = ?"#,
        )
        .map_err(db_err)?;
    for (id, claim) in work {
        stmt.execute(params![due_at, id.as_str(), node, claim])
            .map_err(db_err)?;
    }
    Ok(())
}

/// Releases every lease: called on open, when no other process can hold one. A run that was
/// running when the process died runs again.
pub(crate) fn release_all(conn: &Connection) -> StoreResult<u64> {
    conn.execute(
        r#"UPDATE deliveries
        SET lease_owner = NULL, status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
        WHERE lease_owner IS NOT NULL OR status = 'sending'"#,
        [],
    )
    .map(|n| n as u64)
    .map_err(db_err)
}

pub(crate) fn resend(
    conn: &Connection,
    msg: &Message,
    endpoint: &Endpoint,
    now: Millis,
) -> StoreResult<()> {
    let changed = conn
        .execute(
            r#"UPDATE deliveries
            SET status = 'pending', next_attempt_at = ?, manual = 1, updated_at = ?
            WHERE msg_id = ? AND endpoint_id = ? AND lease_owner IS NULL"#,
            params![now, now, msg.id.as_str(), endpoint.id.as_str()],
        )
        .map_err(db_err)?;
    if changed > 0 {
        return Ok(());
    }
    let exists: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM deliveries WHERE msg_id = ? AND endpoint_id = ?",
            [msg.id.as_str(), endpoint.id.as_str()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if exists {
        // Leased: a dispatcher is about to attempt it anyway.
        return Ok(());
    }
    insert(
        conn,
        &rules::resend_delivery(msg, endpoint, now),
        None,
        true,
    )
}

pub(crate) fn recover(
    conn: &Connection,
    target: &Target,
    since: Millis,
    until: Option<Millis>,
    now: Millis,
) -> StoreResult<u64> {
    let (column, id) = target_column(target);
    conn.execute(
        &format!(
            r#"UPDATE deliveries
            SET status = 'pending', next_attempt_at = ?, manual = 1, updated_at = ?
            WHERE {column} = ?
              AND status = 'dead'
              AND lease_owner IS NULL
              AND created_at >= ?
              AND created_at < ?"#
        ),
        params![now, now, id, since, until.unwrap_or(i64::MAX)],
    )
    .map(|n| n as u64)
    .map_err(db_err)
}

/// How SQLite reads a run's event type.
pub(crate) const DEAD_DIALECT: DeadDialect = DeadDialect {
    run_event_type: "json_extract(d.event, '$.type')",
};

/// One page of dead letters (see [`crate::dead`]).
pub(crate) fn list_dead(
    conn: &Connection,
    filter: DeadLetterFilter,
    page: &DeadPage,
) -> StoreResult<Listed<DeadLetter>> {
    let (statement, reverse) = dead::list(filter, page, &DEAD_DIALECT);
    let rows = super::list::select(conn, statement, |r| dead::dead_letter(r))?;
    Ok(Listed::from_fetched(
        rows,
        &Page::first(page.limit, Order::Descending),
        reverse,
    ))
}

pub(crate) fn list_for_message(
    conn: &Connection,
    msg: &MessageId,
    page: &Page,
    sbox: &SecretBox,
) -> StoreResult<Listed<(Delivery, Endpoint)>> {
    deliveries_of_message(msg).page(conn, "e.id", page, |r| {
        let endpoint = rows::endpoint_at(r, 9, sbox)?;
        Ok((rows::delivery_at(r, 0)?, endpoint))
    })
}
