//! Broker messages that could not be stored, kept for the operator.

use sqlx::PgPool;

use super::conn::db_err;
use super::list::PgPage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, REJECTED_COLS};
use crate::stats::{SourceTaken, Tally};
use crate::{RejectedMessage, StoreResult};

/// Keeps the message and counts it in its source's stats, in one transaction.
pub(crate) async fn insert(pool: &PgPool, r: &RejectedMessage) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(&format!(
        "INSERT INTO rejected_messages ({REJECTED_COLS})\nVALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&r.id)
    .bind(&r.source)
    .bind(&r.broker_id)
    .bind(&r.reason)
    .bind(&r.body)
    .bind(r.created_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut tally = Tally::default();
    tally.source(&r.source, SourceTaken::Rejected, r.created_at);
    super::stats::apply(&mut tx, &tally).await?;
    tx.commit().await.map_err(db_err)
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
