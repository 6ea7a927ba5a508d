//! One keyset-paginated query builder for every list, so each list only states its filters.
//! Conditions are written with `?` for each value, as SQLite's are, and numbered `$1, $2, …`
//! when the query is built; so no condition may hold a literal `?` (use `jsonb_exists`, not the
//! `?` operator).

use sqlx::PgPool;
use sqlx::postgres::PgRow;

use super::conn::db_err;
use crate::StoreResult;
use crate::page::{Listed, Page};

/// A value bound to a `?`.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// A `TEXT` value.
    Text(String),
    /// A `BIGINT` value.
    Int(i64),
    /// A `TEXT[]` value, for `= ANY (?)`.
    TextList(Vec<String>),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

/// A `SELECT … WHERE …` under construction: conditions and their values.
pub(crate) struct Query {
    select: String,
    conditions: Vec<String>,
    args: Vec<Arg>,
}

impl Query {
    /// Starts from `SELECT cols FROM tables` with no conditions.
    pub fn new(select: impl Into<String>) -> Self {
        Self {
            select: select.into(),
            conditions: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Adds a condition with `?` placeholders and their values, in order.
    pub fn and(mut self, condition: &str, values: impl IntoIterator<Item = Arg>) -> Self {
        self.conditions.push(condition.to_owned());
        self.args.extend(values);
        self
    }

    /// Adds a condition only when `value` is present.
    pub fn and_opt<V: Into<Arg>>(self, condition: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.and(condition, [v.into()]),
            None => self,
        }
    }

    /// Adds `column = ANY (…)` when `values` is present and not empty.
    pub fn and_in(self, column: &str, values: Option<Vec<String>>) -> Self {
        match values {
            Some(vs) if !vs.is_empty() => {
                self.and(&format!("{column} = ANY (?)"), [Arg::TextList(vs)])
            }
            _ => self,
        }
    }

    /// Runs the query as one page ordered by `column`.
    pub async fn page<T>(
        mut self,
        pool: &PgPool,
        column: &str,
        page: &Page,
        map: impl Fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>> {
        let (cursor_cond, direction, reverse) = page.plan(column);
        if let (Some(cond), Some(value)) = (cursor_cond, page.cursor_value()) {
            self = self.and(&cond, [Arg::from(value)]);
        }
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX - 1) + 1;
        let sql = number_placeholders(&format!(
            "{}\n{}\nORDER BY {column} {direction}\nLIMIT {limit}",
            self.select,
            self.where_clause(),
        ));
        let mut query = sqlx::query(&sql);
        for arg in self.args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::TextList(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(pool).await.map_err(db_err)?;
        let items = rows.iter().map(map).collect::<StoreResult<Vec<T>>>()?;
        Ok(Listed::from_fetched(items, page, reverse))
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join("\n  AND "))
        }
    }
}

/// Replaces each `?` with `$1`, `$2`, … in order.
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            number_placeholders("a = ? AND b > ? AND c = ANY (?)"),
            "a = $1 AND b > $2 AND c = ANY ($3)"
        );
    }
}
