//! Deletes what has outlived its window, at start and every ten minutes: idempotency keys past
//! [`idempotency::KEEP`] (their saved answers may hold secrets), audit entries past
//! `auth.audit_retention`, background tasks past 90 days, and stats buckets past
//! `stats.minute_retention` and `stats.hour_retention`. One loop for all, so each new kind of
//! expiring record is one more line here, not one more task.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::settings::StatsSettings;
use rustyhook_core::stats::Width;
use rustyhook_core::time::now_millis;
use rustyhook_store::Store;
use tokio_util::sync::CancellationToken;

use super::idempotency;

/// How often expired records are deleted.
const EVERY: Duration = Duration::from_secs(10 * 60);

/// How long background tasks are kept: Svix lists those of the past 90 days.
const TASKS_KEEP: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// How long the live feed keeps endpoint changes: far longer than a client stays away and
/// resumes (attempts are kept as long as their messages).
const FEED_CHANGES_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs until `stop` is cancelled.
pub async fn purge_expired(
    store: Arc<dyn Store>,
    audit_retention: Duration,
    stats: StatsSettings,
    stop: CancellationToken,
) {
    let ago = |d: Duration| now_millis() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    loop {
        report(
            "idempotency keys",
            store.idempotency_purge(ago(idempotency::KEEP)).await,
        );
        report(
            "audit entries",
            store.audit_purge(ago(audit_retention)).await,
        );
        report("background tasks", store.task_purge(ago(TASKS_KEEP)).await);
        report(
            "endpoint changes of the live feed",
            store.feed_purge(ago(FEED_CHANGES_KEEP)).await,
        );
        report(
            "minute stats",
            store
                .stats_purge(Width::Minute, ago(stats.minute_retention))
                .await,
        );
        report(
            "hour stats",
            store
                .stats_purge(Width::Hour, ago(stats.hour_retention))
                .await,
        );
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

fn report(what: &'static str, purged: rustyhook_store::StoreResult<u64>) {
    match purged {
        Ok(0) => {}
        Ok(n) => tracing::debug!(purged = n, what, "deleted expired records"),
        Err(e) => tracing::warn!(error = %e, what, "could not delete expired records"),
    }
}
