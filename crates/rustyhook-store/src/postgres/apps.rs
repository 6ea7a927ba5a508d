//! Apps, event types, installation metadata and idempotency keys.

use rustyhook_core::id::AppId;
use rustyhook_core::model::{App, EventType};
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Row};

use super::conn::db_err;
use super::list::PgPage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, APP_COLS, EVENT_TYPE_COLS, to_json};
use crate::rules::{self, IdempotencyRow};
use crate::{IdempotencyBegin, StoreError, StoreResult};

/// Turns "no row changed" into [`StoreError::NotFound`].
pub(crate) fn found(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Runs a statement keyed by its one value (`$1`); [`StoreError::NotFound`] if it changed no
/// row.
pub(crate) async fn change_one(pool: &PgPool, sql: &str, key: &str) -> StoreResult<()> {
    let done = sqlx::query(sql)
        .bind(key)
        .execute(pool)
        .await
        .map_err(db_err)?;
    found(done.rows_affected())
}

pub(crate) async fn insert_app(pool: &PgPool, app: &App) -> StoreResult<()> {
    sqlx::query(
        r#"INSERT INTO apps (id, uid, name, rate_limit, metadata, created_at, updated_at, header_style,
            logo_url)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(app.id.as_str())
    .bind(app.uid.as_ref().map(|u| u.as_str()))
    .bind(&app.name)
    .bind(app.rate_limit.map(i64::from))
    .bind(to_json(&app.metadata))
    .bind(app.created_at)
    .bind(app.updated_at)
    .bind(app.header_style.map(|h| h.as_str()))
    .bind(&app.logo_url)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn update_app(pool: &PgPool, app: &App) -> StoreResult<()> {
    let done = sqlx::query(
        r#"UPDATE apps
        SET uid = $1, name = $2, rate_limit = $3, metadata = $4, updated_at = $5,
            header_style = $6, logo_url = $8
        WHERE id = $7"#,
    )
    .bind(app.uid.as_ref().map(|u| u.as_str()))
    .bind(&app.name)
    .bind(app.rate_limit.map(i64::from))
    .bind(to_json(&app.metadata))
    .bind(app.updated_at)
    .bind(app.header_style.map(|h| h.as_str()))
    .bind(app.id.as_str())
    .bind(&app.logo_url)
    .execute(pool)
    .await
    .map_err(db_err)?;
    found(done.rows_affected())
}

pub(crate) async fn get_app(pool: &PgPool, id_or_uid: &str) -> StoreResult<Option<App>> {
    let sql = format!(
        "SELECT {APP_COLS}\nFROM apps\nWHERE id = $1 OR uid = $1\nORDER BY id = $1 DESC\nLIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(id_or_uid)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::app).transpose()
}

pub(crate) async fn list_apps(
    pool: &PgPool,
    page: &Page,
    with_endpoints_only: bool,
) -> StoreResult<Listed<App>> {
    let mut q = Query::new(format!("SELECT {APP_COLS}\nFROM apps"))
        .and(crate::operational::NOT_OPERATIONAL_APP, []);
    if with_endpoints_only {
        q = q.and(rows::APP_HAS_ENDPOINTS, []);
    }
    q.page(pool, "id", page, rows::app).await
}

pub(crate) async fn delete_app(pool: &PgPool, id: &AppId) -> StoreResult<()> {
    // Attempts and deliveries cascade from messages; endpoints and messages from the app.
    change_one(
        pool,
        r#"DELETE FROM apps
        WHERE id = $1"#,
        id.as_str(),
    )
    .await
}

/// Creates or replaces an event type; `xmax = 0` holds only for a row this statement inserted,
/// which tells "new" from "replaced" in the same statement, with no window between a check and
/// the write.
pub(crate) async fn upsert_event_type(pool: &PgPool, et: &EventType) -> StoreResult<bool> {
    let row = sqlx::query(
        r#"INSERT INTO event_types
            (name, description, schemas, archived, deprecated, feature_flag, created_at, updated_at,
            feature_flags, group_name)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (name) DO UPDATE SET
            description = EXCLUDED.description,
            schemas = EXCLUDED.schemas,
            archived = EXCLUDED.archived,
            deprecated = EXCLUDED.deprecated,
            feature_flag = EXCLUDED.feature_flag,
            updated_at = EXCLUDED.updated_at,
            feature_flags = EXCLUDED.feature_flags,
            group_name = EXCLUDED.group_name
        RETURNING (xmax = 0) AS inserted"#,
    )
    .bind(et.name.as_str())
    .bind(&et.description)
    .bind(et.schemas.as_ref().map(to_json))
    .bind(et.archived)
    .bind(et.deprecated)
    .bind(&et.feature_flag)
    .bind(et.created_at)
    .bind(et.updated_at)
    .bind(et.feature_flags.as_ref().map(to_json))
    .bind(&et.group_name)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    row.try_get::<bool, _>(0).map_err(db_err)
}

pub(crate) async fn get_event_type(pool: &PgPool, name: &str) -> StoreResult<Option<EventType>> {
    let sql = format!("SELECT {EVENT_TYPE_COLS}\nFROM event_types\nWHERE name = $1");
    let row = sqlx::query(&sql)
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::event_type).transpose()
}

pub(crate) async fn list_event_types(
    pool: &PgPool,
    page: &Page,
    include_archived: bool,
) -> StoreResult<Listed<EventType>> {
    let mut q = Query::new(format!("SELECT {EVENT_TYPE_COLS}\nFROM event_types"));
    if !include_archived {
        q = q.and("NOT archived", []);
    }
    q.page(pool, "name", page, rows::event_type).await
}

pub(crate) async fn delete_event_type(pool: &PgPool, name: &str) -> StoreResult<()> {
    change_one(
        pool,
        r#"DELETE FROM event_types
        WHERE name = $1"#,
        name,
    )
    .await
}

pub(crate) async fn get_meta(
    conn: impl sqlx::PgExecutor<'_>,
    key: &str,
) -> StoreResult<Option<String>> {
    sqlx::query_scalar(
        r#"SELECT value
        FROM meta
        WHERE key = $1"#,
    )
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

pub(crate) async fn set_meta(
    conn: impl sqlx::PgExecutor<'_>,
    key: &str,
    value: &str,
) -> StoreResult<()> {
    sqlx::query(
        r#"INSERT INTO meta (key, value)
        VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"#,
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Claims a key as SQLite does, made safe against a concurrent claim on another node: the row
/// is created if absent (`ON CONFLICT DO NOTHING`, so of two creators one wins) and otherwise
/// locked while it is judged, so two requests never both start.
pub(crate) async fn idempotency_begin(
    pool: &PgPool,
    key: &str,
    now: Millis,
    stale_before: Millis,
    expire_before: Millis,
) -> StoreResult<IdempotencyBegin> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let created = sqlx::query(
        r#"INSERT INTO idempotency (key, state, status, body, created_at)
        VALUES ($1, 'started', NULL, NULL, $2)
        ON CONFLICT (key) DO NOTHING"#,
    )
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if created.rows_affected() == 1 {
        tx.commit().await.map_err(db_err)?;
        return Ok(IdempotencyBegin::Started);
    }
    let found = locked_key(&mut tx, key).await?;
    if !rules::idempotency_free(found.as_ref(), stale_before, expire_before) {
        return Ok(rules::idempotency_taken(found));
    }
    sqlx::query(
        r#"INSERT INTO idempotency (key, state, status, body, created_at)
        VALUES ($1, 'started', NULL, NULL, $2)
        ON CONFLICT (key) DO UPDATE SET
            state = 'started', status = NULL, body = NULL, created_at = EXCLUDED.created_at"#,
    )
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(IdempotencyBegin::Started)
}

/// Reads a key's row, locking it until the transaction ends.
async fn locked_key(conn: &mut PgConnection, key: &str) -> StoreResult<Option<IdempotencyRow>> {
    let row = sqlx::query(
        r#"SELECT state, status, body, created_at
        FROM idempotency
        WHERE key = $1
        FOR UPDATE"#,
    )
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status: Option<i64> = row.try_get(1).map_err(db_err)?;
    Ok(Some((
        row.try_get(0).map_err(db_err)?,
        status.and_then(|s| u16::try_from(s).ok()),
        row.try_get(2).map_err(db_err)?,
        row.try_get(3).map_err(db_err)?,
    )))
}

pub(crate) async fn idempotency_complete(
    pool: &PgPool,
    key: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<()> {
    sqlx::query(
        r#"UPDATE idempotency
        SET state = 'done', status = $1, body = $2
        WHERE key = $3"#,
    )
    .bind(i64::from(status))
    .bind(body)
    .bind(key)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn idempotency_abandon(pool: &PgPool, key: &str) -> StoreResult<()> {
    sqlx::query(
        r#"DELETE FROM idempotency
        WHERE key = $1 AND state = 'started'"#,
    )
    .bind(key)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn idempotency_purge(pool: &PgPool, expire_before: Millis) -> StoreResult<u64> {
    let done = sqlx::query(
        r#"DELETE FROM idempotency
        WHERE created_at < $1"#,
    )
    .bind(expire_before)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}
