//! Attempts: listing with Svix's filters, lookup and expunging response bodies.

use rustyhook_core::id::{AppId, AttemptId, MessageId};
use rustyhook_core::model::Attempt;
use sqlx::PgPool;

use super::apps::change_one;
use super::conn::db_err;
use super::list::{DIALECT, PgPage};
use crate::page::{Listed, Page};
use crate::query::attempts_of_app;
use crate::rows::{self, ATTEMPT_COLS};
use crate::{AttemptFilter, StoreResult};

pub(crate) async fn list(
    pool: &PgPool,
    app: &AppId,
    f: AttemptFilter,
    page: &Page,
) -> StoreResult<Listed<Attempt>> {
    attempts_of_app(ATTEMPT_COLS, app, f, &DIALECT)
        .page(pool, "a.id", page, rows::attempt)
        .await
}

pub(crate) async fn get(pool: &PgPool, msg: &MessageId, id: &str) -> StoreResult<Option<Attempt>> {
    let sql = format!("SELECT {ATTEMPT_COLS}\nFROM attempts a\nWHERE a.msg_id = $1 AND a.id = $2");
    let row = sqlx::query(&sql)
        .bind(msg.as_str())
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::attempt).transpose()
}

pub(crate) async fn expunge(pool: &PgPool, id: &AttemptId) -> StoreResult<()> {
    change_one(
        pool,
        r#"UPDATE attempts
        SET response = NULL
        WHERE id = $1"#,
        id.as_str(),
    )
    .await
}
