//! API tokens and the audit log, on SQLite.

use rusqlite::{Connection, OptionalExtension, params};

use super::conn::db_err;
use super::list::SqlitePage;
use crate::access::{self, AUDIT_COLS, TOKEN_COLS};
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::{ApiToken, AuditEntry, AuditFilter, StoreError, StoreResult};
use rustyhook_core::time::Millis;

pub(crate) fn insert_token(conn: &Connection, t: &ApiToken) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO api_tokens ({TOKEN_COLS})\nVALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            t.id,
            t.name,
            t.role.as_str(),
            t.app_id.as_ref().map(|a| a.as_str()),
            t.read_only,
            t.token_hash,
            t.created_at,
            t.expires_at,
            t.last_used_at,
            t.revoked_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn token_where(
    conn: &Connection,
    column: &str,
    value: &str,
) -> StoreResult<Option<ApiToken>> {
    conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLS}\nFROM api_tokens\nWHERE {column} = ?"
    ))
    .and_then(|mut s| s.query_row([value], |r| access::token(r)).optional())
    .map_err(db_err)
}

pub(crate) fn list_tokens(conn: &Connection, page: &Page) -> StoreResult<Listed<ApiToken>> {
    Query::new(format!("SELECT {TOKEN_COLS}\nFROM api_tokens"))
        .page(conn, "id", page, |r| access::token(r))
}

pub(crate) fn revoke(conn: &Connection, id: &str, now: Millis) -> StoreResult<()> {
    let changed = conn
        .execute(
            r#"UPDATE api_tokens
            SET revoked_at = COALESCE(revoked_at, ?)
            WHERE id = ?"#,
            params![now, id],
        )
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn touch(conn: &Connection, id: &str, now: Millis) -> StoreResult<()> {
    conn.execute(
        r#"UPDATE api_tokens
        SET last_used_at = ?
        WHERE id = ?"#,
        params![now, id],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn insert_audit(conn: &Connection, entries: &[AuditEntry]) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO audit_log ({AUDIT_COLS})\nVALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .map_err(db_err)?;
    for e in entries {
        stmt.execute(params![
            e.id,
            e.actor,
            e.method,
            e.route,
            e.resource,
            e.address,
            e.status,
            e.created_at
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn list_audit(
    conn: &Connection,
    filter: AuditFilter,
    page: &Page,
) -> StoreResult<Listed<AuditEntry>> {
    access::audit_query(filter).page(conn, "id", page, |r| access::audit(r))
}

pub(crate) fn purge_audit(conn: &Connection, before: Millis) -> StoreResult<u64> {
    let n = conn
        .execute(
            r#"DELETE FROM audit_log
            WHERE created_at < ?"#,
            [before],
        )
        .map_err(db_err)?;
    Ok(n as u64)
}
