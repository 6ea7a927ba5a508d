//! Endpoints and their delivery statistics.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_core::model::Endpoint;
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, ENDPOINT_COLS, seal_headers, seal_secrets, to_json};
use crate::{EndpointStats, StoreError, StoreResult, rules};

pub(crate) fn insert(conn: &Connection, ep: &Endpoint, sbox: &SecretBox) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO endpoints ({ENDPOINT_COLS})\n\
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            ep.id.as_str(),
            ep.app_id.as_str(),
            ep.uid.as_ref().map(|u| u.as_str()),
            ep.url,
            ep.description,
            ep.version,
            ep.disabled,
            ep.rate_limit,
            ep.filter_types.as_ref().map(to_json),
            ep.channels.as_ref().map(to_json),
            to_json(&ep.metadata),
            seal_headers(&ep.headers, sbox),
            seal_secrets(&ep.secrets, sbox),
            ep.header_style.map(|h| h.as_str()),
            ep.max_in_flight,
            ep.created_at,
            ep.updated_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn update(conn: &Connection, ep: &Endpoint, sbox: &SecretBox) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            r#"UPDATE endpoints
            SET uid = ?, url = ?, description = ?, version = ?, disabled = ?, rate_limit = ?,
                filter_types = ?, channels = ?, metadata = ?, headers = ?, secrets = ?,
                header_style = ?, max_in_flight = ?, updated_at = ?
            WHERE id = ?"#,
        )
        .and_then(|mut s| {
            s.execute(params![
                ep.uid.as_ref().map(|u| u.as_str()),
                ep.url,
                ep.description,
                ep.version,
                ep.disabled,
                ep.rate_limit,
                ep.filter_types.as_ref().map(to_json),
                ep.channels.as_ref().map(to_json),
                to_json(&ep.metadata),
                seal_headers(&ep.headers, sbox),
                seal_secrets(&ep.secrets, sbox),
                ep.header_style.map(|h| h.as_str()),
                ep.max_in_flight,
                ep.updated_at,
                ep.id.as_str()
            ])
        })
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn get(
    conn: &Connection,
    app: &AppId,
    id_or_uid: &str,
    sbox: &SecretBox,
) -> StoreResult<Option<Endpoint>> {
    conn.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE app_id = ?1 AND (id = ?2 OR uid = ?2)\n\
         ORDER BY id = ?2 DESC\nLIMIT 1"
    ))
    .and_then(|mut s| {
        s.query_row([app.as_str(), id_or_uid], |r| rows::endpoint_at(r, 0, sbox))
            .optional()
    })
    .map_err(db_err)
}

pub(crate) fn get_by_id(
    conn: &Connection,
    id: &EndpointId,
    sbox: &SecretBox,
) -> StoreResult<Option<Endpoint>> {
    conn.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE id = ?"
    ))
    .and_then(|mut s| {
        s.query_row([id.as_str()], |r| rows::endpoint_at(r, 0, sbox))
            .optional()
    })
    .map_err(db_err)
}

/// Every enabled endpoint of an app, for fan-out.
pub(crate) fn enabled_of_app(
    conn: &Connection,
    app: &AppId,
    sbox: &SecretBox,
) -> StoreResult<Vec<Endpoint>> {
    conn.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE app_id = ? AND disabled = 0"
    ))
    .and_then(|mut s| {
        s.query_map([app.as_str()], |r| rows::endpoint_at(r, 0, sbox))?
            .collect()
    })
    .map_err(db_err)
}

pub(crate) fn list(
    conn: &Connection,
    app: &AppId,
    page: &Page,
    sbox: &SecretBox,
) -> StoreResult<Listed<Endpoint>> {
    Query::new(format!("SELECT {ENDPOINT_COLS}\nFROM endpoints"))
        .and("app_id = ?", [app.as_str().to_owned().into()])
        .page(conn, "id", page, |r| rows::endpoint_at(r, 0, sbox))
}

pub(crate) fn delete(conn: &Connection, id: &EndpointId, now: Millis) -> StoreResult<()> {
    conn.execute(
        r#"UPDATE deliveries
        SET status = 'canceled', next_attempt_at = NULL, lease_owner = NULL, updated_at = ?
        WHERE endpoint_id = ? AND status IN ('pending', 'failed', 'sending')"#,
        params![now, id.as_str()],
    )
    .map_err(db_err)?;
    let changed = conn
        .execute("DELETE FROM endpoints WHERE id = ?", [id.as_str()])
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn stats(
    conn: &Connection,
    id: &EndpointId,
    since: Option<Millis>,
    until: Option<Millis>,
) -> StoreResult<EndpointStats> {
    let mut stmt = conn
        .prepare_cached(
            r#"SELECT status, COUNT(*)
            FROM deliveries
            WHERE endpoint_id = ? AND created_at >= ? AND created_at < ?
            GROUP BY status"#,
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![id.as_str(), since.unwrap_or(0), until.unwrap_or(i64::MAX)],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )
        .map_err(db_err)?;
    let counts = rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?;
    Ok(rules::endpoint_stats(counts))
}
