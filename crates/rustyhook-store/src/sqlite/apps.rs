//! Apps, event types, installation metadata and idempotency keys.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::id::AppId;
use rustyhook_core::model::{App, EventType};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, APP_COLS, EVENT_TYPE_COLS, to_json};
use crate::rules::{self, IdempotencyRow};
use crate::{IdempotencyBegin, StoreError, StoreResult};

pub(crate) fn insert_app(conn: &Connection, app: &App) -> StoreResult<()> {
    conn.prepare_cached(
        r#"INSERT INTO apps (id, uid, name, rate_limit, metadata, created_at, updated_at, header_style,
            logo_url)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .and_then(|mut s| {
        s.execute(params![
            app.id.as_str(),
            app.uid.as_ref().map(|u| u.as_str()),
            app.name,
            app.rate_limit,
            to_json(&app.metadata),
            app.created_at,
            app.updated_at,
            app.header_style.map(|h| h.as_str()),
            app.logo_url
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn update_app(conn: &Connection, app: &App) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            r#"UPDATE apps
            SET uid = ?, name = ?, rate_limit = ?, metadata = ?, updated_at = ?, header_style = ?,
                logo_url = ?
            WHERE id = ?"#,
        )
        .and_then(|mut s| {
            s.execute(params![
                app.uid.as_ref().map(|u| u.as_str()),
                app.name,
                app.rate_limit,
                to_json(&app.metadata),
                app.updated_at,
                app.header_style.map(|h| h.as_str()),
                app.logo_url,
                app.id.as_str()
            ])
        })
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn get_app(conn: &Connection, id_or_uid: &str) -> StoreResult<Option<App>> {
    conn.prepare_cached(&format!(
        "SELECT {APP_COLS}\nFROM apps\nWHERE id = ?1 OR uid = ?1\nORDER BY id = ?1 DESC\nLIMIT 1"
    ))
    .and_then(|mut s| s.query_row([id_or_uid], |r| rows::app(r)).optional())
    .map_err(db_err)
}

pub(crate) fn list_apps(
    conn: &Connection,
    page: &Page,
    with_endpoints_only: bool,
) -> StoreResult<Listed<App>> {
    let mut q = Query::new(format!("SELECT {APP_COLS}\nFROM apps"))
        .and(crate::operational::NOT_OPERATIONAL_APP, []);
    if with_endpoints_only {
        q = q.and(rows::APP_HAS_ENDPOINTS, []);
    }
    q.page(conn, "id", page, |r| rows::app(r))
}

pub(crate) fn delete_app(conn: &Connection, id: &AppId) -> StoreResult<()> {
    // Attempts and deliveries cascade from messages; endpoints and messages from the app.
    let changed = conn
        .execute("DELETE FROM apps WHERE id = ?", [id.as_str()])
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn upsert_event_type(conn: &Connection, et: &EventType) -> StoreResult<bool> {
    let existed: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM event_types WHERE name = ?",
            [et.name.as_str()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    conn.execute(
        r#"INSERT INTO event_types
            (name, description, schemas, archived, deprecated, feature_flag, created_at, updated_at,
            feature_flags, group_name)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET
            description = excluded.description,
            schemas = excluded.schemas,
            archived = excluded.archived,
            deprecated = excluded.deprecated,
            feature_flag = excluded.feature_flag,
            updated_at = excluded.updated_at,
            feature_flags = excluded.feature_flags,
            group_name = excluded.group_name"#,
        params![
            et.name.as_str(),
            et.description,
            et.schemas.as_ref().map(to_json),
            et.archived,
            et.deprecated,
            et.feature_flag,
            et.created_at,
            et.updated_at,
            et.feature_flags.as_ref().map(to_json),
            et.group_name
        ],
    )
    .map_err(db_err)?;
    Ok(!existed)
}

pub(crate) fn get_event_type(conn: &Connection, name: &str) -> StoreResult<Option<EventType>> {
    conn.prepare_cached(&format!(
        "SELECT {EVENT_TYPE_COLS}\nFROM event_types\nWHERE name = ?"
    ))
    .and_then(|mut s| s.query_row([name], |r| rows::event_type(r)).optional())
    .map_err(db_err)
}

pub(crate) fn list_event_types(
    conn: &Connection,
    page: &Page,
    include_archived: bool,
) -> StoreResult<Listed<EventType>> {
    let mut q = Query::new(format!("SELECT {EVENT_TYPE_COLS}\nFROM event_types"));
    if !include_archived {
        q = q.and("archived = 0", []);
    }
    q.page(conn, "name", page, |r| rows::event_type(r))
}

pub(crate) fn delete_event_type(conn: &Connection, name: &str) -> StoreResult<()> {
    let changed = conn
        .execute("DELETE FROM event_types WHERE name = ?", [name])
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn get_meta(conn: &Connection, key: &str) -> StoreResult<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?", [key], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        r#"INSERT INTO meta (key, value)
        VALUES (?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value"#,
        [key, value],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn idempotency_begin(
    conn: &Connection,
    key: &str,
    now: Millis,
    stale_before: Millis,
    expire_before: Millis,
) -> StoreResult<IdempotencyBegin> {
    let found: Option<IdempotencyRow> = conn
        .query_row(
            "SELECT state, status, body, created_at FROM idempotency WHERE key = ?",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(db_err)?;
    if rules::idempotency_free(found.as_ref(), stale_before, expire_before) {
        conn.execute(
            r#"INSERT INTO idempotency (key, state, status, body, created_at)
            VALUES (?, 'started', NULL, NULL, ?)
            ON CONFLICT (key) DO UPDATE SET
                state = 'started', status = NULL, body = NULL, created_at = excluded.created_at"#,
            params![key, now],
        )
        .map_err(db_err)?;
        return Ok(IdempotencyBegin::Started);
    }
    Ok(rules::idempotency_taken(found))
}

pub(crate) fn idempotency_complete(
    conn: &Connection,
    key: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<()> {
    conn.execute(
        "UPDATE idempotency SET state = 'done', status = ?, body = ? WHERE key = ?",
        params![status, body, key],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn idempotency_abandon(conn: &Connection, key: &str) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM idempotency WHERE key = ? AND state = 'started'",
        [Value::from(key.to_owned())],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn idempotency_purge(conn: &Connection, expire_before: Millis) -> StoreResult<u64> {
    let n = conn
        .execute(
            r#"DELETE FROM idempotency
            WHERE created_at < ?"#,
            [expire_before],
        )
        .map_err(db_err)?;
    Ok(n as u64)
}
