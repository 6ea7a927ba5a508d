//! Handler runs: the automation side's queue, leased and claimed like deliveries.
//!
//! A run is `sending` while its command runs. On open, runs leased by a previous process go
//! back to `pending` and run again: a crash between queueing and finishing loses nothing.

use rusqlite::{Connection, params};
use rustyhook_core::id::RunId;
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, RUN_ATTEMPT_COLS, RUN_COLS, to_json};
use crate::{OpenRuns, RunRecord, StoreResult, rules};

pub(crate) fn insert(conn: &Connection, r: &Run, lease_owner: Option<&str>) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO runs ({RUN_COLS}, lease_owner)\n\
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            r.id.as_str(),
            r.handler_id,
            r.step.as_str(),
            r.status.as_str(),
            r.attempts,
            r.next_attempt_at,
            r.triggered_by,
            r.parent_id.as_ref().map(|p| p.as_str()),
            to_json(&r.event),
            r.exit_code,
            r.output,
            r.created_at,
            r.updated_at,
            lease_owner
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

/// Stores a tick's runs unless the tick stored under `key` is as late or later; see
/// [`crate::Store::create_tick_runs`].
pub(crate) fn create_tick(
    conn: &Connection,
    key: &str,
    tick: Millis,
    new: &[Run],
    lease_owner: Option<&str>,
) -> StoreResult<bool> {
    let current = super::apps::get_meta(conn, key)?;
    if !rules::tick_is_new(current.as_deref(), tick) {
        return Ok(false);
    }
    super::apps::set_meta(conn, key, &tick.to_string())?;
    new.iter().try_for_each(|r| insert(conn, r, lease_owner))?;
    Ok(true)
}

/// Stores `run` under `key` unless a run already is; see [`crate::Store::create_keyed_run`].
/// Looking first is enough: every write runs on the one writer connection, one job at a time.
pub(crate) fn create_keyed(
    conn: &Connection,
    key: &str,
    run: &Run,
    lease_owner: Option<&str>,
) -> StoreResult<bool> {
    let taken: bool = conn
        .prepare_cached(
            r#"SELECT EXISTS (
                SELECT 1
                FROM run_keys
                WHERE key = ?
            )"#,
        )
        .and_then(|mut s| s.query_row([key], |r| r.get(0)))
        .map_err(db_err)?;
    if taken {
        return Ok(false);
    }
    insert(conn, run, lease_owner)?;
    conn.prepare_cached(
        r#"INSERT INTO run_keys (key, run_id)
        VALUES (?, ?)"#,
    )
    .and_then(|mut s| s.execute(params![key, run.id.as_str()]))
    .map_err(db_err)?;
    Ok(true)
}

pub(crate) fn get(conn: &Connection, id: &str) -> StoreResult<Option<Run>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {RUN_COLS} FROM runs WHERE id = ?"))
        .map_err(db_err)?;
    let mut found = stmt.query_map([id], |r| rows::run(r)).map_err(db_err)?;
    found.next().transpose().map_err(db_err)
}

pub(crate) fn list(
    conn: &Connection,
    handler: Option<String>,
    page: &Page,
) -> StoreResult<Listed<Run>> {
    Query::new(format!("SELECT {RUN_COLS} FROM runs"))
        .and_opt("handler_id = ?", handler)
        .page(conn, "id", page, |r| rows::run(r))
}

pub(crate) fn list_attempts(
    conn: &Connection,
    run_id: &RunId,
    page: &Page,
) -> StoreResult<Listed<RunAttempt>> {
    Query::new(format!("SELECT {RUN_ATTEMPT_COLS} FROM run_attempts"))
        .and("run_id = ?", [run_id.as_str().into()])
        .page(conn, "id", page, |r| rows::run_attempt(r))
}

pub(crate) fn claim_due(
    conn: &Connection,
    node: &str,
    now: Millis,
    limit: usize,
) -> StoreResult<Vec<Run>> {
    let due = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLS}\n\
             FROM runs\n\
             WHERE lease_owner IS NULL\n\
               AND status IN ('pending', 'failed')\n\
               AND next_attempt_at <= ?\n\
             ORDER BY next_attempt_at, id\n\
             LIMIT ?"
        ))
        .and_then(|mut s| {
            s.query_map(params![now, limit as i64], |r| rows::run(r))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_err)?;
    let mut lease = conn
        .prepare_cached("UPDATE runs SET lease_owner = ? WHERE id = ?")
        .map_err(db_err)?;
    for r in &due {
        lease
            .execute(params![node, r.id.as_str()])
            .map_err(db_err)?;
    }
    Ok(due)
}

pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Millis>> {
    conn.query_row(
        r#"SELECT MIN(next_attempt_at)
        FROM runs
        WHERE lease_owner IS NULL AND status IN ('pending', 'failed')"#,
        [],
        |r| r.get(0),
    )
    .map_err(db_err)
}

pub(crate) fn start(conn: &Connection, id: &RunId, now: Millis) -> StoreResult<()> {
    conn.prepare_cached("UPDATE runs SET status = 'sending', updated_at = ? WHERE id = ?")
        .and_then(|mut s| s.execute(params![now, id.as_str()]))
        .map_err(db_err)?;
    Ok(())
}

pub(crate) fn record(conn: &Connection, rec: &RunRecord) -> StoreResult<()> {
    let a = &rec.attempt;
    conn.prepare_cached(&format!(
        "INSERT INTO run_attempts ({RUN_ATTEMPT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            a.id.as_str(),
            a.run_id.as_str(),
            a.handler_id,
            a.outcome.as_str(),
            a.exit_code,
            a.output,
            a.duration_ms,
            a.created_at
        ])
    })
    .map_err(db_err)?;
    conn.prepare_cached(
        r#"UPDATE runs
        SET status = ?, attempts = attempts + 1, next_attempt_at = ?, exit_code = ?, output = ?,
            lease_owner = NULL, updated_at = ?
        WHERE id = ?"#,
    )
    .and_then(|mut s| {
        s.execute(params![
            rec.status.as_str(),
            rec.next_attempt_at,
            a.exit_code,
            a.output,
            a.created_at + a.duration_ms,
            a.run_id.as_str()
        ])
    })
    .map_err(db_err)?;
    for r in &rec.follow_ups {
        insert(conn, r, None)?;
    }
    let mut export = conn
        .prepare_cached(
            r#"INSERT INTO exports (name, value, run_id, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE
            SET value = excluded.value, run_id = excluded.run_id, updated_at = excluded.updated_at"#,
        )
        .map_err(db_err)?;
    for (name, value) in &rec.exports {
        export
            .execute(params![name, value, a.run_id.as_str(), a.created_at])
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn postpone(
    conn: &Connection,
    node: &str,
    id: &RunId,
    until: Millis,
) -> StoreResult<()> {
    conn.prepare_cached(
        r#"UPDATE runs
        SET lease_owner = NULL, next_attempt_at = ?, status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
        WHERE id = ? AND lease_owner = ?"#,
    )
    .and_then(|mut s| s.execute(params![until, id.as_str(), node]))
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn release(conn: &Connection, node: &str, ids: &[RunId]) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            r#"UPDATE runs
            SET lease_owner = NULL, status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
            WHERE id = ? AND lease_owner = ?"#,
        )
        .map_err(db_err)?;
    for id in ids {
        stmt.execute(params![id.as_str(), node]).map_err(db_err)?;
    }
    Ok(())
}

/// Releases every lease: called on open, when no other process can hold one.
pub(crate) fn release_all(conn: &Connection) -> StoreResult<u64> {
    conn.execute(
        r#"UPDATE runs
        SET lease_owner = NULL, status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
        WHERE lease_owner IS NOT NULL OR status = 'sending'"#,
        [],
    )
    .map(|n| n as u64)
    .map_err(db_err)
}

pub(crate) fn busy(conn: &Connection, handlers: &[String], except: &RunId) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare_cached(
            r#"SELECT EXISTS (
                SELECT 1 FROM runs
                WHERE handler_id = ? AND status IN ('pending', 'sending', 'failed') AND id != ?
            )"#,
        )
        .map_err(db_err)?;
    for h in handlers {
        let found: bool = stmt
            .query_row(params![h, except.as_str()], |r| r.get(0))
            .map_err(db_err)?;
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn count_open(conn: &Connection, handler: &str) -> StoreResult<OpenRuns> {
    conn.prepare_cached(
        r#"SELECT
            COUNT(*) FILTER (WHERE handler_id = ?),
            COUNT(*)
        FROM runs
        WHERE status IN ('pending', 'sending', 'failed')"#,
    )
    .and_then(|mut s| {
        s.query_row([handler], |r| {
            Ok(OpenRuns {
                handler: r.get::<_, i64>(0)?.max(0) as u64,
                total: r.get::<_, i64>(1)?.max(0) as u64,
            })
        })
    })
    .map_err(db_err)
}

pub(crate) fn exports(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    conn.prepare_cached("SELECT name, value FROM exports ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_err)
}
