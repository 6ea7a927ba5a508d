//! Background tasks on SQLite: an endpoint's recover and replay, each recorded as a finished
//! task in the write job (one transaction) that does its work.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::model::Endpoint;
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::deliveries;
use super::list::{DIALECT, SqlitePage, execute};
use crate::page::{Listed, Page};
use crate::query::{self, Replay};
use crate::rows::{self, TASK_COLS, to_json};
use crate::task::{BackgroundTask, TaskFilter, TaskKind};
use crate::{StoreResult, Target, rules};

pub(crate) fn insert(conn: &Connection, t: &BackgroundTask) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO background_tasks ({TASK_COLS})\nVALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            t.id.as_str(),
            t.app_id.as_str(),
            t.kind.as_str(),
            t.status.as_str(),
            to_json(&t.data),
            t.created_at,
            t.updated_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn get(conn: &Connection, id: &str) -> StoreResult<Option<BackgroundTask>> {
    conn.prepare_cached(&format!(
        "SELECT {TASK_COLS}\nFROM background_tasks\nWHERE id = ?"
    ))
    .and_then(|mut s| s.query_row([id], |r| rows::task(r)).optional())
    .map_err(db_err)
}

pub(crate) fn list(
    conn: &Connection,
    filter: TaskFilter,
    page: &Page,
) -> StoreResult<Listed<BackgroundTask>> {
    query::tasks(filter).page(conn, "id", page, |r| rows::task(r))
}

pub(crate) fn recover_endpoint(
    conn: &Connection,
    endpoint: &Endpoint,
    since: Millis,
    until: Option<Millis>,
    now: Millis,
) -> StoreResult<BackgroundTask> {
    let target = Target::Endpoint(endpoint.id.clone());
    let n = deliveries::recover(conn, &target, since, until, now)?;
    let task = rules::finished_task(&endpoint.app_id, TaskKind::EndpointRecover, n, now);
    insert(conn, &task)?;
    Ok(task)
}

pub(crate) fn replay_missing(conn: &Connection, replay: &Replay) -> StoreResult<BackgroundTask> {
    let n = match query::replay_missing(replay, &DIALECT) {
        Some(statement) => execute(conn, statement)?,
        None => 0,
    };
    let task = rules::finished_task(
        &replay.endpoint.app_id,
        TaskKind::EndpointReplay,
        n,
        replay.now,
    );
    insert(conn, &task)?;
    Ok(task)
}

pub(crate) fn purge(conn: &Connection, before: Millis) -> StoreResult<u64> {
    conn.execute(
        r#"DELETE FROM background_tasks
        WHERE created_at < ?"#,
        [before],
    )
    .map(|n| n as u64)
    .map_err(db_err)
}
