//! Stats over time on PostgreSQL: a write's tally appended to `stats_pending` inside the
//! caller's transaction and folded into `stats` (every second, and before a read), the series
//! read, the queue sampled, old buckets purged.
//!
//! Adding to `stats` in the write itself made every transaction look up, lock and rewrite the
//! rows of its buckets (the server's minute and hour rows are in every write): measured with
//! `pg_stat_statements`, that upsert was the costliest statement of the write path. Now a write
//! appends one row, its [`Tally`] encoded, to `stats_pending`: a table without indexes, that no
//! two writes touch the same row of. A message appends it in the statement that inserts its
//! deliveries ([`Tally::pending_row`]): even a cheap statement's round trip measured a few percent of
//! end-to-end delivery. Each node runs [`fold`] every [`FOLD_EVERY`], and each read
//! runs it first: it deletes every pending row and adds their sum to `stats`, in one transaction,
//! one fold at a time across the nodes (an advisory lock). A write is counted once from its
//! commit on: a read folds after the commits it follows, and a fold that fails leaves every
//! pending row in place.

use std::time::Duration;

use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::Millis;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;

use super::conn::db_err;
use crate::stats::{Tally, counter_columns, counters, counts_from, series_sql, top_sql};
use crate::{QueueNow, StoreResult};

/// How often each node folds `stats_pending` into `stats`.
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// The advisory lock (transaction-scoped) a fold holds, so that nodes fold one at a time:
/// "rhstfold" in ASCII.
const FOLD_LOCK: i64 = 0x7268_7374_666f_6c64;

/// Appends the tally's increments to `stats_pending`, as one row.
pub(crate) async fn apply(conn: &mut PgConnection, tally: &Tally) -> StoreResult<()> {
    let Some(row) = tally.pending_row() else {
        return Ok(());
    };
    sqlx::query(
        r#"INSERT INTO stats_pending (tally)
        VALUES ($1)"#,
    )
    .bind(row)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The statement [`add`] runs, made once.
fn add_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = counter_columns();
        let n = cols.len();
        let arrays: Vec<String> = (0..n).map(|i| format!("${}::BIGINT[]", i + 5)).collect();
        let adds: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = stats.{c} + EXCLUDED.{c}"))
            .collect();
        format!(
            "INSERT INTO stats (scope, scope_id, width, start_at, shard, {cols}, depth, oldest_pending_ms)\n\
             SELECT u.scope, u.scope_id, u.width, u.start_at, 0, {picked}, u.depth, u.oldest\n\
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
            d = n + 5,
            o = n + 6,
        )
    })
}

/// Adds the tally's increments to their rows of `stats` in one statement (each column bound
/// as an array). Only a fold writes there, and on shard 0: the shards of earlier versions,
/// which spread writers over several rows of a bucket, are still added up by reads.
async fn add(conn: &mut PgConnection, tally: &Tally) -> StoreResult<()> {
    if tally.is_empty() {
        return Ok(());
    }
    let cols = counter_columns();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    let mut widths = Vec::new();
    let mut starts = Vec::new();
    let mut columns: Vec<Vec<i64>> = vec![Vec::new(); cols.len()];
    let mut depths = Vec::new();
    let mut oldest = Vec::new();
    for (key, c) in &tally.buckets() {
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
    let mut q = sqlx::query(add_sql())
        .bind(kinds)
        .bind(ids)
        .bind(widths)
        .bind(starts);
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

/// Whether a fold waits for another node's to finish, or leaves the work to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Before a read: every write committed before it must be in `stats`.
    Wait,
    /// In the background: the fold running now takes what is pending.
    Skip,
}

/// Moves every pending increment into `stats`, in one transaction. With [`Fold::Skip`], does
/// nothing while another fold runs.
pub(crate) async fn fold(pool: &PgPool, how: Fold) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let lock = match how {
        Fold::Wait => "SELECT pg_advisory_xact_lock($1) IS NOT NULL",
        Fold::Skip => "SELECT pg_try_advisory_xact_lock($1)",
    };
    let locked: bool = sqlx::query_scalar(lock)
        .bind(FOLD_LOCK)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if !locked {
        return Ok(());
    }
    let pending: Vec<String> = sqlx::query_scalar(
        r#"DELETE FROM stats_pending
        RETURNING tally"#,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    if pending.is_empty() {
        return Ok(());
    }
    add(&mut tx, &Tally::sum_of_pending(&pending)?).await?;
    tx.commit().await.map_err(db_err)
}

/// Folds every [`FOLD_EVERY`] until `stop`. A failure (the database away) is logged once, and
/// folding goes on when it can: what waits is kept, and reads fold it first.
pub(crate) async fn keep_folding(pool: PgPool, stop: CancellationToken) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(FOLD_EVERY) => {}
        }
        match fold(&pool, Fold::Skip).await {
            Ok(()) if failing => {
                tracing::info!("folding pending stats again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "could not fold pending stats; they wait in the database");
                failing = true;
            }
            Err(_) => {}
        }
    }
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
    fold(pool, Fold::Wait).await?;
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
    fold(pool, Fold::Wait).await?;
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

/// Deletes the `width` buckets that start before `before`, folding what is pending first (it
/// may add to them).
pub(crate) async fn purge(pool: &PgPool, width: Width, before: Millis) -> StoreResult<u64> {
    fold(pool, Fold::Wait).await?;
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
