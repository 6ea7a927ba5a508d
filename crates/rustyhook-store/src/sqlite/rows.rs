//! SQLite's rows as [`Columns`], so the shared readers in [`crate::rows`] decode them.

use rusqlite::Row;

use crate::StoreError;
use crate::rows::Columns;

/// A row could not be read; wraps the reason as a rusqlite error so row closures can use `?`.
pub(crate) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(what.to_owned())),
    )
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }

    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }

    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }

    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }

    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }

    fn real(&self, i: usize) -> rusqlite::Result<f64> {
        self.get(i)
    }

    fn corrupt(what: &str) -> rusqlite::Error {
        corrupt(what)
    }
}
