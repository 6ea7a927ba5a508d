//! Deliveries: the one queue, of deliveries to endpoints and of handler runs alike. Claiming
//! due work, recording attempts, leases, resend and recover.
//!
//! A delivery is "leased" while a node's dispatcher holds it in memory (`lease_owner` set). Only
//! unleased, due deliveries are claimed, and claiming locks the rows it takes with
//! `FOR UPDATE SKIP LOCKED`, so two nodes never claim the same delivery.

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::MessageId;
use rustyhook_core::model::{Attempt, Delivery, Endpoint, Message};
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool};

use super::conn::{DUE_CHANNEL, db_err, notify};
use super::list::PgPage;
use super::queue;
use crate::dead::{self, DeadDialect, DeadLetter, DeadLetterFilter, DeadPage};
use crate::page::{Listed, Order, Page};
use crate::query::Statement;
use crate::query::deliveries_of_message;
use crate::rows;
use crate::rules::target_column;
use crate::stats::Tally;
use crate::{AttemptRecord, Attempted, Due, Lease, StoreResult, Target, WorkId, rules};

/// Leases up to `limit` due deliveries and runs to `node` in one statement.
pub(crate) async fn claim_due(
    pool: &PgPool,
    lease: &Lease,
    now: Millis,
    limit: usize,
) -> StoreResult<Vec<Due>> {
    queue::claim(pool, lease, now, limit).await
}

pub(crate) async fn next_due(pool: &PgPool) -> StoreResult<Option<Millis>> {
    queue::next_due(pool).await
}

/// Stores the attempts and moves their deliveries (and runs) on, in one transaction. An
/// endpoint's attempt is one statement of data-modifying CTEs (the attempt's insert, the
/// delivery's update, the endpoint's disabling); a run's adds its follow-ups and exports. The
/// batch's stats are one more statement.
pub(crate) async fn record_attempts(pool: &PgPool, records: &[AttemptRecord]) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut failing = crate::operational::FailingChanges::default();
    let mut tally = Tally::default();
    for rec in records {
        tally.attempt(rec);
        match &rec.attempt {
            Attempted::Endpoint(a) => {
                let attempts = record_endpoint_attempt(&mut tx, rec, a).await?;
                if attempts.is_some() {
                    failing.note(a);
                }
                super::operational::after_endpoint_attempt(&mut tx, rec, a, attempts).await?;
            }
            Attempted::Handler {
                attempt,
                follow_ups,
                exports,
            } => {
                // A late result of a node taken for dead is kept, but what follows is left to
                // the node that holds the run now.
                if super::runs::record(&mut tx, rec, attempt).await? {
                    super::runs::follow_on(&mut tx, attempt, follow_ups, exports).await?;
                    super::operational::after_run_attempt(&mut tx, rec, attempt).await?;
                }
            }
        }
    }
    super::operational::apply_failing(&mut tx, failing).await?;
    super::stats::apply(&mut tx, &tally).await?;
    tx.commit().await.map_err(db_err)
}

/// Stores an endpoint attempt and moves its delivery on. Returns the delivery's attempts so far,
/// or `None` when it is leased to another node now (the attempt is kept, the delivery left as
/// it is).
async fn record_endpoint_attempt(
    conn: &mut PgConnection,
    rec: &AttemptRecord,
    a: &Attempt,
) -> StoreResult<Option<u32>> {
    let attempts: Option<i64> = sqlx::query_scalar(
        r#"WITH attempt AS (
            INSERT INTO attempts (id, delivery_id, msg_id, endpoint_id, app_id, url, outcome,
                status_code, response, duration_ms, trigger_type, created_at, request_headers)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $17)
        ),
        delivery AS (
            UPDATE deliveries
            SET status = $13, attempts = attempts + 1, next_attempt_at = $14, manual = FALSE,
                lease_owner = NULL, updated_at = $12
            WHERE id = $2
              AND ($16::TEXT IS NULL OR lease_owner IS NULL
                OR (lease_owner = $16 AND lease_claim = $18))
            RETURNING attempts
        ),
        gone AS (
            UPDATE endpoints
            SET disabled = TRUE, updated_at = $12
            WHERE id = $4 AND $15
        )
        SELECT attempts
        FROM delivery"#,
    )
    .bind(a.id.as_str())
    .bind(a.delivery_id.as_str())
    .bind(a.msg_id.as_str())
    .bind(a.endpoint_id.as_str())
    .bind(a.app_id.as_str())
    .bind(&a.url)
    .bind(a.outcome.as_str())
    .bind(i64::from(a.status_code))
    .bind(&a.response)
    .bind(a.duration_ms)
    .bind(a.trigger as i64)
    .bind(a.created_at)
    .bind(rec.status.as_str())
    .bind(rec.next_attempt_at)
    .bind(rec.disable_endpoint)
    .bind(rec.leased_to.as_ref().map(|l| l.node.as_str()))
    .bind(a.request_headers.as_ref().map(rows::to_json))
    .bind(rec.leased_to.as_ref().map(|l| l.claim))
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(attempts.map(|n| n as u32))
}

