//! Attempts: listing with Svix's filters, lookup and expunging response bodies.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::id::{AppId, AttemptId, MessageId};
use rustyhook_core::model::Attempt;

use super::conn::db_err;
use super::list::Query;
use crate::page::{Listed, Page};
use crate::rows::{self, ATTEMPT_COLS};
use crate::{AttemptFilter, StoreError, StoreResult};

pub(crate) fn list(
    conn: &Connection,
    app: &AppId,
    f: AttemptFilter,
    page: &Page,
) -> StoreResult<Listed<Attempt>> {
    let needs_message = f.channel.is_some() || f.event_types.is_some();
    let from = if needs_message {
        "FROM attempts a\nJOIN messages m ON m.id = a.msg_id"
    } else {
        "FROM attempts a"
    };
    let outcome = f.status.map(|s| match s {
        0 => "a.outcome = 'OK'",
        _ => "a.outcome <> 'OK'",
    });
    let mut q = Query::new(format!("SELECT {ATTEMPT_COLS}\n{from}"))
        .and("a.app_id = ?", [app.as_str().to_owned().into()])
        .and_opt("a.msg_id = ?", f.msg_id.map(String::from))
        .and_opt("a.endpoint_id = ?", f.endpoint_id.map(String::from))
        .and_opt(
            "EXISTS (SELECT 1 FROM json_each(m.channels) WHERE json_each.value = ?)",
            f.channel.map(String::from),
        )
        .and_in(
            "m.event_type",
            f.event_types
                .map(|ts| ts.into_iter().map(String::from).collect()),
        )
        .and_opt("a.created_at < ?", f.before)
        .and_opt("a.created_at > ?", f.after);
    if let Some(cond) = outcome {
        q = q.and(cond, []);
    }
    if let Some(class) = f.status_code_class {
        q = if class == 0 {
            q.and("a.status_code = 0", [])
        } else {
            q.and(
                "a.status_code >= ? AND a.status_code < ?",
                [i64::from(class).into(), (i64::from(class) + 100).into()],
            )
        };
    }
    q.page(conn, "a.id", page, |r| rows::attempt(r))
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
