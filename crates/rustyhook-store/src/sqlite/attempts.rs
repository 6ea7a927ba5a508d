//! Attempts: listing with Svix's filters, lookup and expunging response bodies.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::id::{AppId, AttemptId, MessageId};
use rustyhook_core::model::Attempt;

use super::conn::db_err;
use super::list::{DIALECT, SqlitePage};
use crate::page::{Listed, Page};
use crate::query::attempts_of_app;
use crate::rows::{self, ATTEMPT_COLS};
use crate::{AttemptFilter, StoreError, StoreResult};

pub(crate) fn list(
    conn: &Connection,
    app: &AppId,
    f: AttemptFilter,
    page: &Page,
) -> StoreResult<Listed<Attempt>> {
    attempts_of_app(ATTEMPT_COLS, app, f, &DIALECT).page(conn, "a.id", page, |r| rows::attempt(r))
}

pub(crate) fn get(conn: &Connection, msg: &MessageId, id: &str) -> StoreResult<Option<Attempt>> {
    conn.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLS}\nFROM attempts a\nWHERE a.msg_id = ? AND a.id = ?"
    ))
    .and_then(|mut s| {
        s.query_row(params![msg.as_str(), id], |r| rows::attempt(r))
            .optional()
    })
    .map_err(db_err)
}

pub(crate) fn expunge(conn: &Connection, id: &AttemptId) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE attempts SET response = NULL WHERE id = ?",
            [id.as_str()],
        )
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
