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
