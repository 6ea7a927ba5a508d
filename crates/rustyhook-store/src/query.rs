//! One keyset-paginated query builder for every list, shared by both backends, the filters of
//! the lists that have them, and the replay of the messages an endpoint missed. A query is
//! written once, with `?` for each value; each backend numbers the marks its own way and runs
//! it (`sqlite::list`, `postgres::list`). So no condition may hold a literal `?` (on
//! PostgreSQL, use `jsonb_exists`, not the `?` operator).

use rustyhook_core::id::{AppId, MessageId, RunId};
use rustyhook_core::model::{DeliveryStatus, Endpoint};
use rustyhook_core::time::Millis;

use crate::page::Page;
use crate::rows::{DELIVERY_COLS, RUN_ATTEMPT_COLS, RUN_COLS, TASK_COLS, endpoint_cols_of_e};
use crate::task::{TaskFilter, TaskKind, TaskStatus};
use crate::{AttemptFilter, MessageFilter, rules};

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

/// A statement that is not a page, ready for a backend to number and bind.
pub(crate) struct Statement {
    /// The statement, with `?` marks.
    pub sql: String,
    /// One value per mark, in order.
    pub args: Vec<Arg>,
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

    /// Adds a condition that holds when `hold` (with one `?`) holds for any of `values`, when
    /// they are present and not empty: one test per value, joined with OR.
    pub fn and_any(self, hold: &str, values: Option<Vec<String>>) -> Self {
        match values {
            Some(vs) if !vs.is_empty() => {
                let any = vec![hold; vs.len()].join(" OR ");
                self.and(&format!("({any})"), vs.into_iter().map(Arg::Text))
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
        let Statement { sql, args } = self.ordered(
            &format!("{column} {direction}"),
            page.limit.saturating_add(1),
        );
        Paged { sql, args, reverse }
    }

    /// The statement for the first `limit` rows by `order_by` (a column, optionally with a
    /// direction): for statements that are not a list's page.
    pub fn ordered(self, order_by: &str, limit: usize) -> Statement {
        let where_clause = if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join("\n  AND "))
        };
        Statement {
            sql: format!(
                "{}\n{where_clause}\nORDER BY {order_by}\nLIMIT {limit}",
                self.select
            ),
            args: self.args,
        }
    }
}

/// Adds a message filter's conditions on the messages aliased `m`.
pub(crate) fn filter_messages(q: Query, filter: MessageFilter, dialect: &Dialect) -> Query {
    q.and_any(dialect.tags_hold, filter.tags)
        .and_opt(dialect.channels_hold, filter.channel.map(String::from))
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

/// The statement finding an app's message by its id or, failing that, by its event id, with
/// `app` and `key` as the marks of the two values (`?1`, `$1`, …): two index lookups, the
/// primary key's and `(app_id, event_id)`'s, the id's first. Written with `OR` in one
/// condition, SQLite scanned every message (half a second with a million). Read the first
/// [`crate::rows::MESSAGE_COLS`] columns; a last one orders the two.
pub(crate) fn message_by_id_or_event_id(app: &str, key: &str) -> String {
    use crate::rows::MESSAGE_COLS;
    format!(
        "SELECT *\nFROM (\n\
         SELECT {MESSAGE_COLS}, 0 AS pick\nFROM messages m\nWHERE m.id = {key} AND m.app_id = {app}\n\
         UNION ALL\n\
         SELECT {MESSAGE_COLS}, 1 AS pick\nFROM messages m\nWHERE m.app_id = {app} AND m.event_id = {key}\n\
         ) found\nORDER BY pick\nLIMIT 1"
    )
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

/// The query listing background tasks, with their filters.
pub(crate) fn tasks(filter: TaskFilter) -> Query {
    Query::new(format!("SELECT {TASK_COLS}\nFROM background_tasks"))
        .and_opt("app_id = ?", filter.app_id.map(String::from))
        .and_opt("status = ?", filter.status.map(TaskStatus::as_str))
        .and_opt("task = ?", filter.kind.map(TaskKind::as_str))
}

/// A replay of the messages an endpoint missed (Svix's `replay-missing`).
pub(crate) struct Replay<'a> {
    /// The endpoint to send them to.
    pub endpoint: &'a Endpoint,
    /// Messages created at or after this time…
    pub since: Millis,
    /// …and before this one, if given.
    pub until: Option<Millis>,
    /// When the deliveries are created, and due.
    pub now: Millis,
    /// The most deliveries to create; more than `10^REPLAY_ID_DIGITS - 1` counts as that many.
    pub limit: usize,
}

/// The one statement of a replay: for each message of the endpoint's app created in
/// `[since, until)` that the endpoint's filters accept, as fan-out decides
/// ([`rustyhook_core::filter::endpoint_receives`]: an event type it lists, a channel it
/// shares), and that has no delivery to it yet, a delivery due now, unleased and manual — for
/// the oldest `limit` such messages. A message whose payload was expunged is left out: there is
/// nothing to send. `None` when the endpoint receives nothing at all (disabled, or a filter
/// that lists nothing). Both backends run this same text; each delivery's id is the replay's
/// [`rules::replay_id_prefix`] and the row's number.
pub(crate) fn replay_missing(r: &Replay, dialect: &Dialect) -> Option<Statement> {
    let e = r.endpoint;
    if e.disabled
        || e.filter_types.as_ref().is_some_and(Vec::is_empty)
        || e.channels.as_ref().is_some_and(Vec::is_empty)
    {
        return None;
    }
    let row_number_base = 10_i64.pow(rules::REPLAY_ID_DIGITS as u32);
    // More rows would need more digits than the ids have room for.
    let limit = r.limit.min(row_number_base as usize - 1);
    let missing = missing_messages(r, dialect).ordered("m.id", limit);
    let sql = format!(
        r#"INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts,
    next_attempt_at, manual, lease_owner, created_at, updated_at)
SELECT ? || SUBSTR(CAST({row_number_base} + ROW_NUMBER() OVER (ORDER BY missing.id) AS TEXT), 2),
    missing.id, ?, missing.app_id, 'pending', 0, ?, TRUE, NULL, ?, ?
FROM (
{}
) missing
WHERE TRUE
ON CONFLICT (msg_id, endpoint_id) DO NOTHING"#,
        missing.sql
    );
    let mut args: Vec<Arg> = vec![
        rules::replay_id_prefix(r.now).into(),
        e.id.as_str().into(),
        r.now.into(),
        r.now.into(),
        r.now.into(),
    ];
    args.extend(missing.args);
    Some(Statement { sql, args })
}

/// The messages `r.endpoint` should have got in `r`'s window but has no delivery to it for.
fn missing_messages(r: &Replay, dialect: &Dialect) -> Query {
    let e = r.endpoint;
    let missing = Query::new("SELECT m.id, m.app_id\nFROM messages m")
        .and("m.app_id = ?", [e.app_id.as_str().into()])
        .and("m.created_at >= ?", [r.since.into()])
        .and_opt("m.created_at < ?", r.until)
        .and("m.payload IS NOT NULL", [])
        .and(
            "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ?)",
            [e.id.as_str().into()],
        )
        .and_in(
            "m.event_type",
            e.filter_types
                .as_ref()
                .map(|ts| ts.iter().map(|t| t.as_str().to_owned()).collect()),
        );
    // Any of its channels (`replay_missing` rules out an empty list, which receives nothing).
    missing.and_any(
        dialect.channels_hold,
        e.channels
            .as_ref()
            .map(|cs| cs.iter().map(|c| c.as_str().to_owned()).collect()),
    )
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
