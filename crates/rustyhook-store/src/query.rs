//! One keyset-paginated query builder for every list, shared by both backends, and the filters
//! of the lists that have them. A query is written once, with `?` for each value; each backend
//! numbers the marks its own way and runs it (`sqlite::list`, `postgres::list`). So no
//! condition may hold a literal `?` (on PostgreSQL, use `jsonb_exists`, not the `?` operator).

use rustyhook_core::id::{AppId, MessageId, RunId};
use rustyhook_core::model::DeliveryStatus;

use crate::page::Page;
use crate::rows::{DELIVERY_COLS, RUN_ATTEMPT_COLS, RUN_COLS, endpoint_cols_of_e};
use crate::{AttemptFilter, MessageFilter};

/// A value bound to a `?`.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// A text value.
    Text(String),
    /// An integer value.
    Int(i64),
    /// A list of text values, for `column IN (?)`: SQLite binds one mark per value, PostgreSQL
    /// one array.
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

/// What the backends write differently in the shared filters.
pub(crate) struct Dialect {
    /// A condition, with one `?`, that the JSON list of text in `m.channels` holds the value.
    pub channels_hold: &'static str,
    /// The same for `m.tags`.
    pub tags_hold: &'static str,
}

/// A `SELECT … WHERE …` under construction: conditions and their values.
pub(crate) struct Query {
    select: String,
    conditions: Vec<String>,
    args: Vec<Arg>,
}

/// A page's statement, ready for a backend to number and bind.
pub(crate) struct Paged {
    /// The statement, with `?` marks.
    pub sql: String,
    /// One value per mark, in order.
    pub args: Vec<Arg>,
    /// Whether the fetched rows must be reversed into the list's order.
    pub reverse: bool,
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

    /// Adds `column IN (…)` when `values` is present and not empty.
    pub fn and_in(self, column: &str, values: Option<Vec<String>>) -> Self {
        match values {
            Some(vs) if !vs.is_empty() => {
                self.and(&format!("{column} IN (?)"), [Arg::TextList(vs)])
            }
            _ => self,
        }
    }

    /// The statement for one page ordered by `column`: up to `limit + 1` rows past the cursor.
    pub fn paged(mut self, column: &str, page: &Page) -> Paged {
        let (cursor_cond, direction, reverse) = page.plan(column);
        if let (Some(cond), Some(value)) = (cursor_cond, page.cursor_value()) {
            self = self.and(&cond, [Arg::from(value)]);
        }
        let where_clause = if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join("\n  AND "))
        };
        Paged {
            sql: format!(
                "{}\n{where_clause}\nORDER BY {column} {direction}\nLIMIT {}",
                self.select,
                page.limit.saturating_add(1)
            ),
            args: self.args,
            reverse,
        }
    }
}

/// Adds a message filter's conditions on the messages aliased `m`.
pub(crate) fn filter_messages(q: Query, filter: MessageFilter, dialect: &Dialect) -> Query {
    let q = match filter.tags.filter(|t| !t.is_empty()) {
        // Any of the tags: one test per tag, joined with OR.
        Some(tags) => {
            let any = vec![dialect.tags_hold; tags.len()].join(" OR ");
            q.and(&format!("({any})"), tags.into_iter().map(Arg::Text))
        }
        None => q,
    };
    q.and_opt(dialect.channels_hold, filter.channel.map(String::from))
        .and_in(
            "m.event_type",
            filter
                .event_types
                .map(|ts| ts.into_iter().map(String::from).collect()),
        )
        .and_opt("m.created_at < ?", filter.before)
        .and_opt("m.created_at > ?", filter.after)
}

/// The query listing an app's attempts (aliased `a`, with their messages as `m` when a filter
/// needs them), with Svix's filters.
pub(crate) fn attempts_of_app(
    select_cols: &str,
    app: &AppId,
    f: AttemptFilter,
    dialect: &Dialect,
) -> Query {
    let needs_message = f.channel.is_some() || f.event_types.is_some();
    let from = if needs_message {
        "FROM attempts a\nJOIN messages m ON m.id = a.msg_id"
    } else {
        "FROM attempts a"
    };
    let outcome = f.status.map(|s| match s {
        0 => "a.outcome = 'OK'",
        _ => "a.outcome <> 'OK'",
    });
    let mut q = Query::new(format!("SELECT {select_cols}\n{from}"))
        .and("a.app_id = ?", [app.as_str().into()])
        .and_opt("a.msg_id = ?", f.msg_id.map(String::from))
        .and_opt("a.endpoint_id = ?", f.endpoint_id.map(String::from))
        .and_opt(dialect.channels_hold, f.channel.map(String::from))
        .and_in(
            "m.event_type",
            f.event_types
                .map(|ts| ts.into_iter().map(String::from).collect()),
        )
        .and_opt("a.created_at < ?", f.before)
        .and_opt("a.created_at > ?", f.after);
    if let Some(cond) = outcome {
        q = q.and(cond, []);
    }
    if let Some(class) = f.status_code_class {
        q = if class == 0 {
            q.and("a.status_code = 0", [])
        } else {
            q.and(
                "a.status_code >= ? AND a.status_code < ?",
                [i64::from(class).into(), (i64::from(class) + 100).into()],
            )
        };
    }
    q
}

/// The query listing a message's deliveries (`d`) with their endpoints (`e`).
pub(crate) fn deliveries_of_message(msg: &MessageId) -> Query {
    Query::new(format!(
        "SELECT {DELIVERY_COLS}, {}\nFROM deliveries d\nJOIN endpoints e ON e.id = d.endpoint_id",
        endpoint_cols_of_e()
    ))
    .and("d.msg_id = ?", [msg.as_str().into()])
}

/// The query listing runs (deliveries whose target is a handler step), of one handler or all,
/// in one status or all.
pub(crate) fn runs(handler: Option<String>, status: Option<DeliveryStatus>) -> Query {
    Query::new(format!("SELECT {RUN_COLS}\nFROM deliveries"))
        .and("handler_id IS NOT NULL", [])
        .and_opt("handler_id = ?", handler)
        .and_opt("status = ?", status.map(|s| s.as_str().to_owned()))
}

/// The query listing a run's attempts.
pub(crate) fn run_attempts(run: &RunId) -> Query {
    Query::new(format!("SELECT {RUN_ATTEMPT_COLS}\nFROM attempts"))
        .and("delivery_id = ?", [run.as_str().into()])
}

/// Replaces each `?` of `sql` in turn with what `mark` writes for the value it stands for.
pub(crate) fn render_marks(
    sql: &str,
    args: &[Arg],
    mut mark: impl FnMut(&mut String, &Arg),
) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut args = args.iter();
    for c in sql.chars() {
        if c != '?' {
            out.push(c);
            continue;
        }
        match args.next() {
            Some(arg) => mark(&mut out, arg),
            None => out.push('?'),
        }
    }
    out
}
