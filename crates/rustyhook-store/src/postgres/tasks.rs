//! Background tasks on PostgreSQL: an endpoint's recover and replay, each recorded as a
//! finished task in the transaction that does its work, which also tells the other nodes when
//! it made deliveries due.

use rustyhook_core::model::Endpoint;
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::conn::{DUE_CHANNEL, db_err, notify};
use super::deliveries::recover_in;
use super::list::{DIALECT, PgPage, execute};
use crate::page::{Listed, Page};
use crate::query::{self, Replay};
use crate::rows::{self, TASK_COLS, to_json};
use crate::task::{BackgroundTask, TaskFilter, TaskKind};
use crate::{StoreResult, Target, rules};

async fn insert(conn: &mut PgConnection, t: &BackgroundTask) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO background_tasks ({TASK_COLS})\nVALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(t.id.as_str())
    .bind(t.app_id.as_str())
    .bind(t.kind.as_str())
    .bind(t.status.as_str())
    .bind(to_json(&t.data))
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn get(pool: &PgPool, id: &str) -> StoreResult<Option<BackgroundTask>> {
    sqlx::query(&format!(
        "SELECT {TASK_COLS}\nFROM background_tasks\nWHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(rows::task)
    .transpose()
}

pub(crate) async fn list(
    pool: &PgPool,
    filter: TaskFilter,
    page: &Page,
) -> StoreResult<Listed<BackgroundTask>> {
    query::tasks(filter)
        .page(pool, "id", page, rows::task)
        .await
}

pub(crate) async fn recover_endpoint(
    pool: &PgPool,
    endpoint: &Endpoint,
    since: Millis,
    until: Option<Millis>,
    now: Millis,
) -> StoreResult<BackgroundTask> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let target = Target::Endpoint(endpoint.id.clone());
    let n = recover_in(&mut tx, &target, since, until, now).await?;
    let task = rules::finished_task(&endpoint.app_id, TaskKind::EndpointRecover, n, now);
    record(tx, task, n > 0).await
}

pub(crate) async fn replay_missing(
    pool: &PgPool,
    replay: &Replay<'_>,
) -> StoreResult<BackgroundTask> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let n = match query::replay_missing(replay, &DIALECT) {
        Some(statement) => execute(&mut tx, statement).await?,
        None => 0,
    };
    let task = rules::finished_task(
        &replay.endpoint.app_id,
        TaskKind::EndpointReplay,
        n,
        replay.now,
    );
    record(tx, task, n > 0).await
}

/// Stores the task in the transaction that did its work, tells the other nodes if that work
/// made deliveries due, and commits.
async fn record(
    mut tx: Transaction<'_, Postgres>,
    task: BackgroundTask,
    made_due: bool,
) -> StoreResult<BackgroundTask> {
    insert(&mut tx, &task).await?;
    if made_due {
        notify(&mut tx, DUE_CHANNEL).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(task)
}

pub(crate) async fn purge(pool: &PgPool, before: Millis) -> StoreResult<u64> {
    sqlx::query(
        r#"DELETE FROM background_tasks
        WHERE created_at < $1"#,
    )
    .bind(before)
    .execute(pool)
    .await
    .map(|done| done.rows_affected())
    .map_err(db_err)
}
