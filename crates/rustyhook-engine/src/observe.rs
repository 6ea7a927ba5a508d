//! Every metric the engine emits, so names and labels are defined once.

use std::time::Duration;

use rustyhook_core::outcome::OutcomeCode;

/// Messages accepted into the store.
pub fn message_accepted(deliveries: usize) {
    metrics::counter!("rustyhook_messages_total").increment(1);
    metrics::counter!("rustyhook_deliveries_created_total").increment(deliveries as u64);
}

/// An attempt finished with `outcome` after `took`.
pub fn attempt_finished(outcome: OutcomeCode, took: Duration) {
    metrics::counter!("rustyhook_attempts_total", "outcome" => outcome.as_str()).increment(1);
    metrics::histogram!("rustyhook_attempt_duration_seconds").record(took.as_secs_f64());
}

/// A handler run's attempt finished with `outcome` after `took`: counted apart from webhook
/// attempts, so that each keeps its own rates.
pub fn run_attempt_finished(outcome: OutcomeCode, took: Duration) {
    metrics::counter!("rustyhook_run_attempts_total", "outcome" => outcome.as_str()).increment(1);
    metrics::histogram!("rustyhook_run_duration_seconds").record(took.as_secs_f64());
}

/// A handler run failed its last retry: a dead letter of its handler.
pub fn run_dead() {
    metrics::counter!("rustyhook_runs_dead_total").increment(1);
}

/// An endpoint's circuit breaker opened on this node.
pub fn breaker_opened() {
    metrics::counter!("rustyhook_breaker_opened_total").increment(1);
}

/// A delivery succeeded `latency` after its message was accepted.
pub fn delivered(latency: Duration) {
    metrics::histogram!("rustyhook_delivery_latency_seconds").record(latency.as_secs_f64());
}

/// A delivery exhausted its attempts.
pub fn delivery_dead() {
    metrics::counter!("rustyhook_deliveries_dead_total").increment(1);
}

/// Deliveries held in the dispatcher's memory right now.
pub fn in_memory_queue(depth: usize) {
    metrics::gauge!("rustyhook_dispatcher_queued").set(depth as f64);
}

/// Attempts in flight right now.
pub fn in_flight(n: usize) {
    metrics::gauge!("rustyhook_attempts_in_flight").set(n as f64);
}

/// A broker source took a message: `stored` or `rejected`.
pub fn source_message(source: &str, outcome: &'static str) {
    metrics::counter!("rustyhook_source_messages_total", "source" => source.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// This node found it had been taken for dead and dropped the work it held.
pub fn node_revoked() {
    metrics::counter!("rustyhook_node_revoked_total").increment(1);
}

/// A delivery or run held in memory was dropped unsent because this node no longer holds it.
pub fn dropped_not_held(n: usize) {
    metrics::counter!("rustyhook_work_dropped_not_held_total").increment(n as u64);
}

/// A write of results to the store failed and will be tried again: `what` is `attempts` or
/// `runs`, `kind` the error's kind.
pub fn store_write_retried(what: &'static str, kind: &'static str) {
    metrics::counter!("rustyhook_store_write_retries_total", "what" => what, "kind" => kind)
        .increment(1);
}

/// The store's state as the health monitor last saw it: one gauge per state, 1 for the
/// current one.
pub fn store_state(state: &'static str) {
    for s in ["up", "down", "full"] {
        metrics::gauge!("rustyhook_store_state", "state" => s).set(if s == state {
            1.0
        } else {
            0.0
        });
    }
}

/// A call to the store failed: `kind` is `unavailable`, `full` or `other`.
pub fn store_error(kind: &'static str) {
    metrics::counter!("rustyhook_store_errors_total", "kind" => kind).increment(1);
}

/// Clients connected to the live feed (`GET /api/v1/stream`) of this node right now.
pub fn stream_clients(n: usize) {
    metrics::gauge!("rustyhook_stream_clients").set(n as f64);
}

/// A live-feed client read too slowly and missed `n` events of the node's ring; it reads them
/// again from the store.
pub fn stream_dropped(n: u64) {
    metrics::counter!("rustyhook_stream_events_dropped_total").increment(n);
}

/// Alerts of the rule named `rule` firing now, as the node that evaluates the rules last
/// found.
pub fn alerts_firing(rule: &str, n: usize) {
    metrics::gauge!("rustyhook_alerts_firing", "rule" => rule.to_owned()).set(n as f64);
}
