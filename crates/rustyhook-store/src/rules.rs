//! The decisions every backend makes the same way, kept apart from SQL: which endpoints a message
//! goes to, what a resend creates, how delivery states count, when an idempotency key is free,
//! whether a scheduled tick is new, and what a finished background task records.

use rustyhook_core::filter::endpoint_receives;
use rustyhook_core::id::{AppId, DeliveryId, TaskId};
use rustyhook_core::model::{Delivery, DeliveryStatus, Endpoint, Message};
use rustyhook_core::time::Millis;

use crate::task::{BackgroundTask, TaskKind, TaskStatus};
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

/// The record of a task that ran within its request: finished at `now`, having done `n` things,
/// which `data` names both as Svix documents it (`messagesSent`) and as rustyhook's own word for
/// the kind (`recovered`, `replayed`).
pub(crate) fn finished_task(app: &AppId, kind: TaskKind, n: u64, now: Millis) -> BackgroundTask {
    let own_word = match kind {
        TaskKind::EndpointRecover => "recovered",
        TaskKind::EndpointReplay => "replayed",
    };
    let mut data = serde_json::Map::new();
    data.insert(own_word.into(), n.into());
    data.insert("messagesSent".into(), n.into());
    BackgroundTask {
        id: TaskId::generate(now),
        app_id: app.clone(),
        kind,
        status: TaskStatus::Finished,
        data,
        created_at: now,
        updated_at: now,
    }
}

/// Digits a replayed delivery's id gets after [`replay_id_prefix`]: its row number in the replay,
/// zero-padded, so a replay may create at most 999 999 deliveries.
pub(crate) const REPLAY_ID_DIGITS: usize = 6;

/// The start of the ids of the deliveries one replay creates in SQL: `dlv_` and 16 characters
/// of a fresh id's body (its time, then about 47 random bits of its own). The statement appends
/// each row's number as [`REPLAY_ID_DIGITS`] decimal digits, so the ids are well-formed (22
/// base62 characters), sort by creation time, and differ from those of any other replay.
pub(crate) fn replay_id_prefix(now: Millis) -> String {
    DeliveryId::bulk_prefix(now, REPLAY_ID_DIGITS)
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
    fn replayed_delivery_ids_are_well_formed_and_sort_by_time_then_row() {
        let prefix = replay_id_prefix(1_000);
        let row = |n: u32| format!("{prefix}{n:0width$}", width = REPLAY_ID_DIGITS);
        let first = DeliveryId::parse(&row(1)).expect("22 base62 characters");
        let last = DeliveryId::parse(&row(999_999)).expect("22 base62 characters");
        assert!(first < last);
        assert!(
            DeliveryId::generate(999) < first,
            "an earlier id sorts before"
        );
        assert!(last < DeliveryId::generate(1_001), "a later id sorts after");
        assert_ne!(
            replay_id_prefix(1_000),
            prefix,
            "each replay has its own ids"
        );
    }

    #[test]
    fn a_finished_task_names_its_count_as_svix_and_rustyhook_do() {
        let app = AppId::generate(1);
        let t = finished_task(&app, TaskKind::EndpointReplay, 3, 50);
        assert_eq!(t.status, TaskStatus::Finished);
        assert_eq!((t.created_at, t.updated_at), (50, 50));
        assert_eq!(
            serde_json::Value::Object(t.data),
            serde_json::json!({"replayed": 3, "messagesSent": 3})
        );
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
