//! What the live feed reads: attempts of endpoint deliveries and of handler runs alike, in id
//! order past a cursor, each with whether it was the last attempt of a delivery that is now
//! dead. Attempt ids sort by creation time as bytes (`COLLATE "C"` on PostgreSQL), so the
//! attempts' primary key is the feed's index: the feed costs no index and no write of its own.

use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId};
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

/// The columns [`feed_row`] reads, the attempts aliased `a` and their deliveries `d`.
const FEED_COLS: &str = "a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, a.handler_id, \
     a.outcome, a.status_code, a.exit_code, a.duration_ms, a.trigger_type, a.created_at, \
     (d.status = 'dead' AND NOT EXISTS (\
         SELECT 1 FROM attempts later \
         WHERE later.delivery_id = a.delivery_id AND later.id > a.id))";

/// The statement for `query`, the same on both backends.
pub(crate) fn statement(query: FeedQuery) -> Statement {
    Query::new(format!(
        "SELECT {FEED_COLS}\nFROM attempts a\nJOIN deliveries d ON d.id = a.delivery_id"
    ))
    .and("a.id > ?", [query.after.into()])
    .and_opt("a.app_id = ?", query.app_id.map(String::from))
    .and_opt("a.endpoint_id = ?", query.endpoint_id.map(String::from))
    .and_opt("a.handler_id = ?", query.handler_id)
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
