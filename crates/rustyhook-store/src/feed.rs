//! What the live feed reads: attempts of endpoint deliveries and of handler runs alike, in id
//! order past a cursor, each with whether it was the last attempt of a delivery that is now
//! dead; and endpoint state changes (created, updated, deleted, disabled, enabled, paused,
//! resumed, and a node's circuit breaker for it opened or closed). Attempt ids sort by creation time as bytes (`COLLATE "C"` on PostgreSQL), so the
//! attempts' primary key is the feed's index: attempts cost the feed no index and no write.
//!
//! An endpoint change is a row of `endpoint_changes`, written in the transaction of the change:
//! with its `endpoint.*` operational event (every such event passes through the backends'
//! outbox `insert`, which calls [`changes_of`]), or with an endpoint's pause or resume; a
//! breaker's opening or closing, which no transaction makes, is written on its own. Its id
//! has the attempts' form (`atmpt_`, then its time and random bits): it is the change's
//! position in the feed, so one cursor orders attempts and changes, and a client resumes past
//! both with one `Last-Event-ID`.

use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId};
use rustyhook_core::operational::OperationalEvent;
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::time::Millis;

use crate::query::{Query, Statement};
use crate::rows::Columns;

/// Which attempts to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    /// Only attempts whose id sorts above this: an attempt id, or [`AttemptId::floor`] of a
    /// time.
    pub after: String,
    /// Only attempts of this app's endpoints.
    pub app_id: Option<AppId>,
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only attempts of this handler's runs.
    pub handler_id: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Who an attempt was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedTarget {
    /// A message to an endpoint.
    Endpoint {
        /// The endpoint's app.
        app_id: AppId,
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The message.
        msg_id: MessageId,
    },
    /// A step of a handler's run.
    Handler {
        /// The handler's id.
        handler_id: String,
    },
}

/// One attempt as the feed shows it: what happened, without the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// The attempt; also the feed's cursor.
    pub id: AttemptId,
    /// The delivery (`dlv_…`) or run (`run_…`) attempted.
    pub delivery_id: String,
    /// Who it was for.
    pub target: FeedTarget,
    /// How it ended.
    pub outcome: OutcomeCode,
    /// The HTTP status (0 when there was no response, and for a command).
    pub status_code: u16,
    /// A command's exit code, if it exited.
    pub exit_code: Option<i32>,
    /// How long it took.
    pub duration_ms: i64,
    /// Whether a user asked for it (a resend, a recover).
    pub manual: bool,
    /// When it was made.
    pub created_at: Millis,
    /// Whether it was the last attempt of a delivery (or run) that is now dead: a dead letter.
    pub dead: bool,
}

/// A change of an endpoint's state, as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointChange {
    /// Its position in the feed (an id of the attempts' form, of the change's time).
    pub id: AttemptId,
    /// The endpoint's app.
    pub app_id: AppId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// `created`, `updated`, `deleted`, `disabled`, `enabled`, `paused`, `resumed`,
    /// `breaker_opened` or `breaker_closed`.
    pub change: String,
    /// For `disabled`, `automatic` or `manual`; for `paused`, the pause's reason; for the
    /// breaker's changes, the node whose breaker it is.
    pub detail: Option<String>,
    /// When it changed.
    pub created_at: Millis,
}

/// One entry of the feed: an attempt, or an endpoint's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEntry {
    /// An attempt was recorded.
    Attempt(FeedRow),
    /// An endpoint changed.
    Endpoint(EndpointChange),
}

impl FeedEntry {
    /// Its position in the feed.
    pub fn id(&self) -> &AttemptId {
        match self {
            Self::Attempt(row) => &row.id,
            Self::Endpoint(change) => &change.id,
        }
    }
}

/// The endpoint changes `events` report: one per `endpoint.*` event, written with it.
pub(crate) fn changes_of(events: &[OperationalEvent]) -> Vec<EndpointChange> {
    events
        .iter()
        .filter_map(|e| {
            let change = e.event_type.strip_prefix("endpoint.")?;
            let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
            let data = &payload["data"];
            Some(EndpointChange {
                id: AttemptId::generate(e.created_at),
                app_id: AppId::from_trusted(data["appId"].as_str()?.to_owned()),
                endpoint_id: EndpointId::from_trusted(data["endpointId"].as_str()?.to_owned()),
                change: change.to_owned(),
                detail: data["trigger"].as_str().map(str::to_owned),
                created_at: e.created_at,
            })
        })
        .collect()
}

/// The columns of `endpoint_changes`, in the order [`change_row`] reads them.
pub(crate) const CHANGE_COLS: &str = "id, app_id, endpoint_id, change, detail, created_at";

