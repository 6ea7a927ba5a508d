//! Driving load: posting batches of messages from concurrent clients, and waiting until
//! rustyhook has delivered and recorded them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::api::{Metrics, Target};
use crate::report::message_body;

/// The outcome of posting a batch of messages.
pub struct Posted {
    /// Messages the API answered with 202.
    pub accepted: u64,
    /// Messages that got another status or a transport error.
    pub failed: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// From the first post to the last answer.
    pub elapsed: Duration,
}

/// Posts messages `first_seq..first_seq + n` from `concurrency` tasks sharing a counter.
pub async fn post_many(
    target: &Arc<Target>,
    first_seq: u64,
    n: u64,
    concurrency: usize,
    payload_bytes: usize,
) -> Posted {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (target, next) = (Arc::clone(target), Arc::clone(&next));
        tasks.spawn(async move {
            let (mut accepted, mut failed, mut first_error) = (0u64, 0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                match target
                    .post_message(message_body(first_seq + i, payload_bytes))
                    .await
                {
                    Ok(_) => accepted += 1,
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (accepted, failed, first_error)
        });
    }
    let mut posted = Posted {
        accepted: 0,
        failed: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let (accepted, failed, first_error) = joined.expect("posting tasks do not panic");
        posted.accepted += accepted;
        posted.failed += failed;
        if posted.first_error.is_none() {
            posted.first_error = first_error;
        }
    }
    posted.elapsed = started.elapsed();
    posted
}

/// When the receiver had every id, and when `/metrics` had every attempt recorded.
pub struct Drained {
    /// When `/metrics` first counted every message stored by a broker source; `None` if not
    /// before the deadline, or not asked for.
    pub stored_at: Option<Instant>,
    /// When the receiver first reported every id; `None` if it never did before the deadline.
    pub received_at: Option<Instant>,
    /// When `/metrics` then counted every attempt; `None` if not before the deadline.
    pub recorded_at: Option<Instant>,
    /// Distinct ids the receiver had at the last poll.
    pub distinct: u64,
    /// OK attempts counted since the baseline at the last poll.
    pub ok_delta: u64,
}

/// Polls until the receiver has seen `ids` distinct ids and the OK counter rose by `ids`
/// over `before`, or `deadline` passes. With `sourced`, also notes when the broker sources'
/// stored counter rose by `ids` (the messages came from a broker, not the API).
pub async fn wait_drained(
    target: &Target,
    ids: u64,
    before: &Metrics,
    sourced: bool,
    deadline: Instant,
) -> anyhow::Result<Drained> {
    let mut d = Drained {
        stored_at: None,
        received_at: None,
        recorded_at: None,
        distinct: 0,
        ok_delta: 0,
    };
    loop {
        if sourced && d.stored_at.is_none() {
            let stored = target.metrics().await?.source_stored;
            if stored.saturating_sub(before.source_stored) >= ids {
                d.stored_at = Some(Instant::now());
            }
        }
        if d.received_at.is_none() {
            d.distinct = target.receiver_stats().await?.distinct;
            if d.distinct >= ids {
                d.received_at = Some(Instant::now());
            }
        }
        let stored = !sourced || d.stored_at.is_some();
        if d.received_at.is_some() && stored {
            d.ok_delta = target
                .metrics()
                .await?
                .attempts_ok
                .saturating_sub(before.attempts_ok);
            if d.ok_delta >= ids {
                d.recorded_at = Some(Instant::now());
                return Ok(d);
            }
        }
        if Instant::now() > deadline {
            d.ok_delta = target
                .metrics()
                .await?
                .attempts_ok
                .saturating_sub(before.attempts_ok);
            return Ok(d);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
