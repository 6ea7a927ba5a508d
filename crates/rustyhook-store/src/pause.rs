//! Pauses: processing held back, for the whole server, an app, an endpoint, a handler or a
//! broker source, until resumed. A pause is a row, so it survives a restart and every node
//! sharing the database honours it.
//!
//! Paused work is never claimed: the claim query itself leaves it out ([`NOT_PAUSED`]), so no
//! attempt is made and none is counted, no retry backs off further and nothing goes dead while
//! paused. Messages and runs are still stored as usual; they wait, in order, until the resume.

use rustyhook_core::model::Delivery;
use rustyhook_core::time::Millis;

/// What a pause holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PauseScope {
    /// Every delivery and every handler run.
    Server,
    /// The deliveries of one app's messages.
    App,
    /// The deliveries to one endpoint.
    Endpoint,
    /// The runs of one handler (its triggers still queue runs).
    Handler,
    /// One broker source: it stops reading; the broker keeps what it has not handed over.
    Source,
}

impl PauseScope {
    /// Every scope, in the order the API lists them.
    pub const ALL: [Self; 5] = [
        Self::Server,
        Self::App,
        Self::Endpoint,
        Self::Handler,
        Self::Source,
    ];

    /// The scope's name, in the API, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::App => "app",
            Self::Endpoint => "endpoint",
            Self::Handler => "handler",
            Self::Source => "source",
        }
    }

    /// The scope named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The column of `deliveries` that names what this scope pauses, for the scopes that pause
    /// some of the queue; `None` for the server (all of it) and a source (none of it).
    fn column(self) -> Option<&'static str> {
        match self {
            Self::App => Some("app_id"),
            Self::Endpoint => Some("endpoint_id"),
            Self::Handler => Some("handler_id"),
            Self::Server | Self::Source => None,
        }
    }
}

/// One pause, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// What kind of thing is paused.
    pub scope: PauseScope,
    /// Its id (an app or endpoint id, a handler id, a source name); empty for the server.
    pub target: String,
    /// Why, as the operator said.
    pub reason: Option<String>,
    /// Who paused it (the token's actor name).
    pub paused_by: String,
    /// When it was paused.
    pub paused_at: Millis,
}

/// How much work a target has waiting: deliveries or runs pending, or failed with a retry
/// scheduled, whether paused or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// How many.
    pub count: u64,
    /// When the oldest of them was created.
    pub oldest: Option<Millis>,
}

/// The condition, on a `deliveries` row named `d`, that no pause holds it back: the one filter
/// every claim applies, on both backends.
pub(crate) const NOT_PAUSED: &str = "NOT EXISTS (
    SELECT 1
    FROM pauses p
    WHERE p.scope = 'server'
       OR (p.scope = 'app' AND p.target = d.app_id)
       OR (p.scope = 'endpoint' AND p.target = d.endpoint_id)
       OR (p.scope = 'handler' AND p.target = d.handler_id)
)";

/// Every pause, as `(scope, target)` rows, for [`holds_any`] to pick the ones that can hold a
/// new message's deliveries back. Read for every message: the table holds a row per paused
/// target, and a `WHERE scope IN (…)` made SQLite build a temporary table for the list each
/// time, which showed in the write path's profile.
pub(crate) const DELIVERY_PAUSES: &str = "SELECT scope, target FROM pauses";

/// Whether any of `pauses` (rows of [`DELIVERY_PAUSES`]) holds back one of `deliveries`: a new
/// message's are then stored unleased, so that no node sends them before the resume, however
/// recently it read the pauses.
pub(crate) fn holds_any(pauses: &[(String, String)], deliveries: &[Delivery]) -> bool {
    pauses.iter().any(|(scope, target)| {
        deliveries.iter().any(|d| match PauseScope::parse(scope) {
            Some(PauseScope::Server) => true,
            Some(PauseScope::App) => d.app_id.as_str() == target,
            Some(PauseScope::Endpoint) => d.endpoint_id.as_str() == target,
            _ => false,
        })
    })
}

/// The columns of `pauses`, in the order [`crate::rows::pause`] reads them.
pub(crate) const PAUSE_COLS: &str = "scope, target, reason, paused_by, paused_at";

/// The query counting what waits for `scope`, with `mark` for the target's id, and whether the
/// target is bound; `None` when the queue holds nothing of the scope (a source's messages
/// wait in its broker).
pub(crate) fn waiting_sql(scope: PauseScope, mark: &str) -> Option<(String, bool)> {
    let select = "SELECT COUNT(*), MIN(created_at)\n\
                  FROM deliveries\n\
                  WHERE status IN ('pending', 'failed')";
    match (scope, scope.column()) {
        (PauseScope::Source, _) => None,
        (_, Some(column)) => Some((format!("{select}\n  AND {column} = {mark}"), true)),
        (_, None) => Some((select.to_owned(), false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_reads_back_from_its_name_and_no_other_name_is_one() {
        for scope in PauseScope::ALL {
            assert_eq!(PauseScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(PauseScope::parse("endpoints"), None);
        assert_eq!(PauseScope::parse(""), None);
    }

    #[test]
    fn waiting_is_counted_per_target_except_for_the_server_and_sources() {
        let (app, bound) = waiting_sql(PauseScope::App, "$1").expect("app");
        assert!(app.ends_with("AND app_id = $1") && bound);
        let (server, bound) = waiting_sql(PauseScope::Server, "?").expect("server");
        assert!(!server.contains("AND") && !bound);
        assert!(waiting_sql(PauseScope::Source, "?").is_none());
    }

    #[test]
    fn a_new_delivery_is_held_by_a_server_app_or_endpoint_pause_and_by_no_other() {
        use rustyhook_core::id::{AppId, DeliveryId, EndpointId, MessageId};
        use rustyhook_core::model::DeliveryStatus;
        let d = Delivery {
            id: DeliveryId::generate(1),
            msg_id: MessageId::generate(1),
            endpoint_id: EndpointId::generate(1),
            app_id: AppId::generate(1),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(1),
            created_at: 1,
            updated_at: 1,
        };
        let holds = |scope: &str, target: &str| {
            holds_any(
                &[(scope.to_owned(), target.to_owned())],
                std::slice::from_ref(&d),
            )
        };
        assert!(holds("server", ""));
        assert!(holds("app", d.app_id.as_str()));
        assert!(holds("endpoint", d.endpoint_id.as_str()));
        assert!(!holds("app", "app_another"));
        assert!(!holds("endpoint", "ep_another"));
        // Every pause is read for a new message: a handler's or a source's holds none of it,
        // even one whose target happens to be the delivery's app or endpoint id.
        assert!(!holds("handler", d.endpoint_id.as_str()));
        assert!(!holds("source", d.app_id.as_str()));
        assert!(!holds_any(&[], std::slice::from_ref(&d)));
    }
}
