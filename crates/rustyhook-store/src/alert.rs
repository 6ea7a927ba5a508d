//! Alert rules, the alerts they fire, and the nodes an alert can be about, stored alike by both
//! backends. An alert fires once and resolves once by the store's own rules, so two nodes that
//! both believe they lead (or a leader that changed mid-interval) cannot send either twice:
//!
//! - at most one alert per rule and subject is firing: a partial unique index on
//!   `(rule_id, subject) WHERE resolved_at IS NULL`, so a second fire inserts nothing;
//! - resolving is `UPDATE … WHERE resolved_at IS NULL`, so only one resolve changes a row;
//! - the `alert.fired`/`alert.resolved` operational event is queued in the transaction of the
//!   change, only when the change happened.

use rustyhook_core::alert::{Alert, AlertRule, RuleKind, RuleOrigin, RuleSpec};
use rustyhook_core::operational::{OperationalEvent, OperationalKind};
use rustyhook_core::time::Millis;

use crate::query::Query;
use crate::rows::Columns;

/// Filters for listing alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only firing alerts (`Some(true)`) or resolved ones (`Some(false)`).
    pub firing: Option<bool>,
    /// Only alerts of this rule.
    pub rule_id: Option<String>,
}

/// What a node says of itself on each heartbeat, for the node list and `node_gone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSeen {
    /// The node's name: `cluster.node_id` when set (so a restarted node is the same node),
    /// otherwise the id it generated at start.
    pub name: String,
    /// `all`, `api` or `worker`.
    pub role: String,
    /// Whether it leads the schedules (and the alert evaluation) now.
    pub leader: bool,
}

/// A node as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// What it said.
    pub seen: NodeSeen,
    /// When it last said so, by the database's clock.
    pub last_seen: Millis,
}

/// The nodes sharing the store, and the database's clock to judge them by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    /// The database's time of the read.
    pub now: Millis,
    /// Every node seen in the last [`FORGET_NODES_AFTER`], by name.
    pub nodes: Vec<NodeRow>,
}

/// A node not seen for this long is forgotten: it is no longer listed, and a `node_gone`
/// alert about it resolves.
pub const FORGET_NODES_AFTER: Millis = 24 * 3600 * 1000;

/// The columns of a rule as written.
pub(crate) const RULE_COLS: &str = "id, name, kind, threshold, window_ms, app, endpoint, handler, \
     source, min_attempts, disabled, origin, created_at, updated_at";

/// The columns of a rule as read (`alert_rules r`), with its firing count last.
pub(crate) const RULE_READ_COLS: &str = "r.id, r.name, r.kind, r.threshold, r.window_ms, r.app, \
     r.endpoint, r.handler, r.source, r.min_attempts, r.disabled, r.origin, r.created_at, \
     r.updated_at, (SELECT COUNT(*) FROM alerts a WHERE a.rule_id = r.id AND a.resolved_at IS NULL)";

/// The columns of an alert.
pub(crate) const ALERT_COLS: &str =
    "id, rule_id, rule_name, kind, subject, value, threshold, summary, fired_at, resolved_at";

/// Reads a rule (selected with [`RULE_READ_COLS`]).
pub(crate) fn rule<R: Columns>(row: &R) -> Result<AlertRule, R::Error> {
    let window_ms: u64 = row.num(4)?;
    Ok(AlertRule {
        id: row.text(0)?,
        spec: RuleSpec {
            name: row.text(1)?,
            kind: kind(row, 2)?,
            threshold: row.real(3)?,
            window: std::time::Duration::from_millis(window_ms),
            app: row.opt_text(5)?,
            endpoint: row.opt_text(6)?,
            handler: row.opt_text(7)?,
            source: row.opt_text(8)?,
            min_attempts: row.num(9)?,
            disabled: row.flag(10)?,
        },
        origin: RuleOrigin::parse(&row.text(11)?)
            .ok_or_else(|| R::corrupt("an unknown rule origin"))?,
        created_at: row.int(12)?,
        updated_at: row.int(13)?,
        firing: row.num(14)?,
    })
}

fn kind<R: Columns>(row: &R, i: usize) -> Result<RuleKind, R::Error> {
    RuleKind::parse(&row.text(i)?).ok_or_else(|| R::corrupt("an unknown rule kind"))
}

/// Reads an alert (selected with [`ALERT_COLS`]).
pub(crate) fn alert<R: Columns>(row: &R) -> Result<Alert, R::Error> {
    Ok(Alert {
        id: row.text(0)?,
        rule_id: row.text(1)?,
        rule_name: row.text(2)?,
        kind: kind(row, 3)?,
        subject: row.text(4)?,
        value: row.real(5)?,
        threshold: row.real(6)?,
        summary: row.text(7)?,
        fired_at: row.int(8)?,
        resolved_at: row.opt_int(9)?,
    })
}

/// The window of a rule as stored.
pub(crate) fn window_ms(spec: &RuleSpec) -> i64 {
    i64::try_from(spec.window.as_millis()).unwrap_or(i64::MAX)
}

/// The list query of rules.
pub(crate) fn rules_query() -> Query {
    Query::new(format!("SELECT {RULE_READ_COLS}\nFROM alert_rules r"))
}

/// The list query of alerts, with its filters.
pub(crate) fn alerts_query(filter: AlertFilter) -> Query {
    let status = filter.firing.map(|firing| {
        if firing {
            "resolved_at IS NULL"
        } else {
            "resolved_at IS NOT NULL"
        }
    });
    let q = Query::new(format!("SELECT {ALERT_COLS}\nFROM alerts"))
        .and_opt("rule_id = ?", filter.rule_id);
    match status {
        Some(condition) => q.and(condition, []),
        None => q,
    }
}

/// The event an alert's firing or resolving queues: its data is the alert as the API shows it.
pub(crate) fn event(alert: &Alert) -> OperationalEvent {
    match alert.resolved_at {
        None => OperationalEvent::new(OperationalKind::AlertFired, alert.data(), alert.fired_at),
        Some(at) => OperationalEvent::new(OperationalKind::AlertResolved, alert.data(), at),
    }
}
