//! The SQLite connections: one writer thread that commits queued jobs in groups, and a pool of
//! reader connections (WAL lets reads run beside the writer).
//!
//! Group commit: the writer takes every job waiting in its queue (up to [`MAX_BATCH`]), runs each
//! inside its own savepoint so one job's failure does not undo the others, then commits once. A
//! job's caller hears back only after that commit, so "returned Ok" always means "durable". With
//! many concurrent writers this turns one fsync per write into one per batch.
//!
//! Some errors (a full disk, an I/O error, no memory) can make SQLite roll back the whole
//! transaction, not only the failed statement. The writer checks after each job: once the
//! transaction is gone, the jobs run in it are told they failed (their writes were undone) and
//! the jobs not yet run wait for the next group. Run outside a transaction, each of them would
//! commit on its own and then hear the group's failure, and a caller that tries again would
//! apply its write twice.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::{StoreError, StoreResult};

/// Most jobs committed together.
const MAX_BATCH: usize = 1024;
/// Reader connections. Each is opened once and kept: opening one parses the schema, which under
/// load cost more than the queries themselves.
const READERS: usize = 4;

/// A failed commit, as every job of its group hears it.
#[derive(Debug, Clone)]
struct CommitFailed {
    full: bool,
    text: String,
}

impl CommitFailed {
    fn of(e: &rusqlite::Error) -> Self {
        Self {
            full: is_full(e),
            text: e.to_string(),
        }
    }

    /// SQLite rolled the group's transaction back while running a job that failed with `e`.
    fn rolled_back(e: &StoreError) -> Self {
        Self {
            full: matches!(e, StoreError::Full(_)),
            text: format!("the transaction was rolled back by an error: {e}"),
        }
    }

    fn into_store_error(self) -> StoreError {
        if self.full {
            StoreError::Full(self.text.into())
        } else {
            StoreError::Database(self.text.into())
        }
    }
}

type Reply = Box<dyn FnOnce(Result<(), CommitFailed>) + Send>;
/// A queued write: run on the writer connection, it returns how to answer its caller once the
/// group's fate is known, and, when SQLite rolled the whole transaction back under it, why.
type Job = Box<dyn FnOnce(&Connection) -> (Reply, Option<CommitFailed>) + Send>;

/// Maps a SQLite error, turning unique violations into [`StoreError::Conflict`] and a full disk
/// into [`StoreError::Full`].
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        return StoreError::Conflict(msg.clone().unwrap_or_else(|| "constraint".into()));
    }
    if is_full(&e) {
        return StoreError::Full(Box::new(e));
    }
    StoreError::Database(Box::new(e))
}

/// SQLITE_FULL: SQLite's answer when a write to the database, its WAL or a temporary file
/// fails for want of space (ENOSPC).
fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

/// How the database file is opened.
#[derive(Debug, Clone)]
pub(crate) struct ConnOptions {
    pub path: PathBuf,
    /// `synchronous=FULL` (durable on power loss) unless false.
    pub full_sync: bool,
}

fn open(opts: &ConnOptions, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(&opts.path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let sync = if opts.full_sync { "FULL" } else { "NORMAL" };
    // Page cache in KiB: the writer touches the hot indexes on every commit; readers share the
    // OS page cache, so a smaller cache each keeps memory bounded (5 connections in all).
    let cache_kib = if read_only { 8_000 } else { 32_000 };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};"
    ))?;
    Ok(conn)
}

/// The writer thread's handle and the reader pool.
pub(crate) struct Db {
    jobs: mpsc::UnboundedSender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per connection in `readers`: a read waits for a free connection.
    reader_permits: Arc<Semaphore>,
}

/// A reader connection taken from the pool, with its permit. Dropping it puts the connection
/// back before the permit is released, wherever the drop happens: on the blocking thread when
/// the read ends, panicked or not, even when the request that asked for it was dropped
/// meanwhile (a client that went away). Without that, each cancelled read would lose a
/// connection while freeing its permit, until a permit found the pool empty.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A poisoned lock still holds a usable pool: only a push or pop ran under it.
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            pool.push(conn);
        }
    }
}

