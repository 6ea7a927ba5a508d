//! Stats over time, the part that is not counted on the write path: the queue's depth and its
//! oldest waiting work, sampled once a minute by the node that leads (the one SQLite node, or
//! the schedules' leader among PostgreSQL nodes) into the server's buckets.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::stats::Width;
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::Store;
use tokio_util::sync::CancellationToken;

use crate::cluster::Leader;

/// How long to wait from `now` until just past the next minute boundary, so each minute bucket
/// gets one sample taken inside it.
fn until_next_minute(now: Millis) -> Duration {
    let minute = Width::Minute.millis();
    let next = Width::Minute.start_of(now) + minute + 1_000;
    Duration::from_millis(u64::try_from(next - now).unwrap_or(0))
}

/// Samples the queue now and at the start of every minute while this node leads, until `stop`.
pub async fn sample_queue(store: Arc<dyn Store>, leader: Leader, stop: CancellationToken) {
    loop {
        if leader.is_leader()
            && let Err(e) = store.stats_sample(now_millis()).await
        {
            tracing::warn!(error = %e, "could not sample the queue for the stats");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(until_next_minute(now_millis())) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_taken_just_after_each_minute_starts() {
        assert_eq!(until_next_minute(120_000), Duration::from_secs(61));
        assert_eq!(until_next_minute(179_999), Duration::from_millis(1_001));
    }
}
