//! One keyset-paginated query builder for every list, so each list only states its filters.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::conn::db_err;
use crate::StoreResult;
use crate::page::{Listed, Page};

/// A `SELECT … WHERE …` under construction: conditions and their parameters.
pub(crate) struct Query {
    select: String,
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Query {
    /// Starts from `SELECT cols FROM tables` with no conditions.
    pub fn new(select: impl Into<String>) -> Self {
        Self {
            select: select.into(),
            conditions: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds a condition with `?` placeholders and their values, in order.
    pub fn and(mut self, condition: &str, values: impl IntoIterator<Item = Value>) -> Self {
        self.conditions.push(condition.to_owned());
        self.params.extend(values);
        self
    }

    /// Adds a condition only when `value` is present.
    pub fn and_opt<V: Into<Value>>(self, condition: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.and(condition, [v.into()]),
            None => self,
        }
    }

    /// Adds `column IN (…)` when `values` is present.
    pub fn and_in(self, column: &str, values: Option<Vec<String>>) -> Self {
        match values {
            Some(vs) if !vs.is_empty() => {
                let marks = vec!["?"; vs.len()].join(", ");
                self.and(
                    &format!("{column} IN ({marks})"),
                    vs.into_iter().map(Value::from),
                )
            }
            _ => self,
        }
    }

    /// Runs the query as one page ordered by `column`.
    pub fn page<T>(
        mut self,
        conn: &Connection,
        column: &str,
        page: &Page,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<Listed<T>> {
        let (cursor_cond, direction, reverse) = page.plan(column);
        if let (Some(cond), Some(value)) = (cursor_cond, page.cursor_value()) {
            self = self.and(&cond, [Value::from(value.to_owned())]);
        }
        let sql = format!(
            "{}\n{}\nORDER BY {column} {direction}\nLIMIT {}",
            self.select,
            self.where_clause(),
            page.limit + 1
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = stmt
            .query_map(params_from_iter(self.params.iter()), map)
            .map_err(db_err)?
            .collect::<Result<Vec<T>, _>>()
            .map_err(db_err)?;
        Ok(Listed::from_fetched(rows, page, reverse))
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join("\n  AND "))
        }
    }
}
