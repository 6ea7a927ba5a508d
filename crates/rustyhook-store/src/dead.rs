//! Dead letters across apps and handlers: deliveries to endpoints and handler runs that used
//! up their attempts (`dead`), listed by when they died, newest first, and made due again in
//! bulk by the same filters or by id. The queries are written once here, for both backends.
//!
//! A dead row's `updated_at` is when it died: nothing changes a dead row but a recover or a
//! resend, which makes it `pending` again. Partial indexes over dead rows only
//! (`deliveries_dead*`, by died time, alone or after the app, endpoint or handler) serve the
//! list, its keyset pages and the recover, so neither reads live rows nor counts anything.

use rustyhook_core::id::{AppId, EndpointId, MessageId};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::time::Millis;

use crate::query::{Arg, Query, Statement};
use crate::rows::Columns;

/// Which dead letters: every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only deliveries of this app's messages.
    pub app_id: Option<AppId>,
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only runs of this handler.
    pub handler_id: Option<String>,
    /// Only of this event type (a message's, or a run's event's).
    pub event_type: Option<String>,
    /// Only those that died at or after this time.
    pub since: Option<Millis>,
    /// Only those that died before this time.
    pub until: Option<Millis>,
    /// Only these delivery or run ids.
    pub ids: Option<Vec<String>>,
}

/// Where a dead letter was going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadTarget {
    /// A message to an endpoint.
    Endpoint {
        /// The message's app.
        app_id: AppId,
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The endpoint's URL, unless the endpoint was deleted since.
        url: Option<String>,
        /// The message.
        msg_id: MessageId,
    },
    /// A handler's run.
    Handler {
        /// The handler.
        handler_id: String,
    },
}

/// One dead delivery or run, with its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The delivery's id, or the run's.
    pub id: String,
    /// Where it was going.
    pub target: DeadTarget,
    /// The message's event type, or the run's event's.
    pub event_type: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's HTTP status (0 when no response came, or for a run).
    pub last_status_code: Option<u16>,
    /// The last attempt's outcome code; `None` if its attempts were purged.
    pub last_outcome: Option<OutcomeCode>,
    /// The last attempt's exit code, for a run.
    pub last_exit_code: Option<i32>,
    /// When it died.
    pub died_at: Millis,
    /// When it was created.
    pub created_at: Millis,
}

/// A place in the list: when a dead letter died and its id, the order the list is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadKey {
    /// When it died.
    pub died_at: Millis,
    /// Its id.
    pub id: String,
}

impl DeadKey {
    /// The key of `d`.
    pub fn of(d: &DeadLetter) -> Self {
        Self {
            died_at: d.died_at,
            id: d.id.clone(),
        }
    }

    /// Reads `<died_at>.<id>` (what [`Self::to_string`] writes); `None` if it is not that.
    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        let died_at = at.parse().ok()?;
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        id_ok.then(|| Self {
            died_at,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for DeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.died_at, self.id)
    }
}

/// Where a page starts, in the list's order (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadCursor {
    /// The dead letters after (older than) this one.
    After(DeadKey),
    /// The dead letters before (newer than) this one.
    Before(DeadKey),
}

/// One page of dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadPage {
    /// Rows wanted.
    pub limit: usize,
    /// Where to start; `None` for the newest.
    pub cursor: Option<DeadCursor>,
}

/// What the backends write differently here.
pub(crate) struct DeadDialect {
    /// The event type of a run, from its `event` JSON text in `d.event`.
    pub run_event_type: &'static str,
}

/// The dead rows `f` names (`d`, with their messages as `m`, and `joins`), selecting
/// `select`.
fn matching(select: &str, joins: &str, f: DeadLetterFilter, dialect: &DeadDialect) -> Query {
    let event_type = format!("COALESCE(m.event_type, {})", dialect.run_event_type);
    Query::new(format!(
        "SELECT {select}\nFROM deliveries d\nLEFT JOIN messages m ON m.id = d.msg_id{joins}"
    ))
    .and("d.status = 'dead'", [])
    .and_opt("d.app_id = ?", f.app_id.map(String::from))
    .and_opt("d.endpoint_id = ?", f.endpoint_id.map(String::from))
    .and_opt("d.handler_id = ?", f.handler_id)
    .and_opt(&format!("{event_type} = ?"), f.event_type)
    .and_opt("d.updated_at >= ?", f.since)
    .and_opt("d.updated_at < ?", f.until)
    .and_in("d.id", f.ids)
}

