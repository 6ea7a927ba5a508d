//! The nodes sharing the database: each records a heartbeat, and any node releases the leases
//! of one that stopped beating (crashed, or cut off), so its deliveries and runs are taken up
//! by the living.

use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool};

use super::conn::{DUE_CHANNEL, db_err, notify};
use crate::{Beat, StoreResult};

/// The database's clock in milliseconds: the one clock every node's liveness is judged by.
pub(crate) const DB_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Writes `node`'s heartbeat at the database's time. `known` is false when there was no row:
/// the node's first beat, or it had been taken for dead and forgotten.
pub(crate) async fn heartbeat(pool: &PgPool, node: &str) -> StoreResult<Beat> {
    let sql = format!(
        r#"INSERT INTO nodes (id, started_at, heartbeat_at)
        VALUES ($1, {DB_NOW}, {DB_NOW})
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
        RETURNING heartbeat_at, xmax::TEXT <> '0'"#
    );
    let (at, known): (i64, bool) = sqlx::query_as(&sql)
        .bind(node)
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
    Ok(Beat { at, known })
}

/// Releases the leases of dead nodes (a heartbeat older than `timeout` by the database's clock,
/// or none at all) and forgets them, in one transaction. Every row is locked with `SKIP LOCKED`: a lease row that a
/// live node is recording right now, or that another reaper has taken, is left alone, so two
/// nodes reaping at once release each lease once between them.
pub(crate) async fn release_dead(pool: &PgPool, timeout: Millis) -> StoreResult<u64> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let now: i64 = sqlx::query_scalar(&format!("SELECT {DB_NOW}"))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let dead_before = now - timeout;
    let released = release_leases_of_dead(&mut tx, dead_before).await?;
    sqlx::query(
        r#"DELETE FROM nodes
        WHERE id IN (
            SELECT id
            FROM nodes
            WHERE heartbeat_at < $1
            FOR UPDATE SKIP LOCKED
        )"#,
    )
    .bind(dead_before)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if released > 0 {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)?;
    if released > 0 {
        tracing::info!(released, "released the leases of dead nodes");
    }
    Ok(released)
}

/// Clears the lease of every delivery and run leased to a dead node (a run that was running is
/// due again, as on a restart); rows locked by anyone else are skipped.
///
/// Two steps, so the common case stays cheap on a large table: the owners of leased rows are
/// read through the partial index on leased rows (only work in flight is leased), and only
/// when one of them is dead are its rows updated, by owner, through the same index.
async fn release_leases_of_dead(conn: &mut PgConnection, dead_before: Millis) -> StoreResult<u64> {
    let dead: Vec<String> = sqlx::query_scalar(
        r#"SELECT DISTINCT t.lease_owner
        FROM deliveries t
        WHERE t.lease_owner IS NOT NULL
          AND NOT EXISTS (
            SELECT 1
            FROM nodes n
            WHERE n.id = t.lease_owner AND n.heartbeat_at >= $1
          )"#,
    )
    .bind(dead_before)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if dead.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        r#"UPDATE deliveries
        SET lease_owner = NULL,
            status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
        WHERE id IN (
            SELECT t.id
            FROM deliveries t
            WHERE t.lease_owner = ANY($1)
            FOR UPDATE SKIP LOCKED
        )"#,
    )
    .bind(&dead)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}
