//! rustyhook's durable store. Everything the engine and API remember goes through the [`Store`]
//! trait; all SQL lives in this crate.
//!
//! # Layout
//! - [`Store`]: the trait, and the request/response types its methods use.
//! - [`page`]: keyset pagination shared by every list.
//! - [`sqlite`]: the embedded implementation (WAL, one writer thread with group commits).

pub mod page;
mod rows;
mod rules;
pub mod sqlite;
mod store;

pub use page::{Cursor, Order, Page};
pub use store::*;
