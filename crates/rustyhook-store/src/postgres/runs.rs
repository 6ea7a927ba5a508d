//! Handler runs: deliveries whose target is a handler step, in the one queue (claimed, leased
//! and released in [`super::deliveries`]). What only runs have lives here: keyed and
//! scheduled creation, a run's attempts and what follows them, dependencies, backlog counts
//! and exports.
//!
//! A run is `sending` while its command runs. Runs of a node that dies go back to `pending`
//! when another node reaps it ([`super::nodes`]).

use rustyhook_core::id::RunId;
use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Row};

use super::apps;
use super::conn::{DUE_CHANNEL, db_err, notify};
use super::list::PgPage;
use crate::page::{Listed, Page};
use crate::query;
use crate::rows::{self, RUN_COLS, to_json};
use crate::stats::Tally;
use crate::{AttemptRecord, Lease, OpenRuns, StoreResult, rules};

/// Inserts runs, one statement each, and counts them in the stats, inside the caller's
/// transaction.
async fn insert_each(
    conn: &mut PgConnection,
    runs: &[Run],
    lease: Option<&Lease>,
) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO deliveries ({RUN_COLS}, lease_owner, lease_claim)\n\
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    for r in runs {
        sqlx::query(&sql)
            .bind(r.id.as_str())
            .bind(&r.handler_id)
            .bind(r.step.as_str())
            .bind(r.status.as_str())
            .bind(i64::from(r.attempts))
            .bind(r.next_attempt_at)
            .bind(&r.triggered_by)
            .bind(r.parent_id.as_ref().map(|p| p.as_str()))
            .bind(to_json(&r.event))
            .bind(r.exit_code.map(i64::from))
            .bind(&r.output)
            .bind(r.created_at)
            .bind(r.updated_at)
            .bind(lease.map(|l| l.node.as_str()))
            .bind(lease.map(|l| l.claim))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    let mut tally = Tally::default();
    tally.runs(runs);
    super::stats::apply(conn, &tally).await
}

/// Inserts runs and, when they are unleased, wakes the nodes that run them.
async fn insert_due(
    conn: &mut PgConnection,
    runs: &[Run],
    lease: Option<&Lease>,
) -> StoreResult<()> {
    insert_each(conn, runs, lease).await?;
    if lease.is_none() && !runs.is_empty() {
        notify(conn, DUE_CHANNEL).await?;
    }
    Ok(())
}

pub(crate) async fn create(pool: &PgPool, runs: &[Run], lease: Option<&Lease>) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    insert_due(&mut tx, runs, lease).await?;
    tx.commit().await.map_err(db_err)
}

