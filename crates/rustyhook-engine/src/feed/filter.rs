//! What a client of the feed asked to see. The API resolves names (an app's uid, an endpoint's
//! uid) and holds an app-scoped token to its app before building one; here a filter only
//! matches rows, and says what the store should narrow its reads to.

use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_store::{FeedEntry, FeedQuery, FeedRow, FeedTarget};

/// Which outcomes to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// Attempts that succeeded (`OK`).
    Success,
    /// Attempts that failed, whatever the code.
    Failure,
    /// Attempts that ended with this code.
    Code(OutcomeCode),
}

impl OutcomeFilter {
    /// `success`, `failure`, or an outcome code such as `E_TIMEOUT`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            code => OutcomeCode::parse(code).map(Self::Code),
        }
    }

    fn matches(self, outcome: OutcomeCode) -> bool {
        match self {
            Self::Success => outcome == OutcomeCode::Ok,
            Self::Failure => outcome != OutcomeCode::Ok,
            Self::Code(code) => outcome == code,
        }
    }
}

/// A client's filter; every condition set must hold. Attempts of handler runs belong to no
/// app, so a filter on an app or endpoint shows none of them, and one on a handler no
/// endpoint's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    /// Only attempts to this app's endpoints.
    pub app_id: Option<AppId>,
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only this handler's runs.
    pub handler_id: Option<String>,
    /// Only these outcomes.
    pub outcome: Option<OutcomeFilter>,
}

impl FeedFilter {
    /// Whether the entry is to be shown. An endpoint's change has no outcome: a filter on an
    /// outcome (or a handler) shows none.
    pub fn matches(&self, entry: &FeedEntry) -> bool {
        match entry {
            FeedEntry::Attempt(row) => self.matches_attempt(row),
            FeedEntry::Endpoint(c) => {
                self.handler_id.is_none()
                    && self.outcome.is_none()
                    && self.app_id.as_ref().is_none_or(|a| *a == c.app_id)
                    && self
                        .endpoint_id
                        .as_ref()
                        .is_none_or(|e| *e == c.endpoint_id)
            }
        }
    }

    fn matches_attempt(&self, row: &FeedRow) -> bool {
        let target = match &row.target {
            FeedTarget::Endpoint {
                app_id,
                endpoint_id,
                ..
            } => {
                self.handler_id.is_none()
                    && self.app_id.as_ref().is_none_or(|a| a == app_id)
                    && self.endpoint_id.as_ref().is_none_or(|e| e == endpoint_id)
            }
            FeedTarget::Handler { handler_id } => {
                self.app_id.is_none()
                    && self.endpoint_id.is_none()
                    && self.handler_id.as_ref().is_none_or(|h| h == handler_id)
            }
        };
        target && self.outcome.is_none_or(|o| o.matches(row.outcome))
    }

