//! Stats over time on SQLite: increments counted by the write job that makes them, folded per
//! group commit and written just before its COMMIT (so in the transaction of what they count,
//! and one upsert per row a group touches rather than one per write), the series read, the
//! queue sampled, old buckets purged. One writer, so every row is shard 0.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use crate::stats::{Tally, counter_columns, counters, counts_from, series_sql, top_sql};
use crate::{QueueNow, StoreResult};

thread_local! {
    /// On the writer thread: increments are folded per group commit and written once, just
    /// before its COMMIT, rather than one upsert per write.
    static DEFERRING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The running job's increments, kept only if the job succeeds.
    static JOB: std::cell::RefCell<Tally> = std::cell::RefCell::new(Tally::default());
    /// The group's increments from the jobs that succeeded.
    static GROUP: std::cell::RefCell<Tally> = std::cell::RefCell::new(Tally::default());
}

/// Makes this thread (the writer) fold increments per group commit.
pub(crate) fn defer_on_this_thread() {
    DEFERRING.with(|d| d.set(true));
}

/// Ends the running job: its increments join the group's if it succeeded, else are dropped.
pub(crate) fn job_done(succeeded: bool) {
    let job = JOB.with(|j| std::mem::take(&mut *j.borrow_mut()));
    if succeeded && !job.is_empty() {
        GROUP.with(|g| g.borrow_mut().merge(job));
    }
}

/// Writes the group's increments (before its COMMIT), or drops them (`write` false: the
/// group is rolled back).
pub(crate) fn group_done(conn: &Connection, write: bool) -> StoreResult<()> {
    let group = GROUP.with(|g| std::mem::take(&mut *g.borrow_mut()));
    if write { upsert(conn, &group) } else { Ok(()) }
}

/// Adds the tally's increments to their rows: on the writer, at the group's end; elsewhere
/// now, one upsert per (scope, bucket).
pub(crate) fn apply(conn: &Connection, tally: &Tally) -> StoreResult<()> {
    if tally.is_empty() {
        return Ok(());
    }
    if DEFERRING.with(std::cell::Cell::get) {
        JOB.with(|j| j.borrow_mut().merge_ref(tally));
        return Ok(());
    }
    upsert(conn, tally)
}

/// The statement adding one row's increments, made once (it runs for every group commit).
fn upsert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = counter_columns();
        let marks = vec!["?"; cols.len()].join(", ");
        let adds: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = {c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO stats (scope, scope_id, width, start_at, shard, {cols}, depth, oldest_pending_ms)\n\
             VALUES (?, ?, ?, ?, 0, {marks}, ?, ?)\n\
             ON CONFLICT (scope, scope_id, width, start_at, shard) DO UPDATE\n\
             SET {adds},\n\
                 depth = MAX(COALESCE(depth, excluded.depth), COALESCE(excluded.depth, depth)),\n\
                 oldest_pending_ms = MAX(COALESCE(oldest_pending_ms, excluded.oldest_pending_ms),\n\
                     COALESCE(excluded.oldest_pending_ms, oldest_pending_ms))",
            cols = cols.join(", "),
            adds = adds.join(", ")
        )
    })
}

fn upsert(conn: &Connection, tally: &Tally) -> StoreResult<()> {
    if tally.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(upsert_sql()).map_err(db_err)?;
    for (key, c) in &tally.buckets() {
        let mut values: Vec<Value> = vec![
            key.scope.kind().to_owned().into(),
            key.scope.id().to_owned().into(),
            key.width.millis().into(),
            key.start.into(),
        ];
        values.extend(counters(c).into_iter().map(Value::from));
        values.push(c.depth.into());
        values.push(c.oldest_pending_ms.into());
        stmt.execute(params_from_iter(values)).map_err(db_err)?;
    }
    Ok(())
}

/// Reads a row of the series or top query: its key (column 0), then the counts.
fn keyed_counts<K: rusqlite::types::FromSql>(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(K, Counts)> {
    let n = counter_columns().len();
    let values = (1..=n)
        .map(|i| r.get::<_, i64>(i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        r.get(0)?,
        counts_from(&values, r.get(n + 1)?, r.get(n + 2)?),
    ))
}

pub(crate) fn series(
    conn: &Connection,
    scope: &Scope,
    width: Width,
    since: Millis,
    until: Millis,
) -> StoreResult<Vec<Bucket>> {
    let mut stmt = conn
        .prepare_cached(&series_sql(|_| "?".into()))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![scope.kind(), scope.id(), width.millis(), since, until],
            |r| keyed_counts(r).map(|(start, counts)| Bucket { start, counts }),
        )
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

pub(crate) fn top(
    conn: &Connection,
    kind: &str,
    window: (Width, Millis, Millis),
    limit: usize,
) -> StoreResult<Vec<(String, Counts)>> {
    let (width, since, until) = window;
    let mut stmt = conn
        .prepare_cached(&top_sql(|_| "?".into()))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![kind, width.millis(), since, until, limit as i64],
            keyed_counts,
        )
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

pub(crate) fn queue_now(conn: &Connection) -> StoreResult<QueueNow> {
    conn.query_row(
        r#"SELECT COUNT(*), MIN(created_at)
        FROM deliveries
        WHERE status IN ('pending', 'failed')"#,
        [],
        |r| {
            Ok(QueueNow {
                depth: r.get(0)?,
                oldest_created_at: r.get(1)?,
            })
        },
    )
    .map_err(db_err)
}

pub(crate) fn sample(conn: &Connection, now: Millis) -> StoreResult<QueueNow> {
    let queue = queue_now(conn)?;
    let mut tally = Tally::default();
    tally.sample(queue.depth, queue.oldest_age(now), now);
    apply(conn, &tally)?;
    Ok(queue)
}

pub(crate) fn purge(conn: &Connection, width: Width, before: Millis) -> StoreResult<u64> {
    conn.execute(
        r#"DELETE FROM stats
        WHERE width = ? AND start_at < ?"#,
        params![width.millis(), before],
    )
    .map(|n| n as u64)
    .map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::super::conn::{Db, db_err};
    use crate::StoreError;
    use crate::stats::{SourceTaken, Tally};

    /// `stored` summed over the source's minute rows.
    fn stored(conn: &rusqlite::Connection) -> crate::StoreResult<(i64, i64)> {
        conn.query_row(
            "SELECT COALESCE(SUM(stored), 0), COUNT(*) FROM stats WHERE scope = 'source' AND scope_id = 'orders' AND width = 60000",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_writes_a_group_s_increments_once_and_drops_a_failed_job_s() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = std::sync::Arc::new(
            Db::open(
                &dir.path().join("db.sqlite"),
                false,
                super::super::schema::migrate,
                || {},
            )
            .expect("the database opens"),
        );
        let at = 1_700_000_000_000;
        let count = |fail: bool| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |conn| {
                    let mut tally = Tally::default();
                    tally.source("orders", SourceTaken::Stored, at);
                    super::apply(conn, &tally)?;
                    if fail {
                        return Err(StoreError::Conflict("this write fails".into()));
                    }
                    Ok(())
                })
                .await
            })
        };
        // Sent at once, so most share group commits with one another.
        let writes: Vec<_> = (0..50).map(|n| count(n % 10 == 3)).collect();
        let mut failed = 0;
        for w in writes {
            failed += usize::from(w.await.expect("join").is_err());
        }
        assert_eq!(failed, 5);
        let (sum, rows) = db.read(stored).await.expect("read");
        assert_eq!(
            sum, 45,
            "each write that committed is counted once, a failed one not at all"
        );
        assert_eq!(rows, 1, "one row per scope and bucket");
    }
}
