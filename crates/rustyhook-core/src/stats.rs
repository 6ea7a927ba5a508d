//! Stats over time: what is counted per time bucket, the fixed latency histogram, and the
//! percentiles read back from it. Pure: the store adds counts up, the API reads them through
//! these types.
//!
//! Counts are kept per scope (server-wide, an app, an endpoint, a handler, a broker source) in
//! minute and hour buckets. Every counter is additive, so two nodes adding to the same bucket
//! add up; latency is a histogram over fixed boundaries, so a percentile over any window is
//! read from the merged counts, never averaged from averages. Queue depth and the oldest
//! pending age are gauges, sampled and merged by taking the highest.

use crate::outcome::OutcomeCode;
use crate::time::Millis;

/// The upper bounds (inclusive, in milliseconds) of the latency histogram's buckets; one more
/// bucket holds everything slower than the last bound.
pub const LATENCY_BOUNDS_MS: [i64; 14] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
];

/// How many latency buckets a row has: one per bound, and the overflow.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The histogram bucket a duration falls in.
pub fn latency_bucket(duration_ms: i64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| duration_ms <= *bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// How wide a time bucket is: `minute` or `hour` in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(as = StatsBucket, rename_all = "lowercase")
)]
pub enum Width {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

impl Width {
    /// Both widths, each written on every count.
    pub const ALL: [Self; 2] = [Self::Minute, Self::Hour];

    /// The width in milliseconds, as stored.
    pub fn millis(self) -> Millis {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
        }
    }

    /// The name used in the API (`bucket=minute`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
        }
    }

    /// Reads `minute` or `hour`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "minute" => Some(Self::Minute),
            "hour" => Some(Self::Hour),
            _ => None,
        }
    }

    /// The start of the bucket `at` falls in.
    pub fn start_of(self, at: Millis) -> Millis {
        at.div_euclid(self.millis()) * self.millis()
    }
}

/// What a scope's stats are of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Everything this installation did.
    Server,
    /// One app's endpoints, by app id.
    App(String),
    /// One endpoint, by id.
    Endpoint(String),
    /// One handler's runs, by handler id.
    Handler(String),
    /// One broker source, by name.
    Source(String),
}

impl Scope {
    /// The kind, as stored and shown.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::App(_) => "app",
            Self::Endpoint(_) => "endpoint",
            Self::Handler(_) => "handler",
            Self::Source(_) => "source",
        }
    }

    /// The id within the kind; empty for the server.
    pub fn id(&self) -> &str {
        match self {
            Self::Server => "",
            Self::App(id) | Self::Endpoint(id) | Self::Handler(id) | Self::Source(id) => id,
        }
    }

    /// The scope of a [`kind`](Self::kind) and [`id`](Self::id); `None` for an unknown kind.
    pub fn of_kind(kind: &str, id: String) -> Option<Self> {
        Some(match kind {
            "server" => Self::Server,
            "app" => Self::App(id),
            "endpoint" => Self::Endpoint(id),
            "handler" => Self::Handler(id),
            "source" => Self::Source(id),
            _ => return None,
        })
    }
}

/// How an attempt ended, as stats count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptClass {
    /// A 2xx response, or a command that exited 0.
    Ok,
    /// The target answered no: a non-2xx status, or a non-zero exit code.
    Rejected,
    /// No answer within the timeout.
    Timeout,
    /// Anything else: no connection, DNS, TLS, a blocked address, a command that did not start.
    Other,
}

impl From<OutcomeCode> for AttemptClass {
    fn from(code: OutcomeCode) -> Self {
        match code {
            OutcomeCode::Ok => Self::Ok,
            OutcomeCode::HttpStatus | OutcomeCode::ExitCode => Self::Rejected,
            OutcomeCode::Timeout => Self::Timeout,
            _ => Self::Other,
        }
    }
}

/// The counts of one scope in one bucket (or summed over a window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempts that succeeded.
    pub ok: i64,
    /// Attempts the target answered with a failure (non-2xx, non-zero exit).
    pub rejected: i64,
    /// Attempts that timed out.
    pub timeout: i64,
    /// Attempts that failed otherwise (connection, DNS, TLS, spawn…).
    pub other: i64,
    /// Attempts by duration, over [`LATENCY_BOUNDS_MS`].
    pub latency: [i64; LATENCY_BUCKETS],
    /// Deliveries (or runs) created.
    pub created: i64,
    /// Deliveries (or runs) that exhausted their attempts.
    pub dead: i64,
    /// Broker messages stored (sources).
    pub stored: i64,
    /// Broker messages rejected (sources).
    pub source_rejected: i64,
    /// Broker messages delivered again and already stored (sources).
    pub duplicate: i64,
    /// The highest queue depth sampled in the bucket; `None` when none was.
    pub depth: Option<i64>,
    /// The oldest pending age sampled in the bucket, in ms; `None` when none was.
    pub oldest_pending_ms: Option<i64>,
}

impl Counts {
    /// Counts one attempt.
    pub fn attempt(&mut self, outcome: OutcomeCode, duration_ms: i64) {
        match AttemptClass::from(outcome) {
            AttemptClass::Ok => self.ok += 1,
            AttemptClass::Rejected => self.rejected += 1,
            AttemptClass::Timeout => self.timeout += 1,
            AttemptClass::Other => self.other += 1,
        }
        self.latency[latency_bucket(duration_ms)] += 1;
    }

    /// Every attempt, whatever its outcome.
    pub fn attempts(&self) -> i64 {
        self.ok + self.rejected + self.timeout + self.other
    }

    /// Attempts that succeeded over all attempts; `None` when there were none.
    pub fn success_rate(&self) -> Option<f64> {
        let all = self.attempts();
        (all > 0).then(|| self.ok as f64 / all as f64)
    }

