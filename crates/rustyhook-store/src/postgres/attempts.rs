//! Attempts: listing with Svix's filters, lookup and expunging response bodies.

use rustyhook_core::id::{AppId, AttemptId, MessageId};
use rustyhook_core::model::Attempt;
use sqlx::PgPool;

use super::apps::found;
use super::conn::db_err;
use super::list::Query;
use crate::page::{Listed, Page};
use crate::rows::{self, ATTEMPT_COLS};
use crate::{AttemptFilter, StoreResult};

pub(crate) async fn list(
    pool: &PgPool,
    app: &AppId,
    f: AttemptFilter,
    page: &Page,
) -> StoreResult<Listed<Attempt>> {
    let needs_message = f.channel.is_some() || f.event_types.is_some();
    let from = if needs_message {
        "FROM attempts a\nJOIN messages m ON m.id = a.msg_id"
    } else {
        "FROM attempts a"
    };
    let outcome = f.status.map(|s| match s {
        0 => "a.outcome = 'OK'",
        _ => "a.outcome <> 'OK'",
    });
    let mut q = Query::new(format!("SELECT {ATTEMPT_COLS}\n{from}"))
        .and("a.app_id = ?", [app.as_str().into()])
        .and_opt("a.msg_id = ?", f.msg_id.map(String::from))
        .and_opt("a.endpoint_id = ?", f.endpoint_id.map(String::from))
        .and_opt(
            "jsonb_exists(m.channels::jsonb, ?)",
            f.channel.map(String::from),
        )
        .and_in(
            "m.event_type",
            f.event_types
                .map(|ts| ts.into_iter().map(String::from).collect()),
        )
        .and_opt("a.created_at < ?", f.before)
        .and_opt("a.created_at > ?", f.after);
    if let Some(cond) = outcome {
        q = q.and(cond, []);
    }
    if let Some(class) = f.status_code_class {
        q = if class == 0 {
            q.and("a.status_code = 0", [])
        } else {
            q.and(
                "a.status_code >= ? AND a.status_code < ?",
                [i64::from(class).into(), (i64::from(class) + 100).into()],
            )
        };
    }
    q.page(pool, "a.id", page, rows::attempt).await
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
    let done = sqlx::query(
        r#"UPDATE attempts
        SET response = NULL
        WHERE id = $1"#,
    )
    .bind(id.as_str())
    .execute(pool)
    .await
    .map_err(db_err)?;
    found(done.rows_affected())
}
