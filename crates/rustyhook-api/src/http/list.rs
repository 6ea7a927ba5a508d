//! Svix-style list pagination: `limit` (default 50, at most 250), `iterator` (the last id of the
//! previous page; a leading `-` pages backwards), `order`; answers are
//! `{data, iterator, prevIterator, done}`.

use rustyhook_store::page::Listed;
use rustyhook_store::{Cursor, Order, Page};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Largest page.
pub const MAX_LIMIT: usize = 250;
const DEFAULT_LIMIT: usize = 50;

/// The pagination part of a list's query string.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size: 1 to 250, 50 unless given.
    #[serde(default, deserialize_with = "count")]
    #[param(minimum = 1, maximum = 250)]
    pub limit: Option<usize>,
    /// A previous page's `iterator` (the next page) or `prevIterator` (the one before), as
    /// it was returned.
    pub iterator: Option<String>,
    /// `ascending` or `descending`; each list has its own default.
    #[param(inline)]
    pub order: Option<OrderParam>,
}

/// A count written as a number or as text: list routes flatten these parameters into their own,
/// and a flattened field receives the query string's text as it is.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(usize),
        Text(String),
    }
    match Option::<Count>::deserialize(d)? {
        None => Ok(None),
        Some(Count::Number(n)) => Ok(Some(n)),
        Some(Count::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("limit {t:?} is not a whole number"))),
    }
}

/// Svix's `Ordering`.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[schema(as = Ordering)]
#[serde(rename_all = "lowercase")]
pub enum OrderParam {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

impl ListParams {
    /// The page to read, with `default_order` unless the caller chose one. `is_key` says
    /// whether a value could be a cursor of this list (an id of its kind): an `iterator` that
    /// could not is a 422 naming it, not a silently empty page.
    pub fn page(
        &self,
        default_order: Order,
        is_key: impl Fn(&str) -> bool,
    ) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit > MAX_LIMIT {
            return Err(ApiError::invalid(
                &["query", "limit"],
                format!("Given limit must not exceed {MAX_LIMIT}"),
            ));
        }
        if limit == 0 {
            return Err(ApiError::invalid(
                &["query", "limit"],
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let order = match self.order {
            Some(OrderParam::Ascending) => Order::Ascending,
            Some(OrderParam::Descending) => Order::Descending,
            None => default_order,
        };
        let cursor = match self.iterator.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(it) => {
                let cursor = match it.strip_prefix('-') {
                    Some(id) => Cursor::Before(id.to_owned()),
                    None => Cursor::After(it.to_owned()),
                };
                let (Cursor::Before(key) | Cursor::After(key)) = &cursor;
                if !is_key(key) {
                    return Err(ApiError::invalid(
                        &["query", "iterator"],
                        "iterator is not one this list returned: pass a previous answer's \
                         iterator or prevIterator unchanged",
                    ));
                }
                Some(cursor)
            }
        };
        Ok(Page {
            limit,
            order,
            cursor,
        })
    }
}

/// `ListResponse_*` in Svix's API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// The items.
    pub data: Vec<T>,
    /// Cursor for the next page.
    pub iterator: Option<String>,
    /// Cursor for the previous page.
    pub prev_iterator: Option<String>,
    /// Whether this is the last page.
    pub done: bool,
}

impl<T> ListResponse<T> {
    /// Builds the answer from a store page, with `key` giving each item's cursor value.
    pub fn from_listed<R>(
        listed: Listed<R>,
        key: impl Fn(&R) -> String,
        out: impl Fn(R) -> T,
    ) -> Self {
        let iterator = listed.items.last().map(&key);
        let prev_iterator = listed.items.first().map(|r| format!("-{}", key(r)));
        Self {
            data: listed.items.into_iter().map(out).collect(),
            iterator,
            prev_iterator,
            done: listed.done,
        }
    }
}
