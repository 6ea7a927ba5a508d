//! Pauses on SQLite: one row per paused target; the claim leaves out what they hold back.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::model::Delivery;

use rustyhook_core::time::now_millis;

use super::conn::db_err;
use super::list::execute;
use crate::StoreResult;
use crate::feed::change_of_endpoint;
use crate::pause::{DELIVERY_PAUSES, PAUSE_COLS, Pause, PauseScope, Waiting, waiting_sql};
use crate::rows;

/// Stores `pause` unless its target is paused already; returns the pause that holds.
pub(crate) fn pause(conn: &Connection, p: &Pause) -> StoreResult<Pause> {
    let paused = conn
        .execute(
            &format!(
                "INSERT INTO pauses ({PAUSE_COLS})\n\
             VALUES (?, ?, ?, ?, ?)\n\
             ON CONFLICT (scope, target) DO NOTHING"
            ),
            params![
                p.scope.as_str(),
                p.target,
                p.reason,
                p.paused_by,
                p.paused_at
            ],
        )
        .map_err(db_err)?;
    if paused == 1 && p.scope == PauseScope::Endpoint {
        let change = change_of_endpoint(&p.target, "paused", p.reason.as_deref(), p.paused_at);
        execute(conn, change)?;
    }
    get(conn, p.scope, &p.target)?.ok_or(crate::StoreError::NotFound)
}

fn get(conn: &Connection, scope: PauseScope, target: &str) -> StoreResult<Option<Pause>> {
    conn.query_row(
        &format!("SELECT {PAUSE_COLS}\nFROM pauses\nWHERE scope = ? AND target = ?"),
        params![scope.as_str(), target],
        |r| rows::pause(r),
    )
    .optional()
    .map_err(db_err)
}

/// Deletes the pause of `target`, returning it.
pub(crate) fn resume(
    conn: &Connection,
    scope: PauseScope,
    target: &str,
) -> StoreResult<Option<Pause>> {
    let found = get(conn, scope, target)?;
    if found.is_some() {
        conn.execute(
            "DELETE FROM pauses\nWHERE scope = ? AND target = ?",
            params![scope.as_str(), target],
        )
        .map_err(db_err)?;
        if scope == PauseScope::Endpoint {
            execute(
                conn,
                change_of_endpoint(target, "resumed", None, now_millis()),
            )?;
        }
    }
    Ok(found)
}

pub(crate) fn list(conn: &Connection) -> StoreResult<Vec<Pause>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PAUSE_COLS}\nFROM pauses\nORDER BY scope, target"
        ))
        .map_err(db_err)?;
    stmt.query_map([], |r| rows::pause(r))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}

pub(crate) fn waiting(conn: &Connection, scope: PauseScope, target: &str) -> StoreResult<Waiting> {
    let Some((sql, bound)) = waiting_sql(scope, "?") else {
        return Ok(Waiting::default());
    };
    let read = |r: &rusqlite::Row<'_>| {
        Ok(Waiting {
            count: r.get::<_, i64>(0)?.max(0) as u64,
            oldest: r.get(1)?,
        })
    };
    if bound {
        conn.query_row(&sql, [target], read)
    } else {
        conn.query_row(&sql, [], read)
    }
    .map_err(db_err)
}

/// Whether a pause holds back one of a new message's `deliveries`.
pub(crate) fn holds_any(conn: &Connection, deliveries: &[Delivery]) -> StoreResult<bool> {
    if deliveries.is_empty() {
        return Ok(false);
    }
    let mut stmt = conn.prepare_cached(DELIVERY_PAUSES).map_err(db_err)?;
    let pauses = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<Result<Vec<(String, String)>, _>>()
        .map_err(db_err)?;
    Ok(crate::pause::holds_any(&pauses, deliveries))
}