/// The statement recording a `change` (`paused`, `resumed`, `breaker_opened`,
/// `breaker_closed`) of the endpoint `endpoint_id` at `at`, with `detail`; it records nothing
/// when no such endpoint exists.
pub(crate) fn change_of_endpoint(
    endpoint_id: &str,
    change: &str,
    detail: Option<&str>,
    at: Millis,
) -> Statement {
    Statement {
        sql: format!(
            r#"INSERT INTO endpoint_changes ({CHANGE_COLS})
            SELECT ?, app_id, id, ?, NULLIF(?, ''), ?
            FROM endpoints
            WHERE id = ?"#
        ),
        args: vec![
            AttemptId::generate(at).to_string().into(),
            change.into(),
            detail.unwrap_or_default().into(),
            at.into(),
            endpoint_id.into(),
        ],
    }
}

/// The read of the endpoint changes `query` asks for; `None` when it asks for a handler's runs.
pub(crate) fn changes_statement(query: &FeedQuery) -> Option<Statement> {
    if query.handler_id.is_some() {
        return None;
    }
    Some(
        Query::new(format!(
            "SELECT {CHANGE_COLS}
FROM endpoint_changes"
        ))
        .and("id > ?", [query.after.clone().into()])
        .and_opt("app_id = ?", query.app_id.clone().map(String::from))
        .and_opt(
            "endpoint_id = ?",
            query.endpoint_id.clone().map(String::from),
        )
        .ordered("id ASC", query.limit),
    )
}

/// Deletes the endpoint changes made before `before`.
pub(crate) fn purge_changes(before: Millis) -> Statement {
    Statement {
        sql: "DELETE FROM endpoint_changes\nWHERE created_at < ?".into(),
        args: vec![before.into()],
    }
}

/// Reads a row of [`changes_statement`].
pub(crate) fn change_row<R: Columns>(row: &R) -> Result<EndpointChange, R::Error> {
    Ok(EndpointChange {
        id: AttemptId::from_trusted(row.text(0)?),
        app_id: AppId::from_trusted(row.text(1)?),
        endpoint_id: EndpointId::from_trusted(row.text(2)?),
        change: row.text(3)?,
        detail: row.opt_text(4)?,
        created_at: row.int(5)?,
    })
}

/// Attempts and changes read past one cursor, each at most `limit`, in one order. Where one
/// read was full, what lies past its last row is left out (the other read may not have reached
/// as far): the next read starts from the last entry returned. So at least `limit` entries come
/// back whenever either read was full, which is how a reader knows to read on.
pub(crate) fn merge(
    attempts: Vec<FeedRow>,
    changes: Vec<EndpointChange>,
    limit: usize,
) -> Vec<FeedEntry> {
    let full_to = |last: Option<&AttemptId>, n: usize| last.filter(|_| n >= limit).cloned();
    let attempts_end = full_to(attempts.last().map(|r| &r.id), attempts.len());
    let changes_end = full_to(changes.last().map(|c| &c.id), changes.len());
    let end = match (attempts_end, changes_end) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    };
    let mut all: Vec<FeedEntry> = attempts
        .into_iter()
        .map(FeedEntry::Attempt)
        .chain(changes.into_iter().map(FeedEntry::Endpoint))
        .filter(|e| end.as_ref().is_none_or(|end| e.id() <= end))
        .collect();
    all.sort_by(|a, b| a.id().cmp(b.id()));
    all
}

/// The columns [`feed_row`] reads, the attempts aliased `a` and their deliveries `d`.
const FEED_COLS: &str = "a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, a.handler_id, \
     a.outcome, a.status_code, a.exit_code, a.duration_ms, a.trigger_type, a.created_at, \
     (d.status = 'dead' AND NOT EXISTS (\
         SELECT 1 FROM attempts later \
         WHERE later.delivery_id = a.delivery_id AND later.id > a.id))";

/// The statement for `query`, the same on both backends.
pub(crate) fn statement(query: &FeedQuery) -> Statement {
    Query::new(format!(
        "SELECT {FEED_COLS}\nFROM attempts a\nJOIN deliveries d ON d.id = a.delivery_id"
    ))
    .and("a.id > ?", [query.after.clone().into()])
    .and_opt("a.app_id = ?", query.app_id.clone().map(String::from))
    .and_opt(
        "a.endpoint_id = ?",
        query.endpoint_id.clone().map(String::from),
    )
    .and_opt("a.handler_id = ?", query.handler_id.clone())
    .ordered("a.id ASC", query.limit)
}

/// Reads a row of [`statement`].
pub(crate) fn feed_row<R: Columns>(row: &R) -> Result<FeedRow, R::Error> {
    let target = match row.opt_text(5)? {
        Some(handler_id) => FeedTarget::Handler { handler_id },
        None => FeedTarget::Endpoint {
            msg_id: MessageId::from_trusted(row.text(2)?),
            endpoint_id: EndpointId::from_trusted(row.text(3)?),
            app_id: AppId::from_trusted(row.text(4)?),
        },
    };
    Ok(FeedRow {
        id: AttemptId::from_trusted(row.text(0)?),
        delivery_id: row.text(1)?,
        target,
        outcome: row.outcome(6)?,
        status_code: row.num(7)?,
        exit_code: row.opt_num(8)?,
        duration_ms: row.int(9)?,
        manual: row.int(10)? == 1,
        created_at: row.int(11)?,
        dead: row.flag(12)?,
    })
}
