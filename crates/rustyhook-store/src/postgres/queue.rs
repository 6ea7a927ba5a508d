//! What deliveries and runs share as queues. A row is due when it is leased to no one, pending
//! or failed (a retry), and its next attempt is at or before now; claiming leases due rows under
//! `FOR UPDATE SKIP LOCKED`, so rows another node is claiming at the same moment are skipped
//! rather than waited for, and no row is claimed twice.

use rustyhook_core::time::Millis;
use sqlx::PgPool;
use sqlx::postgres::PgRow;

use super::conn::db_err;
use crate::StoreResult;

/// A queue table, and how a claim reads it.
pub(crate) struct Queue {
    /// The table.
    pub table: &'static str,
    /// Its alias in the claim, which `returning` may use.
    pub alias: &'static str,
    /// A `FROM …` clause joined to the claimed rows, or empty.
    pub join: &'static str,
    /// `AND …` conditions of that join, or empty.
    pub join_on: &'static str,
}

/// Leases up to `limit` rows of `queue` due at `now` to `node`, earliest due first, and returns
/// the `returning` columns of each, in that order.
pub(crate) async fn claim(
    pool: &PgPool,
    queue: &Queue,
    returning: &str,
    node: &str,
    now: Millis,
    limit: usize,
) -> StoreResult<Vec<PgRow>> {
    let Queue {
        table,
        alias,
        join,
        join_on,
    } = queue;
    let sql = format!(
        r#"WITH claimed AS (
            UPDATE {table} {alias}
            SET lease_owner = $1
            {join}
            WHERE {alias}.id IN (
                SELECT id
                FROM {table}
                WHERE lease_owner IS NULL
                  AND status IN ('pending', 'failed')
                  AND next_attempt_at <= $2
                ORDER BY next_attempt_at, id
                LIMIT $3
                FOR UPDATE SKIP LOCKED
              )
              {join_on}
            RETURNING {returning}
        )
        SELECT *
        FROM claimed
        ORDER BY next_attempt_at, id"#
    );
    sqlx::query(&sql)
        .bind(node)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(db_err)
}

/// The earliest time an unleased row of `queue` falls due, if any.
pub(crate) async fn next_due(pool: &PgPool, queue: &Queue) -> StoreResult<Option<Millis>> {
    let sql = format!(
        r#"SELECT MIN(next_attempt_at)
        FROM {}
        WHERE lease_owner IS NULL AND status IN ('pending', 'failed')"#,
        queue.table
    );
    sqlx::query_scalar(&sql)
        .fetch_one(pool)
        .await
        .map_err(db_err)
}
