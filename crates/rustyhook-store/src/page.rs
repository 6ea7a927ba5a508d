//! Keyset pagination. Lists are ordered by id (ids sort by creation time); a page is the rows past
//! a cursor in the list's order, so pages stay stable while rows are added.

/// The direction a list is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The rows after this id, in the list's order (Svix's `iterator`).
    After(String),
    /// The rows before this id, in the list's order (Svix's `-`-prefixed `prevIterator`).
    Before(String),
}

/// One page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows wanted; the store fetches one more to tell whether the list is done.
    pub limit: usize,
    /// The list's order.
    pub order: Order,
    /// Where to start; `None` for the first page.
    pub cursor: Option<Cursor>,
}

impl Page {
    /// The first `limit` rows in `order`.
    pub fn first(limit: usize, order: Order) -> Self {
        Self {
            limit,
            order,
            cursor: None,
        }
    }

    /// The SQL condition on `column` (with one `?` for the cursor value, if any), the
    /// `ORDER BY` direction, and whether the fetched rows must be reversed afterwards.
    pub fn plan(&self, column: &str) -> (Option<String>, &'static str, bool) {
        use Order::*;
        match (&self.cursor, self.order) {
            (None, Ascending) => (None, "ASC", false),
            (None, Descending) => (None, "DESC", false),
            (Some(Cursor::After(_)), Ascending) => (Some(format!("{column} > ?")), "ASC", false),
            (Some(Cursor::After(_)), Descending) => (Some(format!("{column} < ?")), "DESC", false),
            (Some(Cursor::Before(_)), Ascending) => (Some(format!("{column} < ?")), "DESC", true),
            (Some(Cursor::Before(_)), Descending) => (Some(format!("{column} > ?")), "ASC", true),
        }
    }

    /// The cursor's id, if any.
    pub fn cursor_value(&self) -> Option<&str> {
        match &self.cursor {
            Some(Cursor::After(v) | Cursor::Before(v)) => Some(v),
            None => None,
        }
    }
}

/// A page of rows and whether more follow in the direction read.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    /// The rows, in the list's order.
    pub items: Vec<T>,
    /// Whether the list ends here (in the direction read).
    pub done: bool,
}

impl<T> Listed<T> {
    /// Builds a page from up to `limit + 1` fetched rows.
    pub fn from_fetched(mut items: Vec<T>, page: &Page, reverse: bool) -> Self {
        let done = items.len() <= page.limit;
        items.truncate(page.limit);
        if reverse {
            items.reverse();
        }
        Self { items, done }
    }
}
