//! Runs a shared [`Query`]'s page, or a shared [`Statement`], on SQLite: a list of values gets
//! one `?` per value.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::conn::db_err;
use crate::StoreResult;
use crate::page::{Listed, Page};
use crate::query::{Arg, Dialect, Query, Statement, render_marks};

/// How SQLite writes the shared filters' conditions.
pub(crate) const DIALECT: Dialect = Dialect {
    channels_hold: "EXISTS (SELECT 1 FROM json_each(m.channels) WHERE json_each.value = ?)",
    tags_hold: "EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value = ?)",
};

/// A [`Query`] run as one page on a SQLite connection.
pub(crate) trait SqlitePage {
    /// Runs the query as one page ordered by `column`.
    fn page<T>(
        self,
        conn: &Connection,
        column: &str,
        page: &Page,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<Listed<T>>;
}

impl SqlitePage for Query {
    fn page<T>(
        self,
        conn: &Connection,
        column: &str,
        page: &Page,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<Listed<T>> {
        let paged = self.paged(column, page);
        let (sql, params) = bound(&paged.sql, paged.args);
        let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = stmt
            .query_map(params_from_iter(params), map)
            .map_err(db_err)?
            .collect::<Result<Vec<T>, _>>()
            .map_err(db_err)?;
        Ok(Listed::from_fetched(rows, page, paged.reverse))
    }
}

/// Runs a statement that changes rows; returns how many it changed.
pub(crate) fn execute(conn: &Connection, statement: Statement) -> StoreResult<u64> {
    let (sql, params) = bound(&statement.sql, statement.args);
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params_from_iter(params)))
        .map(|n| n as u64)
        .map_err(db_err)
}

/// Runs a statement that reads rows.
pub(crate) fn select<T>(
    conn: &Connection,
    statement: Statement,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let (sql, params) = bound(&statement.sql, statement.args);
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    stmt.query_map(params_from_iter(params), map)
        .map_err(db_err)?
        .collect::<Result<Vec<T>, _>>()
        .map_err(db_err)
}

/// `sql` with one mark per value, and the values in order.
fn bound(sql: &str, args: Vec<Arg>) -> (String, Vec<Value>) {
    let sql = render_marks(sql, &args, |out, arg| match arg {
        Arg::TextList(vs) => out.push_str(&vec!["?"; vs.len()].join(", ")),
        Arg::Text(_) | Arg::Int(_) => out.push('?'),
    });
    let params = args
        .into_iter()
        .flat_map(|arg| match arg {
            Arg::Text(v) => vec![Value::Text(v)],
            Arg::Int(v) => vec![Value::Integer(v)],
            Arg::TextList(vs) => vs.into_iter().map(Value::Text).collect(),
        })
        .collect();
    (sql, params)
}
