//! Which operational events a change makes, decided alike for both backends. Each backend reads
//! what an event names (an app's uid, a message's `eventId`) in the transaction of the change,
//! asks here which events follow, and writes them to its `operational_events` outbox in that
//! same transaction: an event is queued exactly when its change commits. The engine's
//! publisher turns the outbox into messages of the operational app.
//!
//! Nothing about the operational app itself is reported (its endpoints failing would otherwise
//! report about themselves, without end).

use rustyhook_core::model::{DeliveryStatus, Endpoint};
use rustyhook_core::operational::{
    AttemptRef, EndpointRef, FAILING_AFTER_ATTEMPTS, OPERATIONAL_APP_UID, OperationalEvent,
    OperationalKind,
};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::RunAttempt;
use rustyhook_core::time::Millis;
use serde_json::json;

use crate::AttemptRecord;

/// The condition that leaves the operational app out of app lists (it is rustyhook's own). The
/// uid is a constant of ours, so it is written into the SQL rather than bound.
pub(crate) const NOT_OPERATIONAL_APP: &str = "(uid IS NULL OR uid <> 'rustyhook-operational')";

/// Whether changes in the app with this uid are reported.
pub(crate) fn reported(app_uid: Option<&str>) -> bool {
    app_uid != Some(OPERATIONAL_APP_UID)
}

/// What a delivery's record names, read with the attempt.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryFacts {
    /// The app's uid.
    pub app_uid: Option<String>,
    /// The message's `eventId`.
    pub msg_event_id: Option<String>,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The endpoint's uid.
    pub endpoint_uid: Option<String>,
}

/// The events an endpoint attempt's record makes: `message.attempt.exhausted` when the delivery
/// is dead (unless only because the endpoint is disabled: see [`exhausts`]), `failing` on its fourth failed attempt, `recovered` when it succeeds after that, and
/// `endpoint.disabled` when the record disables the endpoint (`410 Gone`).
pub(crate) fn attempt_events(
    rec: &AttemptRecord,
    a: &rustyhook_core::model::Attempt,
    facts: DeliveryFacts,
) -> Vec<OperationalEvent> {
    if !reported(facts.app_uid.as_deref()) {
        return Vec::new();
    }
    let about = AttemptRef {
        app_id: a.app_id.to_string(),
        app_uid: facts.app_uid.clone(),
        msg_id: a.msg_id.to_string(),
        msg_event_id: facts.msg_event_id,
        endpoint_id: a.endpoint_id.to_string(),
        attempt_id: a.id.to_string(),
        attempt_at: a.created_at,
        status_code: a.status_code,
    };
    let mut kinds = Vec::new();
    let failed = matches!(rec.status, DeliveryStatus::Failed | DeliveryStatus::Dead);
    if failed && facts.attempts == FAILING_AFTER_ATTEMPTS {
        kinds.push(OperationalKind::AttemptFailing);
    }
    if exhausts(rec, a.outcome) {
        kinds.push(OperationalKind::AttemptExhausted);
    }
    if rec.status == DeliveryStatus::Succeeded && facts.attempts > FAILING_AFTER_ATTEMPTS {
        kinds.push(OperationalKind::AttemptRecovered);
    }
    let mut events: Vec<_> = kinds
        .into_iter()
        .map(|k| about.event(k, a.created_at))
        .collect();
    if rec.disable_endpoint {
        let endpoint = EndpointRef {
            app_id: about.app_id,
            app_uid: facts.app_uid,
            endpoint_id: about.endpoint_id,
            endpoint_uid: facts.endpoint_uid,
            failing_since: Some(a.created_at),
        };
        events.push(OperationalEvent::endpoint(
            OperationalKind::EndpointDisabled,
            &endpoint,
            a.created_at,
        ));
    }
    events
}

/// Whether a record that ends its delivery dead reports `message.attempt.exhausted`: not when
/// the attempt was never sent because the endpoint is disabled (`E_ENDPOINT_DISABLED`). An
/// auto-disabled endpoint with a backlog would otherwise send the operator one event per
/// message, when `endpoint.disabled` already told them.
fn exhausts(rec: &AttemptRecord, outcome: OutcomeCode) -> bool {
    rec.status == DeliveryStatus::Dead && outcome != OutcomeCode::EndpointDisabled
}

/// `handler.run.failed` when a run's record ends it dead.
pub(crate) fn run_events(rec: &AttemptRecord, a: &RunAttempt) -> Vec<OperationalEvent> {
    if rec.status != DeliveryStatus::Dead {
        return Vec::new();
    }
    let data = json!({
        "handlerId": a.handler_id,
        "runId": a.run_id.as_str(),
        "lastAttempt": {
            "id": a.id.as_str(),
            "timestamp": rustyhook_core::time::to_rfc3339(a.created_at),
            "outcome": a.outcome.as_str(),
            "exitCode": a.exit_code,
        },
    });
    vec![OperationalEvent::new(
        OperationalKind::HandlerRunFailed,
        data,
        a.created_at,
    )]
}

