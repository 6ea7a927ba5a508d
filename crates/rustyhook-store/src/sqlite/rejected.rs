//! Broker messages that could not be stored, kept for the operator.

use rusqlite::{Connection, params};

use super::conn::db_err;
use super::list::SqlitePage;
use crate::page::{Listed, Page};
use crate::query::Query;
use crate::rows::{self, REJECTED_COLS};
use crate::stats::{SourceTaken, Tally};
use crate::{RejectedMessage, StoreResult};

pub(crate) fn insert(conn: &Connection, r: &RejectedMessage) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO rejected_messages ({REJECTED_COLS})\nVALUES (?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            r.id,
            r.source,
            r.broker_id,
            r.reason,
            r.body,
            r.created_at
        ])
    })
    .map_err(db_err)?;
    let mut tally = Tally::default();
    tally.source(&r.source, SourceTaken::Rejected, r.created_at);
    super::stats::apply(&tally);
    Ok(())
}

pub(crate) fn list(
    conn: &Connection,
    source: Option<String>,
    page: &Page,
) -> StoreResult<Listed<RejectedMessage>> {
    Query::new(format!("SELECT {REJECTED_COLS} FROM rejected_messages"))
        .and_opt("source = ?", source)
        .page(conn, "id", page, |r| rows::rejected(r))
}
