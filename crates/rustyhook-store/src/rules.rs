//! The decisions every backend makes the same way, kept apart from SQL: which endpoints a message
//! goes to, what a resend creates, how delivery states count, when an idempotency key is free,
//! and whether a scheduled tick is new.

use rustyhook_core::filter::endpoint_receives;
use rustyhook_core::id::DeliveryId;
use rustyhook_core::model::{Delivery, DeliveryStatus, Endpoint, Message};
use rustyhook_core::time::Millis;

use crate::{EndpointStats, IdempotencyBegin, NewMessage};

/// The deliveries a new message creates: one per endpoint (of the app's enabled ones) that is
/// targeted and whose filters accept the message, due at once.
pub(crate) fn fan_out<'a>(
    new: &NewMessage,
    endpoints: impl IntoIterator<Item = &'a Endpoint>,
) -> Vec<Delivery> {
    let m = &new.message;
    endpoints
        .into_iter()
        .filter(|e| new.only_endpoint.as_ref().is_none_or(|id| *id == e.id))
        .filter(|e| endpoint_receives(e, m))
        .map(|e| Delivery {
            id: DeliveryId::generate(m.created_at),
            msg_id: m.id.clone(),
            endpoint_id: e.id.clone(),
            app_id: m.app_id.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(new.deliver_at.unwrap_or(m.created_at)),
            created_at: m.created_at,
            updated_at: m.created_at,
        })
        .collect()
}

/// The delivery a resend creates when the message never went to the endpoint.
pub(crate) fn resend_delivery(msg: &Message, endpoint: &Endpoint, now: Millis) -> Delivery {
    Delivery {
        id: DeliveryId::generate(now),
        msg_id: msg.id.clone(),
        endpoint_id: endpoint.id.clone(),
        app_id: msg.app_id.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

/// Stored status names whose Svix status is `svix`, for filtering by it.
pub(crate) fn statuses_with_svix_status(svix: u8) -> Vec<String> {
    [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Dead,
        DeliveryStatus::Canceled,
    ]
    .into_iter()
    .filter(|d| d.svix_status() == svix)
    .map(|d| d.as_str().to_owned())
    .collect()
}

/// Adds up `(stored status, count)` pairs into an endpoint's statistics.
pub(crate) fn endpoint_stats(counts: impl IntoIterator<Item = (String, i64)>) -> EndpointStats {
    let mut stats = EndpointStats::default();
    for (status, n) in counts {
        match status.as_str() {
            "succeeded" => stats.success += n,
            "pending" | "failed" => stats.pending += n,
            "sending" => stats.sending += n,
            "canceled" => stats.canceled += n,
            _ => stats.fail += n,
        }
    }
    stats
}

/// An idempotency key's row as found: state, saved status, saved body, created at.
pub(crate) type IdempotencyRow = (String, Option<u16>, Option<Vec<u8>>, Millis);

/// Whether a request may take `found`'s key: it is unused, expired, or was started by a request
/// that has been silent past `stale_before` (it died).
pub(crate) fn idempotency_free(
    found: Option<&IdempotencyRow>,
    stale_before: Millis,
    expire_before: Millis,
) -> bool {
    match found {
        None => true,
        Some((_, _, _, created)) if *created < expire_before => true,
        Some((state, _, _, created)) => state == "started" && *created < stale_before,
    }
}

/// What a request finds when the key is taken: the saved response, or a request in progress.
pub(crate) fn idempotency_taken(found: Option<IdempotencyRow>) -> IdempotencyBegin {
    match found {
        Some((state, Some(status), body, _)) if state == "done" => IdempotencyBegin::Completed {
            status,
            body: body.unwrap_or_default(),
        },
        _ => IdempotencyBegin::InProgress,
    }
}

/// The column of `deliveries` that names `target`, and its value: what recovers and lanes
/// select by.
pub(crate) fn target_column(target: &crate::Target) -> (&'static str, &str) {
    match target {
        crate::Target::Endpoint(id) => ("endpoint_id", id.as_str()),
        crate::Target::Handler(id) => ("handler_id", id.as_str()),
    }
}

/// Whether `tick` is later than the last tick stored (`current`): an absent or unreadable value
/// counts as no tick yet.
pub(crate) fn tick_is_new(current: Option<&str>, tick: Millis) -> bool {
    current
        .and_then(|v| v.parse::<Millis>().ok())
        .is_none_or(|last| last < tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_new_unless_the_stored_one_is_as_late_or_later() {
        assert!(tick_is_new(None, 5));
        assert!(tick_is_new(Some("not a number"), 5));
        assert!(tick_is_new(Some("4"), 5));
        assert!(!tick_is_new(Some("5"), 5));
        assert!(!tick_is_new(Some("6"), 5));
    }

    #[test]
    fn a_started_key_is_taken_over_only_once_stale() {
        let started = ("started".to_owned(), None, None, 100);
        assert!(!idempotency_free(Some(&started), 50, 0));
        assert!(idempotency_free(Some(&started), 150, 0));
        let done = ("done".to_owned(), Some(200), None, 100);
        assert!(!idempotency_free(Some(&done), 150, 0));
        assert!(idempotency_free(Some(&done), 150, 101));
    }
}