/// The new `failing_since` of an endpoint after an attempt with `outcome` at `at`: cleared by a
/// success, set by the first failure after one, kept otherwise (`None` = no change wanted).
pub(crate) fn failing_since_change(outcome: OutcomeCode, at: Millis) -> FailingSince {
    match outcome {
        OutcomeCode::Ok => FailingSince::Clear,
        // An attempt that was never sent says nothing about the endpoint.
        OutcomeCode::EndpointDisabled | OutcomeCode::NoContent => FailingSince::Keep,
        _ => FailingSince::SetIfUnset(at),
    }
}

/// Whether an endpoint attempt's record can make an event, given the delivery's attempts so far
/// (`None`: the record did not move the delivery on): a cheap test before reading what an event
/// names.
pub(crate) fn may_report(rec: &AttemptRecord, outcome: OutcomeCode, attempts: Option<u32>) -> bool {
    if rec.disable_endpoint {
        return true;
    }
    let Some(n) = attempts else { return false };
    match rec.status {
        DeliveryStatus::Dead => exhausts(rec, outcome) || n == FAILING_AFTER_ATTEMPTS,
        DeliveryStatus::Failed => n == FAILING_AFTER_ATTEMPTS,
        DeliveryStatus::Succeeded => n > FAILING_AFTER_ATTEMPTS,
        _ => false,
    }
}

/// How a batch of attempts moves its endpoints' `failing_since`, in the batch's order, so a
/// backend can write it in a few statements: per endpoint, the last success clears it, and a
/// failure after that sets it (unconditionally when the batch cleared it first, else only if
/// unset).
#[derive(Debug, Default)]
pub(crate) struct FailingChanges {
    /// Per endpoint, what to write.
    pub by_endpoint: std::collections::BTreeMap<String, FailingWrite>,
}

/// What a batch writes to one endpoint's `failing_since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailingWrite {
    /// Clear it (`NULL`).
    Clear,
    /// Set it if unset.
    SetIfUnset(Millis),
    /// Set it (it was cleared earlier in the batch).
    Set(Millis),
}

impl FailingChanges {
    /// Notes an attempt, after those noted before it.
    pub(crate) fn note(&mut self, a: &rustyhook_core::model::Attempt) {
        let key = a.endpoint_id.as_str().to_owned();
        let before = self.by_endpoint.get(&key).copied();
        let next = match (failing_since_change(a.outcome, a.created_at), before) {
            (FailingSince::Keep, _) => return,
            (FailingSince::Clear, _) => FailingWrite::Clear,
            (FailingSince::SetIfUnset(at), None) => FailingWrite::SetIfUnset(at),
            (FailingSince::SetIfUnset(at), Some(FailingWrite::Clear)) => FailingWrite::Set(at),
            (FailingSince::SetIfUnset(_), Some(kept)) => kept,
        };
        self.by_endpoint.insert(key, next);
    }
}

/// How an attempt moves an endpoint's `failing_since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailingSince {
    /// A success: the endpoint is not failing.
    Clear,
    /// A failure: failing since now, unless already failing.
    SetIfUnset(Millis),
    /// Nothing learned.
    Keep,
}

/// The `endpoint.*` events an update from `before` to `after` makes: `endpoint.updated`, plus
/// `endpoint.enabled` or `endpoint.disabled` when that flag changed.
pub(crate) fn update_kinds(before_disabled: bool, after: &Endpoint) -> Vec<OperationalKind> {
    let mut kinds = vec![OperationalKind::EndpointUpdated];
    match (before_disabled, after.disabled) {
        (true, false) => kinds.push(OperationalKind::EndpointEnabled),
        (false, true) => kinds.push(OperationalKind::EndpointDisabled),
        _ => {}
    }
    kinds
}

/// What an `endpoint.*` event about `e` names, given its app's uid.
pub(crate) fn endpoint_ref(e: &Endpoint, app_uid: Option<String>) -> EndpointRef {
    EndpointRef {
        app_id: e.app_id.to_string(),
        app_uid,
        endpoint_id: e.id.to_string(),
        endpoint_uid: e.uid.as_ref().map(|u| u.as_str().to_owned()),
        failing_since: None,
    }
}

/// `source.rejected` about a rejected broker message.
pub(crate) fn rejected_event(r: &crate::RejectedMessage) -> OperationalEvent {
    let data = json!({
        "source": r.source,
        "brokerId": r.broker_id,
        "reason": r.reason,
        "rejectedId": r.id,
    });
    OperationalEvent::new(OperationalKind::SourceRejected, data, r.created_at)
}