    /// Adds `other`'s counts to these: counters add, gauges keep the highest.
    pub fn merge(&mut self, o: &Self) {
        self.ok += o.ok;
        self.rejected += o.rejected;
        self.timeout += o.timeout;
        self.other += o.other;
        for (mine, theirs) in self.latency.iter_mut().zip(o.latency) {
            *mine += theirs;
        }
        self.created += o.created;
        self.dead += o.dead;
        self.stored += o.stored;
        self.source_rejected += o.source_rejected;
        self.duplicate += o.duplicate;
        self.depth = self.depth.max(o.depth);
        self.oldest_pending_ms = self.oldest_pending_ms.max(o.oldest_pending_ms);
    }

    /// The latency below which a fraction `q` (0..=1) of attempts fell, in ms, interpolated
    /// linearly within the histogram bucket it lands in (the overflow bucket answers its lower
    /// bound). `None` when no attempt was counted.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let total: i64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut below = 0i64;
        for (i, n) in self.latency.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            if (below + n) as f64 >= rank {
                let low = if i == 0 { 0 } else { LATENCY_BOUNDS_MS[i - 1] };
                let Some(high) = LATENCY_BOUNDS_MS.get(i) else {
                    return Some(low as f64);
                };
                let within = (rank - below as f64) / *n as f64;
                return Some(low as f64 + within * (high - low) as f64);
            }
            below += n;
        }
        Some(*LATENCY_BOUNDS_MS.last().expect("the bounds are not empty") as f64)
    }

    /// Whether nothing at all was counted.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One bucket of a scope's series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// When the bucket starts.
    pub start: Millis,
    /// What was counted in it.
    pub counts: Counts,
}

/// The window `[since, until)` widened to whole buckets: `since` down to its bucket's start,
/// `until` up to the next bucket boundary.
pub fn align(width: Width, since: Millis, until: Millis) -> (Millis, Millis) {
    let start = width.start_of(since);
    let end = width.start_of(until - 1) + width.millis();
    (start, end.max(start + width.millis()))
}

/// Every bucket of `[since, until)` (aligned), the stored ones as they are and the others with
/// zero counts, so a chart has no gaps. `stored` must be ordered by start.
pub fn fill(width: Width, since: Millis, until: Millis, stored: Vec<Bucket>) -> Vec<Bucket> {
    let (start, end) = align(width, since, until);
    let mut stored = stored.into_iter().peekable();
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        while stored.peek().is_some_and(|b| b.start < at) {
            stored.next();
        }
        let counts = match stored.peek() {
            Some(b) if b.start == at => stored.next().map(|b| b.counts).unwrap_or_default(),
            _ => Counts::default(),
        };
        out.push(Bucket { start: at, counts });
        at += width.millis();
    }
    out
}

/// How many buckets `[since, until)` spans once aligned.
pub fn bucket_count(width: Width, since: Millis, until: Millis) -> i64 {
    let (start, end) = align(width, since, until);
    (end - start) / width.millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_latencies(ms: &[i64]) -> Counts {
        let mut c = Counts::default();
        for d in ms {
            c.attempt(OutcomeCode::Ok, *d);
        }
        c
    }

    #[test]
    fn durations_fall_in_the_bucket_whose_bound_is_the_first_not_below_them() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(2), 1);
        assert_eq!(latency_bucket(3), 2);
        assert_eq!(latency_bucket(30_000), 13);
        assert_eq!(latency_bucket(30_001), 14);
    }

    #[test]
    fn percentiles_come_from_the_merged_histogram_not_from_averages() {
        // 90 fast attempts in one bucket and 10 slow ones in another: merged, p50 is fast and
        // p99 is slow, which no average of the two buckets' averages would say.
        let mut fast = with_latencies(&[3; 90]);
        let slow = with_latencies(&[2_000; 10]);
        fast.merge(&slow);
        let p50 = fast.percentile(0.5).expect("attempts were counted");
        let p99 = fast.percentile(0.99).expect("attempts were counted");
        assert!((2.0..=5.0).contains(&p50), "p50 {p50}");
        assert!((1_000.0..=2_500.0).contains(&p99), "p99 {p99}");
        assert_eq!(Counts::default().percentile(0.5), None);
        assert_eq!(with_latencies(&[60_000]).percentile(0.99), Some(30_000.0));
    }

    #[test]
    fn gauges_merge_to_the_highest_and_counters_add() {
        let mut a = Counts {
            ok: 2,
            depth: Some(5),
            ..Counts::default()
        };
        let b = Counts {
            ok: 3,
            dead: 1,
            depth: Some(9),
            oldest_pending_ms: Some(100),
            ..Counts::default()
        };
        a.merge(&b);
        assert_eq!(
            (a.ok, a.dead, a.depth, a.oldest_pending_ms),
            (5, 1, Some(9), Some(100))
        );
        assert_eq!(a.success_rate(), Some(1.0));
    }

    #[test]
    fn a_window_is_filled_with_empty_buckets_where_nothing_was_stored() {
        let stored = vec![Bucket {
            start: 120_000,
            counts: with_latencies(&[1]),
        }];
        let series = fill(Width::Minute, 61_000, 239_999, stored);
        let starts: Vec<_> = series.iter().map(|b| b.start).collect();
        assert_eq!(starts, [60_000, 120_000, 180_000]);
        assert_eq!(series[1].counts.ok, 1);
        assert!(series[0].counts.is_empty() && series[2].counts.is_empty());
        assert_eq!(bucket_count(Width::Hour, 0, 1), 1);
        assert_eq!(bucket_count(Width::Minute, 0, 3_600_000), 60);
    }
}
