//! Runs a shared [`Query`]'s page, or a shared [`Statement`], on PostgreSQL: marks become
//! `$1, $2, …`, and a list of values is bound as one array.

use std::fmt::Write;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, PgPool, Postgres};

use super::conn::db_err;
use crate::StoreResult;
use crate::page::{Listed, Page};
use crate::query::{Arg, Dialect, Query, Statement, render_marks};

/// How PostgreSQL writes the shared filters' conditions.
pub(crate) const DIALECT: Dialect = Dialect {
    channels_hold: "jsonb_exists(m.channels::jsonb, ?)",
    tags_hold: "jsonb_exists(m.tags::jsonb, ?)",
};

/// A [`Query`] run as one page on the pool.
pub(crate) trait PgPage {
    /// Runs the query as one page ordered by `column`.
    async fn page<T>(
        self,
        pool: &PgPool,
        column: &str,
        page: &Page,
        map: impl Fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>>;
}

impl PgPage for Query {
    async fn page<T>(
        self,
        pool: &PgPool,
        column: &str,
        page: &Page,
        map: impl Fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>> {
        let paged = self.paged(column, page);
        let sql = numbered(&paged.sql, &paged.args);
        let rows = bind(sqlx::query(&sql), paged.args)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        let items = rows.iter().map(map).collect::<StoreResult<Vec<T>>>()?;
        Ok(Listed::from_fetched(items, page, paged.reverse))
    }
}

/// Runs a statement that changes rows, on `conn` (a transaction's, typically); returns how
/// many it changed.
pub(crate) async fn execute(conn: &mut PgConnection, statement: Statement) -> StoreResult<u64> {
    let sql = numbered(&statement.sql, &statement.args);
    bind(sqlx::query(&sql), statement.args)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(db_err)
}

/// Runs a statement that reads rows.
pub(crate) async fn select<T>(
    pool: &PgPool,
    statement: Statement,
    map: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let sql = numbered(&statement.sql, &statement.args);
    let rows = bind(sqlx::query(&sql), statement.args)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    rows.iter().map(map).collect()
}

/// A statement being bound.
pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds the values, in order.
fn bind(mut query: PgQuery<'_>, args: Vec<Arg>) -> PgQuery<'_> {
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
            Arg::TextList(v) => query.bind(v),
        };
    }
    query
}

/// The statement with its marks numbered; a list is bound as one `TEXT[]`.
fn numbered(sql: &str, args: &[Arg]) -> String {
    let mut n = 0;
    render_marks(sql, args, |out, arg| {
        n += 1;
        // Writing to a String cannot fail.
        let _ = match arg {
            Arg::TextList(_) => write!(out, "SELECT UNNEST(${n}::TEXT[])"),
            Arg::Text(_) | Arg::Int(_) => write!(out, "${n}"),
        };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_numbered_and_lists_become_arrays() {
        let q = Query::new("SELECT id\nFROM t")
            .and("a = ?", [Arg::from("x")])
            .and_in("b", Some(vec!["y".into(), "z".into()]))
            .and_opt("c > ?", Some(3_i64));
        let paged = q.paged("id", &Page::first(5, crate::Order::Ascending));
        assert_eq!(
            numbered(&paged.sql, &paged.args),
            "SELECT id\nFROM t\nWHERE a = $1\n  AND b IN (SELECT UNNEST($2::TEXT[]))\n  AND c > $3\nORDER BY id ASC\nLIMIT 6"
        );
    }
}