/// Stores a tick's runs unless the tick stored under `key` is as late or later; see
/// [`crate::Store::create_tick_runs`]. The key's row is created if absent, then locked, so of
/// two nodes storing the same tick the second waits for the first and then finds it stored.
pub(crate) async fn create_tick(
    pool: &PgPool,
    key: &str,
    tick: Millis,
    runs: &[Run],
    lease: Option<&Lease>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let created = sqlx::query(
        r#"INSERT INTO meta (key, value)
        VALUES ($1, $2)
        ON CONFLICT (key) DO NOTHING"#,
    )
    .bind(key)
    .bind(tick.to_string())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if created.rows_affected() == 0 {
        let current: Option<String> = sqlx::query_scalar(
            r#"SELECT value
            FROM meta
            WHERE key = $1
            FOR UPDATE"#,
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if !rules::tick_is_new(current.as_deref(), tick) {
            return Ok(false);
        }
        apps::set_meta(&mut *tx, key, &tick.to_string()).await?;
    }
    insert_due(&mut tx, runs, lease).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Stores `run` under `key` unless a run already is; see [`crate::Store::create_keyed_run`].
/// The run goes in first (the key refers to it), then the key; when the key is taken the
/// transaction is rolled back, run and wake-up (a `NOTIFY` is sent only on commit) and all. Of
/// two nodes inserting one key, the second's insert waits for the first to commit and then
/// inserts nothing.
pub(crate) async fn create_keyed(
    pool: &PgPool,
    key: &str,
    run: &Run,
    lease: Option<&Lease>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    insert_due(&mut tx, std::slice::from_ref(run), lease).await?;
    let keyed = sqlx::query(
        r#"INSERT INTO run_keys (key, run_id)
        VALUES ($1, $2)
        ON CONFLICT (key) DO NOTHING"#,
    )
    .bind(key)
    .bind(run.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if keyed.rows_affected() == 0 {
        tx.rollback().await.map_err(db_err)?;
        return Ok(false);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub(crate) async fn get(pool: &PgPool, id: &str) -> StoreResult<Option<Run>> {
    let sql =
        format!("SELECT {RUN_COLS}\nFROM deliveries\nWHERE id = $1 AND handler_id IS NOT NULL");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::run).transpose()
}

pub(crate) async fn list(
    pool: &PgPool,
    handler: Option<String>,
    status: Option<DeliveryStatus>,
    page: &Page,
) -> StoreResult<Listed<Run>> {
    query::runs(handler, status)
        .page(pool, "id", page, rows::run)
        .await
}

pub(crate) async fn list_attempts(
    pool: &PgPool,
    run_id: &RunId,
    page: &Page,
) -> StoreResult<Listed<RunAttempt>> {
    query::run_attempts(run_id)
        .page(pool, "id", page, rows::run_attempt)
        .await
}

pub(crate) async fn start(pool: &PgPool, id: &RunId, now: Millis) -> StoreResult<()> {
    sqlx::query(
        r#"UPDATE deliveries
        SET status = 'sending', updated_at = $1
        WHERE id = $2"#,
    )
    .bind(now)
    .bind(id.as_str())
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Stores a run's attempt (its output in `response`) and moves the run on, inside the
/// caller's transaction. False when the run is leased to another node now (the attempt is kept,
/// the run left as it is).
pub(crate) async fn record(
    conn: &mut PgConnection,
    rec: &AttemptRecord,
    a: &RunAttempt,
) -> StoreResult<bool> {
    let done = sqlx::query(
        r#"WITH attempt AS (
            INSERT INTO attempts (id, delivery_id, handler_id, outcome, exit_code, response,
                duration_ms, created_at, status_code, trigger_type)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0)
        )
        UPDATE deliveries
        SET status = $9, attempts = attempts + 1, next_attempt_at = $10, exit_code = $5,
            output = $6, manual = FALSE, lease_owner = NULL, updated_at = $11
        WHERE id = $2
          AND ($12::TEXT IS NULL OR lease_owner IS NULL
            OR (lease_owner = $12 AND lease_claim = $13))"#,
    )
    .bind(a.id.as_str())
    .bind(a.run_id.as_str())
    .bind(&a.handler_id)
    .bind(a.outcome.as_str())
    .bind(a.exit_code.map(i64::from))
    .bind(&a.output)
    .bind(a.duration_ms)
    .bind(a.created_at)
    .bind(rec.status.as_str())
    .bind(rec.next_attempt_at)
    .bind(a.created_at + a.duration_ms)
    .bind(rec.leased_to.as_ref().map(|l| l.node.as_str()))
    .bind(rec.leased_to.as_ref().map(|l| l.claim))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// What follows a run's attempt, in its transaction: the runs it starts, created unleased, and
/// the values it exports.
pub(crate) async fn follow_on(
    conn: &mut PgConnection,
    a: &RunAttempt,
    follow_ups: &[Run],
    exports: &[(String, String)],
) -> StoreResult<()> {
    insert_due(conn, follow_ups, None).await?;
    if exports.is_empty() {
        return Ok(());
    }
    let (names, values): (Vec<&str>, Vec<&str>) = exports
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .unzip();
    // Later values of a repeated name win, as the same statements one after another would.
    sqlx::query(
        r#"INSERT INTO exports (name, value, run_id, updated_at)
        SELECT DISTINCT ON (e.name) e.name, e.value, $3, $4
        FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS e (name, value, n)
        ORDER BY e.name, e.n DESC
        ON CONFLICT (name) DO UPDATE
        SET value = EXCLUDED.value, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at"#,
    )
    .bind(&names)
    .bind(&values)
    .bind(a.run_id.as_str())
    .bind(a.created_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn busy(pool: &PgPool, handlers: &[String], except: &RunId) -> StoreResult<bool> {
    let row = sqlx::query(
        r#"SELECT EXISTS (
            SELECT 1
            FROM deliveries
            WHERE handler_id = ANY ($1)
              AND status IN ('pending', 'sending', 'failed')
              AND id <> $2
        )"#,
    )
    .bind(handlers)
    .bind(except.as_str())
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    row.try_get(0).map_err(db_err)
}

pub(crate) async fn count_open(pool: &PgPool, handler: &str) -> StoreResult<OpenRuns> {
    let row = sqlx::query(
        r#"SELECT
            COUNT(*) FILTER (WHERE handler_id = $1),
            COUNT(*)
        FROM deliveries
        WHERE handler_id IS NOT NULL AND status IN ('pending', 'sending', 'failed')"#,
    )
    .bind(handler)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    let count = |i: usize| row.try_get::<i64, _>(i).map(|n| n.max(0) as u64);
    Ok(OpenRuns {
        handler: count(0).map_err(db_err)?,
        total: count(1).map_err(db_err)?,
    })
}

pub(crate) async fn exports(pool: &PgPool) -> StoreResult<Vec<(String, String)>> {
    sqlx::query_as(
        r#"SELECT name, value
        FROM exports
        ORDER BY name"#,
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)
}
