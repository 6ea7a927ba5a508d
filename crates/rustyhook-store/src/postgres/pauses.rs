//! Pauses on PostgreSQL: one row per paused target, read by every node's claim. A resume
//! wakes the other nodes, so what the pause held back goes out without waiting for a poll.

use sqlx::PgPool;

use rustyhook_core::time::now_millis;

use super::conn::{DUE_CHANNEL, db_err, notify};
use super::list::execute;
use crate::feed::change_of_endpoint;
use crate::pause::{PAUSE_COLS, Pause, PauseScope, Waiting, waiting_sql};
use crate::rows;
use crate::{StoreError, StoreResult};

/// Stores `pause` unless its target is paused already; returns the pause that holds.
pub(crate) async fn pause(pool: &PgPool, p: &Pause) -> StoreResult<Pause> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let paused = sqlx::query(&format!(
        "INSERT INTO pauses ({PAUSE_COLS})\n\
         VALUES ($1, $2, $3, $4, $5)\n\
         ON CONFLICT (scope, target) DO NOTHING"
    ))
    .bind(p.scope.as_str())
    .bind(&p.target)
    .bind(&p.reason)
    .bind(&p.paused_by)
    .bind(p.paused_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if paused == 1 && p.scope == PauseScope::Endpoint {
        let change = change_of_endpoint(&p.target, "paused", p.reason.as_deref(), p.paused_at);
        execute(&mut tx, change).await?;
    }
    tx.commit().await.map_err(db_err)?;
    sqlx::query(&format!(
        "SELECT {PAUSE_COLS}\nFROM pauses\nWHERE scope = $1 AND target = $2"
    ))
    .bind(p.scope.as_str())
    .bind(&p.target)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(rows::pause)
    .transpose()?
    // Resumed between the two statements: it was paused, and is no longer.
    .ok_or(StoreError::NotFound)
}

/// Deletes the pause of `target`, returning it, and wakes the other nodes if there was one.
pub(crate) async fn resume(
    pool: &PgPool,
    scope: PauseScope,
    target: &str,
) -> StoreResult<Option<Pause>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let lifted = sqlx::query(&format!(
        "DELETE FROM pauses\nWHERE scope = $1 AND target = $2\nRETURNING {PAUSE_COLS}"
    ))
    .bind(scope.as_str())
    .bind(target)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(rows::pause)
    .transpose()?;
    if lifted.is_some() {
        notify(&mut tx, DUE_CHANNEL).await?;
        if scope == PauseScope::Endpoint {
            execute(
                &mut tx,
                change_of_endpoint(target, "resumed", None, now_millis()),
            )
            .await?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(lifted)
}

pub(crate) async fn list(pool: &PgPool) -> StoreResult<Vec<Pause>> {
    sqlx::query(&format!(
        "SELECT {PAUSE_COLS}\nFROM pauses\nORDER BY scope, target"
    ))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(rows::pause)
    .collect()
}

pub(crate) async fn waiting(
    pool: &PgPool,
    scope: PauseScope,
    target: &str,
) -> StoreResult<Waiting> {
    let Some((sql, bound)) = waiting_sql(scope, "$1") else {
        return Ok(Waiting::default());
    };
    let mut query = sqlx::query_as::<_, (i64, Option<i64>)>(&sql);
    if bound {
        query = query.bind(target);
    }
    let (count, oldest) = query.fetch_one(pool).await.map_err(db_err)?;
    Ok(Waiting {
        count: count.max(0) as u64,
        oldest,
    })
}
