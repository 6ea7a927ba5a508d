//! API tokens and the audit log, on PostgreSQL. A request's token is found by one query on the
//! unique index of its hash, with no cache: a revocation holds at once on every node, for the
//! cost of one indexed lookup per request made with a non-admin token.

use sqlx::PgPool;

use super::conn::db_err;
use super::list::PgPage;
use crate::access::{self, AUDIT_COLS, TOKEN_COLS};
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::{ApiToken, AuditEntry, AuditFilter, StoreError, StoreResult};
use rustyhook_core::time::Millis;

pub(crate) async fn insert_token(pool: &PgPool, t: &ApiToken) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO api_tokens ({TOKEN_COLS})\nVALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&t.id)
    .bind(&t.name)
    .bind(t.role.as_str())
    .bind(t.app_id.as_ref().map(|a| a.as_str()))
    .bind(t.read_only)
    .bind(&t.token_hash)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.last_used_at)
    .bind(t.revoked_at)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn token_where(
    pool: &PgPool,
    column: &str,
    value: &str,
) -> StoreResult<Option<ApiToken>> {
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLS}\nFROM api_tokens\nWHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.as_ref().map(access::token).transpose()
}

pub(crate) async fn list_tokens(pool: &PgPool, page: &Page) -> StoreResult<Listed<ApiToken>> {
    Query::new(format!("SELECT {TOKEN_COLS}\nFROM api_tokens"))
        .page(pool, "id", page, access::token)
        .await
}

pub(crate) async fn revoke(pool: &PgPool, id: &str, now: Millis) -> StoreResult<()> {
    let done = sqlx::query(
        r#"UPDATE api_tokens
        SET revoked_at = COALESCE(revoked_at, $1)
        WHERE id = $2"#,
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn touch(pool: &PgPool, id: &str, now: Millis) -> StoreResult<()> {
    sqlx::query(
        r#"UPDATE api_tokens
        SET last_used_at = $1
        WHERE id = $2"#,
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn insert_audit(pool: &PgPool, entries: &[AuditEntry]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&AuditEntry) -> String| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query(&format!(
        "INSERT INTO audit_log ({AUDIT_COLS})\n\
         SELECT *\n\
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], \
         $7::BIGINT[], $8::BIGINT[])"
    ))
    .bind(column(|e| e.id.clone()))
    .bind(column(|e| e.actor.clone()))
    .bind(column(|e| e.method.clone()))
    .bind(column(|e| e.route.clone()))
    .bind(column(|e| e.resource.clone()))
    .bind(column(|e| e.address.clone()))
    .bind(
        entries
            .iter()
            .map(|e| i64::from(e.status))
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn list_audit(
    pool: &PgPool,
    filter: AuditFilter,
    page: &Page,
) -> StoreResult<Listed<AuditEntry>> {
    access::audit_query(filter)
        .page(pool, "id", page, access::audit)
        .await
}

pub(crate) async fn purge_audit(pool: &PgPool, before: Millis) -> StoreResult<u64> {
    let done = sqlx::query(
        r#"DELETE FROM audit_log
        WHERE created_at < $1"#,
    )
    .bind(before)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}