/// The statement for one page of dead letters, newest first, and whether its rows must be
/// reversed into that order (a page read backwards). Read with [`dead_letter`].
pub(crate) fn list(
    f: DeadLetterFilter,
    page: &DeadPage,
    dialect: &DeadDialect,
) -> (Statement, bool) {
    let select = format!(
        "d.id, d.app_id, d.endpoint_id, e.url, d.msg_id, d.handler_id, \
         COALESCE(m.event_type, {}), d.attempts, a.status_code, a.outcome, a.exit_code, \
         d.updated_at, d.created_at",
        dialect.run_event_type
    );
    // The last attempt: attempt ids sort by time.
    let joins = "\nLEFT JOIN endpoints e ON e.id = d.endpoint_id\n\
         LEFT JOIN attempts a ON a.id = (\n\
         SELECT MAX(x.id) FROM attempts x WHERE x.delivery_id = d.id\n\
         )";
    let q = matching(&select, joins, f, dialect);
    let (q, order, reverse) = match &page.cursor {
        None => (q, "DESC", false),
        Some(DeadCursor::After(k)) => (
            q.and(
                "d.updated_at <= ? AND (d.updated_at < ? OR d.id < ?)",
                [k.died_at.into(), k.died_at.into(), k.id.as_str().into()],
            ),
            "DESC",
            false,
        ),
        Some(DeadCursor::Before(k)) => (
            q.and(
                "d.updated_at >= ? AND (d.updated_at > ? OR d.id > ?)",
                [k.died_at.into(), k.died_at.into(), k.id.as_str().into()],
            ),
            "ASC",
            true,
        ),
    };
    let statement = q.ordered(
        &format!("d.updated_at {order}, d.id {order}"),
        page.limit.saturating_add(1),
    );
    (statement, reverse)
}

/// Reads a row of [`list`].
pub(crate) fn dead_letter<R: Columns>(row: &R) -> Result<DeadLetter, R::Error> {
    let target = match row.opt_text(5)? {
        Some(handler_id) => DeadTarget::Handler { handler_id },
        None => DeadTarget::Endpoint {
            app_id: AppId::from_trusted(row.opt_text(1)?.unwrap_or_default()),
            endpoint_id: EndpointId::from_trusted(row.opt_text(2)?.unwrap_or_default()),
            url: row.opt_text(3)?,
            msg_id: MessageId::from_trusted(row.opt_text(4)?.unwrap_or_default()),
        },
    };
    Ok(DeadLetter {
        id: row.text(0)?,
        target,
        event_type: row.opt_text(6)?.unwrap_or_default(),
        attempts: row.num(7)?,
        last_status_code: row.opt_num(8)?,
        last_outcome: row
            .opt_text(9)?
            .map(|t| OutcomeCode::parse(&t).ok_or_else(|| R::corrupt("an outcome code")))
            .transpose()?,
        last_exit_code: row.opt_num(10)?,
        died_at: row.int(11)?,
        created_at: row.int(12)?,
    })
}

/// The statement making up to `limit` of the dead letters `f` names due at `now`, as manual
/// attempts: the newest first when there are more. One statement, whose outer condition
/// (`status = 'dead'`) is checked again on each row it changes, so two recovers at once never
/// both take one row: each row is recovered once, by one of them.
pub(crate) fn recover(
    f: DeadLetterFilter,
    now: Millis,
    limit: usize,
    dialect: &DeadDialect,
) -> Statement {
    let chosen = matching("d.id", "", f, dialect)
        .and("d.lease_owner IS NULL", [])
        .ordered("d.updated_at DESC, d.id DESC", limit);
    let mut args: Vec<Arg> = vec![now.into(), now.into()];
    args.extend(chosen.args);
    Statement {
        sql: format!(
            "UPDATE deliveries\n\
             SET status = 'pending', next_attempt_at = ?, manual = TRUE, updated_at = ?\n\
             WHERE status = 'dead'\n\
               AND id IN (\n{}\n)",
            chosen.sql
        ),
        args,
    }
}

/// The statement making each of `msgs` (messages of `app`) due again at `now`, as a manual
/// attempt, to every endpoint it failed at: deliveries dead or waiting to retry, and not in
/// a dispatcher's hands. What the Messages page's "Resend failed" sends.
pub(crate) fn resend_failed(app: &AppId, msgs: Vec<String>, now: Millis) -> Statement {
    Statement {
        sql: "UPDATE deliveries\n\
              SET status = 'pending', next_attempt_at = ?, manual = TRUE, updated_at = ?\n\
              WHERE app_id = ?\n\
                AND msg_id IN (?)\n\
                AND status IN ('failed', 'dead')\n\
                AND lease_owner IS NULL"
            .into(),
        args: vec![
            now.into(),
            now.into(),
            app.as_str().into(),
            Arg::TextList(msgs),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_what_it_writes_and_nothing_else() {
        let k = DeadKey {
            died_at: 1_700_000_000_123,
            id: "dlv_01ABC".into(),
        };
        assert_eq!(DeadKey::parse(&k.to_string()), Some(k));
        for bad in ["", "12", "x.dlv_1", "12.", "12.a b", "12.a'--"] {
            assert_eq!(DeadKey::parse(bad), None, "{bad}");
        }
    }
}
