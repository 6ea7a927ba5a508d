//! The one queue: deliveries to endpoints and handler runs, in `deliveries`. A row is due when
//! it is leased to no one, pending or failed (a retry), and its next attempt is at or before
//! now; claiming leases due rows under `FOR UPDATE SKIP LOCKED`, so rows another node is
//! claiming at the same moment are skipped rather than waited for, and no row is claimed twice.
//! Rows a pause holds back are not due (see [`crate::pause`]).

use rustyhook_core::time::Millis;
use sqlx::PgPool;

use super::conn::db_err;
use crate::pause::NOT_PAUSED;
use crate::rows::{self, DUE_COLS};
use crate::{Due, Lease, StoreResult};

/// Leases up to `limit` rows due at `now` under `lease`, earliest due first, each read with its
/// message when it has one.
pub(crate) async fn claim(
    pool: &PgPool,
    lease: &Lease,
    now: Millis,
    limit: usize,
) -> StoreResult<Vec<Due>> {
    let sql = format!(
        r#"WITH d AS (
            UPDATE deliveries
            SET lease_owner = $1, lease_claim = $4
            WHERE id IN (
                SELECT d.id
                FROM deliveries d
                WHERE d.lease_owner IS NULL
                  AND d.status IN ('pending', 'failed')
                  AND d.next_attempt_at <= $2
                  AND {NOT_PAUSED}
                ORDER BY d.next_attempt_at, d.id
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
        )
        SELECT {DUE_COLS}
        FROM d
        LEFT JOIN messages m ON m.id = d.msg_id
        ORDER BY d.next_attempt_at, d.id"#
    );
    let found = sqlx::query(&sql)
        .bind(&lease.node)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(lease.claim)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    found.iter().map(rows::due).collect()
}

/// The earliest time an unleased row falls due, if any.
pub(crate) async fn next_due(pool: &PgPool) -> StoreResult<Option<Millis>> {
    sqlx::query_scalar(&format!(
        "SELECT MIN(d.next_attempt_at)\n\
         FROM deliveries d\n\
         WHERE d.lease_owner IS NULL\n\
           AND d.status IN ('pending', 'failed')\n\
           AND {NOT_PAUSED}"
    ))
    .fetch_one(pool)
    .await
    .map_err(db_err)
}