impl Db {
    /// Opens the database, runs `init` on the writer connection, and starts the writer thread.
    /// `on_rollback` runs on the writer thread whenever a group commit fails.
    pub fn open(
        path: &Path,
        full_sync: bool,
        init: impl FnOnce(&Connection) -> StoreResult<()>,
        on_rollback: impl Fn() + Send + 'static,
    ) -> StoreResult<Self> {
        let opts = ConnOptions {
            path: path.to_path_buf(),
            full_sync,
        };
        let writer = open(&opts, false).map_err(db_err)?;
        init(&writer)?;
        let (jobs, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("rustyhook-sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx, on_rollback))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let readers = (0..READERS)
            .map(|_| open(&opts, true))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?;
        Ok(Self {
            jobs,
            readers: Arc::new(Mutex::new(readers)),
            reader_permits: Arc::new(Semaphore::new(READERS)),
        })
    }

    /// Runs `f` in the next group commit and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            super::stats::job_done(result.is_ok());
            // Outside a transaction now: SQLite rolled back the group's, not just this job's.
            let lost = match &result {
                Err(e) if conn.is_autocommit() => Some(CommitFailed::rolled_back(e)),
                _ => None,
            };
            let reply: Reply = Box::new(move |commit: Result<(), CommitFailed>| {
                let outcome = match (commit, result) {
                    (Ok(()), r) => r,
                    (Err(e), _) => Err(e.into_store_error()),
                };
                let _ = tx.send(outcome);
            });
            (reply, lost)
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        match rx.await {
            Ok(outcome) => outcome,
            // The writer dropped the job unrun: it could not begin a transaction.
            Err(_) if !self.jobs.is_closed() => Err(StoreError::Unavailable(
                "the database could not begin a transaction".into(),
            )),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// Runs `f` on a reader connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let conn = self
            .readers
            .lock()
            .expect("reader pool lock")
            .pop()
            .expect("a permit guarantees a free reader connection");
        let lease = Lease {
            conn: Some(conn),
            pool: self.readers.clone(),
            _permit: permit,
        };
        tokio::task::spawn_blocking(move || {
            let conn = lease.conn.as_ref().expect("a lease holds its connection");
            f(conn)
        })
        .await
        .map_err(|e| StoreError::Database(Box::new(e)))?
    }
}

pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    // Cached statements: these run twice per job, and parsing them each time showed in profiles.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("SAVEPOINT job").map_err(db_err)?;
    match f(conn) {
        Ok(v) => {
            run("RELEASE job").map_err(db_err)?;
            Ok(v)
        }
        Err(e) => {
            let _ = run("ROLLBACK TO job");
            let _ = run("RELEASE job");
            Err(e)
        }
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::UnboundedReceiver<Job>, on_rollback: impl Fn()) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Jobs a rolled-back group did not run, first in the next group.
    let mut carried: VecDeque<Job> = VecDeque::new();
    loop {
        let first = match carried.pop_front() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match carried.pop_front().map(Ok).unwrap_or_else(|| rx.try_recv()) {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            tracing::error!(error = %msg, "sqlite writer could not begin a transaction");
            for job in batch.drain(..) {
                // Each job still needs an answer; run nothing and report the failure.
                drop(job);
            }
            continue;
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
        let mut lost = None;
        let mut jobs = batch.drain(..);
        for job in jobs.by_ref() {
            let (reply, rolled_back) = job(&conn);
            replies.push(reply);
            if rolled_back.is_some() {
                lost = rolled_back;
                break;
            }
        }
        carried.extend(jobs);
        // The group's counts are written unless it is already lost.
        let stats = super::stats::group_done(&conn, lost.is_none());
        let lost = match (lost, stats) {
            (Some(lost), _) => Some(lost),
            (None, Ok(())) => None,
            (None, Err(e)) => {
                let _ = conn.execute_batch("ROLLBACK");
                Some(CommitFailed::rolled_back(&e))
            }
        };
        let commit = match lost {
            Some(lost) => {
                on_rollback();
                tracing::error!(error = %lost.text, "sqlite rolled back a group commit");
                Err(lost)
            }
            None => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                on_rollback();
                tracing::error!(error = %e, "sqlite group commit failed");
                CommitFailed::of(&e)
            }),
        };
        metrics::histogram!("rustyhook_store_commit_batch_size").record(replies.len() as f64);
        for reply in replies {
            reply(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Db, READERS};
    use crate::StoreError;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_grouped_with_one_that_lost_the_transaction_is_told_the_truth() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(
            &dir.path().join("db.sqlite"),
            false,
            |conn| {
                conn.execute_batch("CREATE TABLE t (v INTEGER)")
                    .map_err(super::db_err)
            },
            || {},
        )
        .expect("the database opens");
        let db = std::sync::Arc::new(db);
        // Holds the writer, so the next two writes are queued and run in one group.
        let (started, start) = std::sync::mpsc::channel::<()>();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |_| {
                    started.send(()).expect("test waits");
                    wait.recv().expect("test releases");
                    Ok(())
                })
                .await
            }
        });
        tokio::task::spawn_blocking(move || start.recv().expect("the blocker runs"))
            .await
            .expect("join");
        // What SQLite does on a full disk or an I/O error mid-statement: the whole transaction
        // is rolled back, not only the statement.
        let failing = db.write(|conn| {
            conn.execute_batch("INSERT INTO t VALUES (1); ROLLBACK")
                .map_err(super::db_err)?;
            Err::<(), _>(StoreError::Full("disk full".into()))
        });
        let other = db.write(|conn| {
            conn.execute("INSERT INTO t VALUES (2)", [])
                .map_err(super::db_err)
        });
        let (mut failing, mut other) = (Box::pin(failing), Box::pin(other));
        // A write's first poll queues its job: polled once each, in this order, the failing
        // one is queued first (two spawned tasks could be queued either way round, and with
        // the other first the rollback takes it along, a different case).
        std::future::poll_fn(|cx| {
            assert!(failing.as_mut().poll(cx).is_pending(), "queued, not run");
            assert!(other.as_mut().poll(cx).is_pending(), "queued, not run");
            std::task::Poll::Ready(())
        })
        .await;
        go.send(()).expect("blocker waits");
        blocker
            .await
            .expect("join")
            .expect("the blocker's group commits");
        assert!(
            matches!(failing.await, Err(StoreError::Full(_))),
            "the job that lost the transaction is told the disk is full"
        );
        let told = other.await;
        let stored: Vec<i64> = db
            .read(|conn| {
                let mut s = conn.prepare("SELECT v FROM t").map_err(super::db_err)?;
                let rows = s.query_map([], |r| r.get(0)).map_err(super::db_err)?;
                rows.collect::<Result<_, _>>().map_err(super::db_err)
            })
            .await
            .expect("read");
        assert_eq!(
            told.is_ok(),
            stored == [2],
            "the other write was told {told:?} but the table holds {stored:?}: told failed, it must not be stored; told done, it must be"
        );
        assert!(
            told.is_ok(),
            "the other write runs in the next group and commits"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_whose_caller_went_away_gives_its_connection_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(&dir.path().join("db.sqlite"), false, |_| Ok(()), || {})
            .expect("the database opens");
        // Dropped before they end, as a server drops a request whose client went away.
        for _ in 0..READERS * 2 {
            let slow = db.read(|_| {
                std::thread::sleep(Duration::from_millis(30));
                Ok(())
            });
            let _ = tokio::time::timeout(Duration::from_millis(1), slow).await;
        }
        // Every connection is back: as many reads at once as there are readers, twice over.
        let db = std::sync::Arc::new(db);
        for _ in 0..2 {
            let mut reads = tokio::task::JoinSet::new();
            for _ in 0..READERS {
                let db = db.clone();
                reads.spawn(async move {
                    db.read(|conn| {
                        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                            .map_err(super::db_err)
                    })
                    .await
                });
            }
            while let Some(got) = reads.join_next().await {
                assert_eq!(got.expect("no panic").expect("the read runs"), 1);
            }
        }
    }
}
