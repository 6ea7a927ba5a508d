//! Broker messages that could not be stored, kept for the operator.

use sqlx::{PgConnection, PgPool};

use super::conn::db_err;
use super::list::PgPage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, REJECTED_COLS};
use crate::stats::{SourceTaken, Tally};
use crate::{RejectedMessage, StoreResult};

/// Keeps the message and counts it in its source's stats, in the caller's transaction.
pub(crate) async fn insert(conn: &mut PgConnection, r: &RejectedMessage) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO rejected_messages ({REJECTED_COLS})\nVALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&r.id)
    .bind(&r.source)
    .bind(&r.broker_id)
    .bind(&r.reason)
    .bind(&r.body)
    .bind(r.created_at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut tally = Tally::default();
    tally.source(&r.source, SourceTaken::Rejected, r.created_at);
    super::stats::apply(conn, &tally).await
}

pub(crate) async fn list(
    pool: &PgPool,
    source: Option<String>,
    page: &Page,
) -> StoreResult<Listed<RejectedMessage>> {
    Query::new(format!("SELECT {REJECTED_COLS}\nFROM rejected_messages"))
        .and_opt("source = ?", source)
        .page(pool, "id", page, rows::rejected)
        .await
}