    /// The store read for the rows past `after`, narrowed by what the store can filter on (the
    /// outcome is left to [`Self::matches`]).
    pub(crate) fn query(&self, after: String, limit: usize) -> FeedQuery {
        FeedQuery {
            after,
            app_id: self.app_id.clone(),
            endpoint_id: self.endpoint_id.clone(),
            handler_id: self.handler_id.clone(),
            limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use rustyhook_core::id::{AttemptId, MessageId};
    use rustyhook_store::EndpointChange;

    use super::*;

    fn endpoint_row(app: &str, endpoint: &str, outcome: OutcomeCode) -> FeedRow {
        FeedRow {
            id: AttemptId::generate(1),
            delivery_id: "dlv_1".into(),
            target: FeedTarget::Endpoint {
                app_id: AppId::from_trusted(app.into()),
                endpoint_id: EndpointId::from_trusted(endpoint.into()),
                msg_id: MessageId::from_trusted("msg_1".into()),
            },
            outcome,
            status_code: 200,
            exit_code: None,
            duration_ms: 1,
            manual: false,
            created_at: 1,
            dead: false,
        }
    }

    fn run_row(handler: &str) -> FeedRow {
        FeedRow {
            target: FeedTarget::Handler {
                handler_id: handler.into(),
            },
            ..endpoint_row("app_1", "ep_1", OutcomeCode::ExitCode)
        }
    }

    #[test]
    fn outcomes_parse_as_words_or_codes_and_nothing_else() {
        assert_eq!(
            OutcomeFilter::parse("success"),
            Some(OutcomeFilter::Success)
        );
        assert_eq!(
            OutcomeFilter::parse("failure"),
            Some(OutcomeFilter::Failure)
        );
        assert_eq!(
            OutcomeFilter::parse("E_TIMEOUT"),
            Some(OutcomeFilter::Code(OutcomeCode::Timeout))
        );
        assert_eq!(OutcomeFilter::parse("ok"), None);
        assert_eq!(OutcomeFilter::parse(""), None);
    }

    #[test]
    fn every_condition_of_a_filter_must_hold() {
        let ok = endpoint_row("app_1", "ep_1", OutcomeCode::Ok);
        let failed = endpoint_row("app_1", "ep_2", OutcomeCode::HttpStatus);
        let other_app = endpoint_row("app_2", "ep_3", OutcomeCode::Ok);
        let run = run_row("deploy");
        let app_1 = FeedFilter {
            app_id: Some(AppId::from_trusted("app_1".into())),
            ..FeedFilter::default()
        };
        let [ok, failed, other_app, run] = [ok, failed, other_app, run].map(FeedEntry::Attempt);
        assert!(app_1.matches(&ok) && app_1.matches(&failed));
        assert!(!app_1.matches(&other_app) && !app_1.matches(&run));
        let failures = FeedFilter {
            outcome: Some(OutcomeFilter::Failure),
            ..app_1.clone()
        };
        assert!(!failures.matches(&ok) && failures.matches(&failed));
        let endpoint = FeedFilter {
            endpoint_id: Some(EndpointId::from_trusted("ep_2".into())),
            ..FeedFilter::default()
        };
        assert!(endpoint.matches(&failed) && !endpoint.matches(&ok) && !endpoint.matches(&run));
        let handler = FeedFilter {
            handler_id: Some("deploy".into()),
            ..FeedFilter::default()
        };
        assert!(handler.matches(&run) && !handler.matches(&ok));
        assert!(!handler.matches(&FeedEntry::Attempt(run_row("other"))));
        let everything = FeedFilter::default();
        assert!(
            [&ok, &failed, &other_app, &run]
                .iter()
                .all(|r| everything.matches(r))
        );
    }

    #[test]
    fn an_endpoint_change_shows_under_its_app_and_endpoint_but_not_under_an_outcome_or_handler() {
        let change = FeedEntry::Endpoint(EndpointChange {
            id: AttemptId::generate(1),
            app_id: AppId::from_trusted("app_1".into()),
            endpoint_id: EndpointId::from_trusted("ep_1".into()),
            change: "paused".into(),
            detail: None,
            created_at: 1,
        });
        let of = |app: Option<&str>, endpoint: Option<&str>| FeedFilter {
            app_id: app.map(|a| AppId::from_trusted(a.into())),
            endpoint_id: endpoint.map(|e| EndpointId::from_trusted(e.into())),
            ..FeedFilter::default()
        };
        assert!(of(None, None).matches(&change));
        assert!(of(Some("app_1"), Some("ep_1")).matches(&change));
        assert!(!of(Some("app_2"), None).matches(&change));
        assert!(!of(None, Some("ep_2")).matches(&change));
        let failures = FeedFilter {
            outcome: Some(OutcomeFilter::Failure),
            ..FeedFilter::default()
        };
        let handler = FeedFilter {
            handler_id: Some("deploy".into()),
            ..FeedFilter::default()
        };
        assert!(!failures.matches(&change) && !handler.matches(&change));
    }
}
