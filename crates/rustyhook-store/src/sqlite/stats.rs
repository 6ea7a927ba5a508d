//! Stats over time on SQLite: increments counted by the write job that makes them, summed per
//! group commit and appended to `stats_pending` as one row just before its COMMIT (so in the
//! transaction of what they count), folded into `stats` about once a second and before every
//! read or purge; the series read, the queue sampled, old buckets purged. One writer, so every
//! row is shard 0.
//!
//! Adding a group's increments to their rows of `stats` instead (an upsert per scope and
//! bucket, six for a message to one endpoint) took about a seventh of the writer thread's CPU,
//! the one thread every write queues on. With one appended row per group and one fold a
//! second, end-to-end delivery measured within a few percent of what it was before stats were
//! kept (docs/operations.md, "What that costs, measured").

use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::Millis;

use super::conn::db_err;
use crate::stats::{Tally, counter_columns, counters, counts_from, series_sql, top_sql};
use crate::{QueueNow, StoreResult};

/// How often the writer folds `stats_pending` into `stats` while it writes.
const FOLD_EVERY: Duration = Duration::from_secs(1);

// Every write runs as a job on the one writer thread (see `conn`): its increments are summed
// per group commit there and appended once, just before the COMMIT, rather than once per write.
thread_local! {
    /// The running job's increments, kept only if the job succeeds.
    static JOB: std::cell::RefCell<Tally> = std::cell::RefCell::new(Tally::default());
    /// The group's increments from the jobs that succeeded.
    static GROUP: std::cell::RefCell<Tally> = std::cell::RefCell::new(Tally::default());
    /// When the writer last folded, and whether that fold failed (its failure is logged once).
    static FOLDED: std::cell::Cell<(Option<Instant>, bool)> = const { std::cell::Cell::new((None, false)) };
}

/// Ends the running job: its increments join the group's if it succeeded, else are dropped.
pub(crate) fn job_done(succeeded: bool) {
    let job = JOB.with(|j| std::mem::take(&mut *j.borrow_mut()));
    if succeeded && !job.is_empty() {
        GROUP.with(|g| g.borrow_mut().merge(job));
    }
}

/// Appends the group's increments (before its COMMIT), or drops them (`write` false: the
/// group is rolled back). Then, once [`FOLD_EVERY`] has passed since the last fold, folds what
/// is pending, in a savepoint of its own: a fold that fails is undone alone, logged, and
/// leaves the rows to the next one (a read's fold reports the error).
pub(crate) fn group_done(conn: &Connection, write: bool) -> StoreResult<()> {
    let group = GROUP.with(|g| std::mem::take(&mut *g.borrow_mut()));
    if !write {
        return Ok(());
    }
    append(conn, &group)?;
    let (last, failing) = FOLDED.with(std::cell::Cell::get);
    if last.is_some_and(|at| at.elapsed() < FOLD_EVERY) {
        return Ok(());
    }
    let folded = super::conn::in_savepoint(conn, fold);
    match &folded {
        Ok(()) if failing => tracing::info!("folding pending stats again"),
        Err(e) if !failing => {
            tracing::warn!(error = %e, "could not fold pending stats; they wait in the database")
        }
        _ => {}
    }
    FOLDED.with(|f| f.set((Some(Instant::now()), folded.is_err())));
    match folded {
        // SQLite rolled the whole transaction back under it (a full disk, an I/O error): the
        // group is lost, and its jobs must hear so.
        Err(e) if conn.is_autocommit() => Err(e),
        _ => Ok(()),
    }
}

/// Counts the tally's increments with the running write job's: they are appended with its
/// group's at the group's end, if the job succeeds.
pub(crate) fn apply(tally: &Tally) {
    if !tally.is_empty() {
        JOB.with(|j| j.borrow_mut().merge_ref(tally));
    }
}

/// Appends the tally to `stats_pending`, as one row.
fn append(conn: &Connection, tally: &Tally) -> StoreResult<()> {
    if let Some(row) = tally.pending_row() {
        conn.prepare_cached("INSERT INTO stats_pending (tally) VALUES (?)")
            .and_then(|mut s| s.execute([row]))
            .map_err(db_err)?;
    }
    Ok(())
}

/// Moves every pending increment into `stats`: deletes the pending rows and adds their sum,
/// in the caller's transaction, so a count is in one of the two tables at every commit.
pub(crate) fn fold(conn: &Connection) -> StoreResult<()> {
    let pending = conn
        .prepare_cached("DELETE FROM stats_pending RETURNING tally")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_err)?;
    upsert(conn, &Tally::sum_of_pending(&pending)?)
}

/// The statement adding one row's increments, made once.
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
    apply(&tally);
    Ok(queue)
}

/// Deletes the `width` buckets that start before `before`, folding what is pending first (it
/// may add to them).
pub(crate) fn purge(conn: &Connection, width: Width, before: Millis) -> StoreResult<u64> {
    fold(conn)?;
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
                db.write(move |_| {
                    let mut tally = Tally::default();
                    tally.source("orders", SourceTaken::Stored, at);
                    super::apply(&tally);
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
        db.write(super::fold).await.expect("fold");
        let (sum, rows) = db.read(stored).await.expect("read");
        assert_eq!(
            sum, 45,
            "each write that committed is counted once, a failed one not at all"
        );
        assert_eq!(rows, 1, "one row per scope and bucket");
    }
}
