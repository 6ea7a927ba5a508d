//! Stats over time on PostgreSQL: a tally applied as one additive upsert statement inside the
//! caller's transaction, the series read, the queue sampled, old buckets purged.
//!
//! Every write of every node adds to the server's current minute row, so one row would make
//! their transactions queue on its lock until each commits. Each transaction therefore adds
//! to one of [`SHARDS`] rows of a bucket, chosen round-robin; reads add the shards up.

use std::sync::atomic::{AtomicI64, Ordering};

use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::Millis;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::conn::db_err;
use crate::stats::{Tally, counter_columns, counters, counts_from, series_sql, top_sql};
use crate::{QueueNow, StoreResult};

/// Rows one bucket of one scope is spread over.
const SHARDS: i64 = 8;

/// The next shard this process writes to; only spreads writes, so a plain counter will do.
static NEXT_SHARD: AtomicI64 = AtomicI64::new(0);

/// The statement [`apply`] runs, made once (it runs for every write).
fn apply_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = counter_columns();
        let n = cols.len();
        let arrays: Vec<String> = (0..n).map(|i| format!("${}::BIGINT[]", i + 6)).collect();
        let adds: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = stats.{c} + EXCLUDED.{c}"))
            .collect();
        format!(
            "INSERT INTO stats (scope, scope_id, width, start_at, shard, {cols}, depth, oldest_pending_ms)\n\
             SELECT u.scope, u.scope_id, u.width, u.start_at, $5, {picked}, u.depth, u.oldest\n\
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], {arrays},\n\
                 ${d}::BIGINT[], ${o}::BIGINT[])\n\
                 AS u (scope, scope_id, width, start_at, {cols}, depth, oldest)\n\
             ON CONFLICT (scope, scope_id, width, start_at, shard) DO UPDATE\n\
             SET {adds},\n\
                 depth = GREATEST(stats.depth, EXCLUDED.depth),\n\
                 oldest_pending_ms = GREATEST(stats.oldest_pending_ms, EXCLUDED.oldest_pending_ms)",
            cols = cols.join(", "),
            picked = cols
                .iter()
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            arrays = arrays.join(", "),
            adds = adds.join(", "),
            d = n + 6,
            o = n + 7,
        )
    })
}

/// Adds the tally's increments to their rows in one statement (each column bound as an
/// array). The rows come in key order, so concurrent transactions lock them in one order.
pub(crate) async fn apply(conn: &mut PgConnection, tally: &Tally) -> StoreResult<()> {
    if tally.is_empty() {
        return Ok(());
    }
    let cols = counter_columns();
    let shard = NEXT_SHARD
        .fetch_add(1, Ordering::Relaxed)
        .rem_euclid(SHARDS);
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    let mut widths = Vec::new();
    let mut starts = Vec::new();
    let mut columns: Vec<Vec<i64>> = vec![Vec::new(); cols.len()];
    let mut depths = Vec::new();
    let mut oldest = Vec::new();
    for (key, c) in tally.rows() {
        kinds.push(key.scope.kind());
        ids.push(key.scope.id().to_owned());
        widths.push(key.width.millis());
        starts.push(key.start);
        for (column, value) in columns.iter_mut().zip(counters(c)) {
            column.push(value);
        }
        depths.push(c.depth);
        oldest.push(c.oldest_pending_ms);
    }
    let mut q = sqlx::query(apply_sql())
        .bind(kinds)
        .bind(ids)
        .bind(widths)
        .bind(starts)
        .bind(shard);
    for column in columns {
        q = q.bind(column);
    }
    q.bind(depths)
        .bind(oldest)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Reads a row of the series or top query: its key (column 0), then the counts.
fn keyed_counts<K>(r: &PgRow) -> Result<(K, Counts), sqlx::Error>
where
    K: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let n = counter_columns().len();
    let values = (1..=n)
        .map(|i| r.try_get::<i64, _>(i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        r.try_get(0)?,
        counts_from(&values, r.try_get(n + 1)?, r.try_get(n + 2)?),
    ))
}

pub(crate) async fn series(
    pool: &PgPool,
    scope: &Scope,
    width: Width,
    since: Millis,
    until: Millis,
) -> StoreResult<Vec<Bucket>> {
    let rows = sqlx::query(&series_sql(|i| format!("${i}")))
        .bind(scope.kind())
        .bind(scope.id())
        .bind(width.millis())
        .bind(since)
        .bind(until)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| keyed_counts(r).map(|(start, counts)| Bucket { start, counts }))
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}

pub(crate) async fn top(
    pool: &PgPool,
    kind: &str,
    window: (Width, Millis, Millis),
    limit: usize,
) -> StoreResult<Vec<(String, Counts)>> {
    let (width, since, until) = window;
    let rows = sqlx::query(&top_sql(|i| format!("${i}")))
        .bind(kind)
        .bind(width.millis())
        .bind(since)
        .bind(until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(keyed_counts)
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}

pub(crate) async fn queue_now(conn: &mut PgConnection) -> StoreResult<QueueNow> {
    let row = sqlx::query(
        r#"SELECT COUNT(*), MIN(created_at)
        FROM deliveries
        WHERE status IN ('pending', 'failed')"#,
    )
    .fetch_one(conn)
    .await
    .map_err(db_err)?;
    Ok(QueueNow {
        depth: row.try_get(0).map_err(db_err)?,
        oldest_created_at: row.try_get(1).map_err(db_err)?,
    })
}

pub(crate) async fn sample(pool: &PgPool, now: Millis) -> StoreResult<QueueNow> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let queue = queue_now(&mut tx).await?;
    let mut tally = Tally::default();
    tally.sample(queue.depth, queue.oldest_age(now), now);
    apply(&mut tx, &tally).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(queue)
}

pub(crate) async fn purge(pool: &PgPool, width: Width, before: Millis) -> StoreResult<u64> {
    sqlx::query(
        r#"DELETE FROM stats
        WHERE width = $1 AND start_at < $2"#,
    )
    .bind(width.millis())
    .bind(before)
    .execute(pool)
    .await
    .map(|done| done.rows_affected())
    .map_err(db_err)
}
