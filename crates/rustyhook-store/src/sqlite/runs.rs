//! Handler runs: deliveries whose target is a handler step, in the one queue (claimed, leased,
//! released and recorded in [`super::deliveries`]). What only runs have lives here: keyed and
//! scheduled creation, a run's attempts, dependencies, backlog counts and exports.
//!
//! A run is `sending` while its command runs. On open, runs leased by a previous process go
//! back to `pending` and run again: a crash between queueing and finishing loses nothing.

use rusqlite::{Connection, params};
use rustyhook_core::id::RunId;
use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use crate::page::{Listed, Page};
use crate::query;
use crate::rows::{self, RUN_ATTEMPT_COLS, RUN_COLS, to_json};
use crate::stats::Tally;
use crate::{Lease, OpenRuns, StoreResult, rules};

pub(crate) fn insert(conn: &Connection, r: &Run, lease: Option<&Lease>) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO deliveries ({RUN_COLS}, lease_owner, lease_claim)\n\
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
            lease.map(|l| l.node.as_str()),
            lease.map(|l| l.claim)
        ])
    })
    .map_err(db_err)?;
    let mut tally = Tally::default();
    tally.runs(std::slice::from_ref(r));
    super::stats::apply(&tally);
    Ok(())
}

/// Stores a tick's runs unless the tick stored under `key` is as late or later; see
/// [`crate::Store::create_tick_runs`].
pub(crate) fn create_tick(
    conn: &Connection,
    key: &str,
    tick: Millis,
    new: &[Run],
    lease: Option<&Lease>,
) -> StoreResult<bool> {
    let current = super::apps::get_meta(conn, key)?;
    if !rules::tick_is_new(current.as_deref(), tick) {
        return Ok(false);
    }
    super::apps::set_meta(conn, key, &tick.to_string())?;
    new.iter().try_for_each(|r| insert(conn, r, lease))?;
    Ok(true)
}

/// Stores `run` under `key` unless a run already is; see [`crate::Store::create_keyed_run`].
/// Looking first is enough: every write runs on the one writer connection, one job at a time.
pub(crate) fn create_keyed(
    conn: &Connection,
    key: &str,
    run: &Run,
    lease: Option<&Lease>,
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
    insert(conn, run, lease)?;
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
        .prepare_cached(&format!(
            "SELECT {RUN_COLS} FROM deliveries WHERE id = ? AND handler_id IS NOT NULL"
        ))
        .map_err(db_err)?;
    let mut found = stmt.query_map([id], |r| rows::run(r)).map_err(db_err)?;
    found.next().transpose().map_err(db_err)
}

pub(crate) fn list(
    conn: &Connection,
    handler: Option<String>,
    status: Option<DeliveryStatus>,
    page: &Page,
) -> StoreResult<Listed<Run>> {
    query::runs(handler, status).page(conn, "id", page, |r| rows::run(r))
}

pub(crate) fn list_attempts(
    conn: &Connection,
    run_id: &RunId,
    page: &Page,
) -> StoreResult<Listed<RunAttempt>> {
    query::run_attempts(run_id).page(conn, "id", page, |r| rows::run_attempt(r))
}

pub(crate) fn start(conn: &Connection, id: &RunId, now: Millis) -> StoreResult<()> {
    conn.prepare_cached("UPDATE deliveries SET status = 'sending', updated_at = ? WHERE id = ?")
        .and_then(|mut s| s.execute(params![now, id.as_str()]))
        .map_err(db_err)?;
    Ok(())
}

/// Stores a run's attempt (its output in `response`).
pub(crate) fn insert_attempt(conn: &Connection, a: &RunAttempt) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO attempts ({RUN_ATTEMPT_COLS}, status_code, trigger_type)\n\
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)"
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
    Ok(())
}

/// What follows a run's attempt, in its transaction: the runs it starts, created unleased, and
/// the values it exports.
pub(crate) fn follow_on(
    conn: &Connection,
    a: &RunAttempt,
    follow_ups: &[Run],
    exports: &[(String, String)],
) -> StoreResult<()> {
    for r in follow_ups {
        insert(conn, r, None)?;
    }
    let mut export = conn
        .prepare_cached(
            r#"INSERT INTO exports (name, value, run_id, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE
            SET value = excluded.value, run_id = excluded.run_id, updated_at = excluded.updated_at"#,
        )
        .map_err(db_err)?;
    for (name, value) in exports {
        export
            .execute(params![name, value, a.run_id.as_str(), a.created_at])
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn busy(conn: &Connection, handlers: &[String], except: &RunId) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare_cached(
            r#"SELECT EXISTS (
                SELECT 1 FROM deliveries
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
        FROM deliveries
        WHERE handler_id IS NOT NULL AND status IN ('pending', 'sending', 'failed')"#,
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