#[cfg(test)]
mod tests {
    use rustyhook_core::id::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
    use rustyhook_core::model::{Attempt, TriggerType};

    use super::*;
    use crate::Attempted;

    fn record(status: DeliveryStatus, outcome: OutcomeCode) -> (AttemptRecord, Attempt) {
        let a = Attempt {
            id: AttemptId::generate(1),
            delivery_id: DeliveryId::generate(1),
            msg_id: MessageId::generate(1),
            endpoint_id: EndpointId::generate(1),
            app_id: AppId::generate(1),
            url: "https://example.com".into(),
            outcome,
            status_code: 500,
            response: None,
            duration_ms: 1,
            trigger: TriggerType::Scheduled,
            created_at: 1,
            request_headers: None,
        };
        let rec = AttemptRecord {
            attempt: Attempted::Endpoint(a.clone()),
            status,
            next_attempt_at: None,
            disable_endpoint: false,
            leased_to: None,
        };
        (rec, a)
    }

    fn facts(app_uid: Option<&str>, attempts: u32) -> DeliveryFacts {
        DeliveryFacts {
            app_uid: app_uid.map(str::to_owned),
            msg_event_id: None,
            attempts,
            endpoint_uid: None,
        }
    }

    fn types(events: &[OperationalEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_type.as_str()).collect()
    }

    #[test]
    fn the_fourth_failure_is_failing_the_last_is_exhausted_and_a_late_success_recovered() {
        let (rec, a) = record(DeliveryStatus::Failed, OutcomeCode::HttpStatus);
        assert!(attempt_events(&rec, &a, facts(None, 3)).is_empty());
        assert_eq!(
            types(&attempt_events(&rec, &a, facts(None, 4))),
            ["message.attempt.failing"]
        );
        let (dead, a) = record(DeliveryStatus::Dead, OutcomeCode::HttpStatus);
        assert_eq!(
            types(&attempt_events(&dead, &a, facts(Some("x"), 2))),
            ["message.attempt.exhausted"]
        );
        let (unsent, a) = record(DeliveryStatus::Dead, OutcomeCode::EndpointDisabled);
        assert!(attempt_events(&unsent, &a, facts(Some("x"), 1)).is_empty());
        assert!(!may_report(&unsent, a.outcome, Some(1)));
        let (ok, a) = record(DeliveryStatus::Succeeded, OutcomeCode::Ok);
        assert!(attempt_events(&ok, &a, facts(None, 4)).is_empty());
        assert_eq!(
            types(&attempt_events(&ok, &a, facts(None, 5))),
            ["message.attempt.recovered"]
        );
    }

    #[test]
    fn the_app_list_condition_names_the_operational_app() {
        assert!(NOT_OPERATIONAL_APP.contains(&format!("'{OPERATIONAL_APP_UID}'")));
    }

    #[test]
    fn nothing_about_the_operational_app_is_reported() {
        let (dead, a) = record(DeliveryStatus::Dead, OutcomeCode::HttpStatus);
        assert!(attempt_events(&dead, &a, facts(Some(OPERATIONAL_APP_UID), 4)).is_empty());
    }

    #[test]
    fn a_batch_keeps_the_first_failure_after_the_last_success() {
        let endpoint = EndpointId::generate(1);
        let at = |outcome, t| {
            let (_, mut a) = record(DeliveryStatus::Failed, outcome);
            a.created_at = t;
            a.endpoint_id = endpoint.clone();
            a
        };
        let mut c = FailingChanges::default();
        c.note(&at(OutcomeCode::Timeout, 1));
        c.note(&at(OutcomeCode::Timeout, 2));
        assert_eq!(
            c.by_endpoint.values().copied().collect::<Vec<_>>(),
            [FailingWrite::SetIfUnset(1)]
        );
        let mut c = FailingChanges::default();
        c.note(&at(OutcomeCode::Timeout, 1));
        c.note(&at(OutcomeCode::Ok, 2));
        c.note(&at(OutcomeCode::Timeout, 3));
        c.note(&at(OutcomeCode::Timeout, 4));
        assert_eq!(
            c.by_endpoint.values().copied().collect::<Vec<_>>(),
            [FailingWrite::Set(3)]
        );
    }

    #[test]
    fn a_success_clears_failing_since_and_an_unsent_attempt_leaves_it() {
        assert_eq!(
            failing_since_change(OutcomeCode::Ok, 5),
            FailingSince::Clear
        );
        assert_eq!(
            failing_since_change(OutcomeCode::Timeout, 5),
            FailingSince::SetIfUnset(5)
        );
        assert_eq!(
            failing_since_change(OutcomeCode::EndpointDisabled, 5),
            FailingSince::Keep
        );
    }
}
