//! PostgreSQL's rows as [`Columns`], so the shared readers in [`crate::rows`] decode them.
//! Every integer column is `BIGINT`, so each reads as `i64`.

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::conn::db_err;
use crate::StoreError;
use crate::rows::Columns;

impl Columns for PgRow {
    type Error = StoreError;

    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn real(&self, i: usize) -> Result<f64, StoreError> {
        self.try_get(i).map_err(db_err)
    }

    fn corrupt(what: &str) -> StoreError {
        StoreError::Corrupt(what.to_owned())
    }
}