/// Gives work back, each under the claim it is held by: a run that was running is pending
/// again; with `due_at`, it falls due then.
pub(crate) async fn release(
    pool: &PgPool,
    node: &str,
    work: &[(WorkId, i64)],
    due_at: Option<Millis>,
) -> StoreResult<()> {
    let ids: Vec<&str> = work.iter().map(|(id, _)| id.as_str()).collect();
    let claims: Vec<i64> = work.iter().map(|(_, claim)| *claim).collect();
    let mut tx = pool.begin().await.map_err(db_err)?;
    let done = sqlx::query(
        r#"UPDATE deliveries d
        SET lease_owner = NULL,
            next_attempt_at = COALESCE($3, d.next_attempt_at),
            status = CASE d.status WHEN 'sending' THEN 'pending' ELSE d.status END
        FROM UNNEST($1::TEXT[], $4::BIGINT[]) AS w (id, claim)
        WHERE d.id = w.id AND d.lease_owner = $2 AND d.lease_claim = w.claim"#,
    )
    .bind(&ids)
    .bind(node)
    .bind(due_at)
    .bind(&claims)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() > 0 {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)
}

/// Schedules a manual attempt as SQLite does: the existing unleased delivery is made due now; a
/// leased one is left to its dispatcher; a missing one is created (if another node creates it
/// at the same moment, theirs stands).
pub(crate) async fn resend(
    pool: &PgPool,
    msg: &Message,
    endpoint: &Endpoint,
    now: Millis,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let changed = sqlx::query(
        r#"UPDATE deliveries
        SET status = 'pending', next_attempt_at = $1, manual = TRUE, updated_at = $1
        WHERE msg_id = $2 AND endpoint_id = $3 AND lease_owner IS NULL"#,
    )
    .bind(now)
    .bind(msg.id.as_str())
    .bind(endpoint.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    let due = changed > 0 || {
        let d = rules::resend_delivery(msg, endpoint, now);
        sqlx::query(
            r#"INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts,
                next_attempt_at, manual, lease_owner, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, 0, $6, TRUE, NULL, $6, $6)
            ON CONFLICT (msg_id, endpoint_id) DO NOTHING"#,
        )
        .bind(d.id.as_str())
        .bind(d.msg_id.as_str())
        .bind(d.endpoint_id.as_str())
        .bind(d.app_id.as_str())
        .bind(d.status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0
    };
    if due {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn recover(
    pool: &PgPool,
    target: &Target,
    since: Millis,
    until: Option<Millis>,
    now: Millis,
) -> StoreResult<u64> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let n = recover_in(&mut tx, target, since, until, now).await?;
    if n > 0 {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(n)
}

/// Makes the target's dead work created in `[since, until)` due at `now` as manual attempts,
/// on `conn` (the caller's transaction, which notifies the other nodes). Returns how many.
pub(crate) async fn recover_in(
    conn: &mut PgConnection,
    target: &Target,
    since: Millis,
    until: Option<Millis>,
    now: Millis,
) -> StoreResult<u64> {
    let (column, id) = target_column(target);
    let sql = format!(
        r#"UPDATE deliveries
        SET status = 'pending', next_attempt_at = $1, manual = TRUE, updated_at = $1
        WHERE {column} = $2
          AND status = 'dead'
          AND lease_owner IS NULL
          AND created_at >= $3
          AND created_at < $4"#
    );
    sqlx::query(&sql)
        .bind(now)
        .bind(id)
        .bind(since)
        .bind(until.unwrap_or(i64::MAX))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(db_err)
}

/// How PostgreSQL reads a run's event type.
pub(crate) const DEAD_DIALECT: DeadDialect = DeadDialect {
    run_event_type: "(d.event::jsonb ->> 'type')",
};

/// One page of dead letters (see [`crate::dead`]).
pub(crate) async fn list_dead(
    pool: &PgPool,
    filter: DeadLetterFilter,
    page: &DeadPage,
) -> StoreResult<Listed<DeadLetter>> {
    let (statement, reverse) = dead::list(filter, page, &DEAD_DIALECT);
    let rows = super::list::select(pool, statement, dead::dead_letter).await?;
    Ok(Listed::from_fetched(
        rows,
        &Page::first(page.limit, Order::Descending),
        reverse,
    ))
}

/// Runs a statement that makes work due (a bulk recover or resend) and wakes the other nodes
/// when it did. Returns how many rows it changed.
pub(crate) async fn requeue(pool: &PgPool, statement: Statement) -> StoreResult<u64> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let n = super::list::execute(&mut tx, statement).await?;
    if n > 0 {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(n)
}

pub(crate) async fn list_for_message(
    pool: &PgPool,
    msg: &MessageId,
    page: &Page,
    sbox: &SecretBox,
) -> StoreResult<Listed<(Delivery, Endpoint)>> {
    deliveries_of_message(msg)
        .page(pool, "e.id", page, |r| {
            let endpoint = rows::endpoint_at(r, 9, sbox)?;
            Ok((rows::delivery_at(r, 0)?, endpoint))
        })
        .await
}
