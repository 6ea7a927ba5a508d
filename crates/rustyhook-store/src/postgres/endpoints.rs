//! Endpoints and their delivery statistics.

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_core::model::Endpoint;
use rustyhook_core::operational::OperationalKind;
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Row};

use super::apps::found;
use super::conn::db_err;
use super::list::{PgPage, PgQuery};
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, ENDPOINT_COLS, seal_headers, seal_secrets, to_json};
use crate::{EndpointStats, StoreResult, rules};

/// Binds an endpoint's settings, `uid` to `max_in_flight` in [`ENDPOINT_COLS`] order, with its
/// secrets sealed.
fn bind_settings<'q>(query: PgQuery<'q>, ep: &'q Endpoint, sbox: &SecretBox) -> PgQuery<'q> {
    query
        .bind(ep.uid.as_ref().map(|u| u.as_str()))
        .bind(&ep.url)
        .bind(&ep.description)
        .bind(i64::from(ep.version))
        .bind(ep.disabled)
        .bind(ep.rate_limit.map(i64::from))
        .bind(ep.filter_types.as_ref().map(to_json))
        .bind(ep.channels.as_ref().map(to_json))
        .bind(to_json(&ep.metadata))
        .bind(seal_headers(&ep.headers, sbox))
        .bind(seal_secrets(&ep.secrets, sbox))
        .bind(ep.header_style.map(|h| h.as_str()))
        .bind(i64::from(ep.max_in_flight))
}

pub(crate) async fn insert(
    conn: &mut PgConnection,
    ep: &Endpoint,
    sbox: &SecretBox,
) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO endpoints ({ENDPOINT_COLS})\n\
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    let query = sqlx::query(&sql)
        .bind(ep.id.as_str())
        .bind(ep.app_id.as_str());
    bind_settings(query, ep, sbox)
        .bind(ep.created_at)
        .bind(ep.updated_at)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn update(
    conn: &mut PgConnection,
    ep: &Endpoint,
    sbox: &SecretBox,
) -> StoreResult<()> {
    let query = sqlx::query(
        r#"UPDATE endpoints
        SET uid = $1, url = $2, description = $3, version = $4, disabled = $5, rate_limit = $6,
            filter_types = $7, channels = $8, metadata = $9, headers = $10, secrets = $11,
            header_style = $12, max_in_flight = $13, updated_at = $14
        WHERE id = $15"#,
    );
    let done = bind_settings(query, ep, sbox)
        .bind(ep.updated_at)
        .bind(ep.id.as_str())
        .execute(conn)
        .await
        .map_err(db_err)?;
    found(done.rows_affected())
}

pub(crate) async fn get(
    pool: &PgPool,
    app: &AppId,
    id_or_uid: &str,
    sbox: &SecretBox,
) -> StoreResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE app_id = $1 AND (id = $2 OR uid = $2)\n\
         ORDER BY id = $2 DESC\nLIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(app.as_str())
        .bind(id_or_uid)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.map(|r| rows::endpoint_at(&r, 0, sbox)).transpose()
}

pub(crate) async fn get_by_id(
    pool: &PgPool,
    id: &EndpointId,
    sbox: &SecretBox,
) -> StoreResult<Option<Endpoint>> {
    let sql = format!("SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.map(|r| rows::endpoint_at(&r, 0, sbox)).transpose()
}

/// Every enabled endpoint of an app, read inside the message's transaction: several nodes
/// change endpoints, so no node may keep a copy.
pub(crate) async fn enabled_of_app(
    conn: &mut PgConnection,
    app: &AppId,
    sbox: &SecretBox,
) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLS}\nFROM endpoints\nWHERE app_id = $1 AND NOT disabled\nORDER BY id"
    );
    let found = sqlx::query(&sql)
        .bind(app.as_str())
        .fetch_all(conn)
        .await
        .map_err(db_err)?;
    found
        .iter()
        .map(|r| rows::endpoint_at(r, 0, sbox))
        .collect()
}

pub(crate) async fn list(
    pool: &PgPool,
    app: &AppId,
    page: &Page,
    sbox: &SecretBox,
) -> StoreResult<Listed<Endpoint>> {
    Query::new(format!("SELECT {ENDPOINT_COLS}\nFROM endpoints"))
        .and("app_id = ?", [app.as_str().into()])
        .page(pool, "id", page, |r| rows::endpoint_at(r, 0, sbox))
        .await
}

/// Cancels the endpoint's outstanding deliveries and deletes it, queuing `endpoint.deleted`, in
/// one transaction.
pub(crate) async fn delete(
    pool: &PgPool,
    id: &EndpointId,
    now: Millis,
    sbox: &SecretBox,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(
        r#"UPDATE deliveries
        SET status = 'canceled', next_attempt_at = NULL, lease_owner = NULL, updated_at = $1
        WHERE endpoint_id = $2 AND status IN ('pending', 'failed', 'sending')"#,
    )
    .bind(now)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let sql = format!("DELETE FROM endpoints\nWHERE id = $1\nRETURNING {ENDPOINT_COLS}");
    let gone = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let Some(gone) = gone else {
        return found(0);
    };
    let gone = rows::endpoint_at(&gone, 0, sbox)?;
    let deleted = [OperationalKind::EndpointDeleted];
    super::operational::endpoint_events(&mut tx, &deleted, &gone, now).await?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn stats(
    pool: &PgPool,
    id: &EndpointId,
    since: Option<Millis>,
    until: Option<Millis>,
) -> StoreResult<EndpointStats> {
    let found = sqlx::query(
        r#"SELECT status, COUNT(*)
        FROM deliveries
        WHERE endpoint_id = $1 AND created_at >= $2 AND created_at < $3
        GROUP BY status"#,
    )
    .bind(id.as_str())
    .bind(since.unwrap_or(0))
    .bind(until.unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let counts = found
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()
        .map_err(db_err)?;
    Ok(rules::endpoint_stats(counts))
}
