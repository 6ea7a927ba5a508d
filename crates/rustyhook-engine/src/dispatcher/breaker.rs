//! An endpoint's circuit breaker: once `threshold` attempts in a row have failed over at least
//! `failing_for` (the endpoint fails every attempt, not just a burst of them), it is probed
//! rather than hammered. While the breaker is open its deliveries are not attempted
//! (they wait in the store, due at the next probe, their attempts unspent); one delivery at a
//! time goes as a probe, the first a second after opening and each next one twice as late (up
//! to a cap) while probes fail. The first success closes the breaker and the waiting
//! deliveries flow again, at the endpoint's rate limit.
//!
//! The state is this node's, kept in the endpoint's lane: no I/O here, time passed in, so the
//! rules are tested exactly.

use std::time::{Duration, Instant};

/// The first wait between probes.
const FIRST_PROBE: Duration = Duration::from_secs(1);

/// An endpoint's breaker.
#[derive(Debug)]
pub(super) struct Breaker {
    threshold: u32,
    failing_for: Duration,
    max_interval: Duration,
    failures: u32,
    /// When the current run of failures began.
    failing_since: Option<Instant>,
    open: Option<Open>,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    /// When the next probe may go.
    probe_at: Instant,
    /// The wait before the probe after next, should this one fail.
    interval: Duration,
    /// Whether a probe is in flight.
    probing: bool,
}

/// What the breaker lets a delivery do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// Closed: go.
    Go,
    /// Open, and this delivery is the probe.
    Probe,
    /// Open: wait until then, unattempted.
    Wait(Instant),
}

/// Whether the breaker changed with a result, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    None,
    Opened,
    Closed,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` failures in a row (never, for 0) once
    /// they have gone on for `failing_for`.
    pub(super) fn new(threshold: u32, failing_for: Duration, max_interval: Duration) -> Self {
        Self {
            threshold,
            failing_for,
            max_interval: max_interval.max(FIRST_PROBE),
            failures: 0,
            failing_since: None,
            open: None,
        }
    }

    /// Whether a delivery may be attempted at `now`.
    pub(super) fn gate(&mut self, now: Instant) -> Gate {
        let Some(open) = &mut self.open else {
            return Gate::Go;
        };
        if open.probing || now < open.probe_at {
            // While a probe is out, the others come back once it could have told.
            let at = if open.probing {
                now + open.interval
            } else {
                open.probe_at
            };
            return Gate::Wait(at);
        }
        open.probing = true;
        Gate::Probe
    }

    /// Takes an attempt's result: `failed` for a failure that says the endpoint is not taking
    /// deliveries (an error status, no answer), `probe` when it was the probe.
    pub(super) fn record(&mut self, failed: bool, probe: bool, now: Instant) -> Change {
        if !failed {
            self.failures = 0;
            self.failing_since = None;
            return match self.open.take() {
                Some(_) => Change::Closed,
                None => Change::None,
            };
        }
        self.failures = self.failures.saturating_add(1);
        let since = *self.failing_since.get_or_insert(now);
        match &mut self.open {
            Some(open) if probe => {
                open.probing = false;
                open.probe_at = now + open.interval;
                open.interval = (open.interval * 2).min(self.max_interval);
                Change::None
            }
            Some(_) => Change::None,
            None if self.threshold > 0
                && self.failures >= self.threshold
                && now.saturating_duration_since(since) >= self.failing_for =>
            {
                self.open = Some(Open {
                    probe_at: now + FIRST_PROBE,
                    interval: (FIRST_PROBE * 2).min(self.max_interval),
                    probing: false,
                });
                Change::Opened
            }
            None => Change::None,
        }
    }

    /// A probe that told nothing about the endpoint (its delivery was not sent: the endpoint
    /// was disabled meanwhile, the payload expunged): the next delivery may probe at once.
    pub(super) fn probe_told_nothing(&mut self, now: Instant) {
        if let Some(open) = &mut self.open {
            open.probing = false;
            open.probe_at = open.probe_at.min(now);
        }
    }

    /// Whether the breaker is open (for logs and tests).
    #[cfg(test)]
    fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_probes_one_at_a_time_backing_off_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::ZERO, Duration::from_secs(5));
        for _ in 0..2 {
            assert_eq!(b.record(true, false, t0), Change::None);
        }
        assert_eq!(b.gate(t0), Gate::Go);
        assert_eq!(b.record(true, false, t0), Change::Opened);
        assert_eq!(b.gate(t0), Gate::Wait(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.gate(t1), Gate::Probe);
        // Only one probe at a time: the others wait for its answer.
        assert!(matches!(b.gate(t1), Gate::Wait(_)));
        assert_eq!(b.record(true, true, t1), Change::None);
        // The next probe twice as late, then capped.
        assert_eq!(b.gate(t1), Gate::Wait(t1 + Duration::from_secs(2)));
        let t3 = t1 + Duration::from_secs(2);
        assert_eq!(b.gate(t3), Gate::Probe);
        b.record(true, true, t3);
        assert_eq!(b.gate(t3), Gate::Wait(t3 + Duration::from_secs(4)));
        let t7 = t3 + Duration::from_secs(4);
        assert_eq!(b.gate(t7), Gate::Probe);
        b.record(true, true, t7);
        assert_eq!(b.gate(t7), Gate::Wait(t7 + Duration::from_secs(5)));
        let t12 = t7 + Duration::from_secs(5);
        assert_eq!(b.gate(t12), Gate::Probe);
        // A probe whose delivery was not sent tells nothing: the next one goes at once.
        b.probe_told_nothing(t12);
        assert_eq!(b.gate(t12), Gate::Probe);
        assert_eq!(b.record(false, true, t12), Change::Closed);
        assert!(!b.is_open());
        assert_eq!(b.gate(t12), Gate::Go);
    }

    #[test]
    fn a_success_between_failures_starts_the_count_again_and_zero_never_opens() {
        let t = Instant::now();
        let mut b = Breaker::new(2, Duration::ZERO, Duration::from_secs(60));
        b.record(true, false, t);
        b.record(false, false, t);
        assert_eq!(b.record(true, false, t), Change::None);
        let mut off = Breaker::new(0, Duration::ZERO, Duration::from_secs(60));
        for _ in 0..100 {
            assert_eq!(off.record(true, false, t), Change::None);
        }
        assert_eq!(off.gate(t), Gate::Go);
    }

    #[test]
    fn failures_open_it_only_once_they_have_gone_on_for_the_set_time() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(30), Duration::from_secs(60));
        // A burst: many failures within a second, as from an endpoint refusing some requests
        // or restarting.
        for _ in 0..100 {
            assert_eq!(b.record(true, false, t0), Change::None);
        }
        assert_eq!(
            b.record(true, false, t0 + Duration::from_secs(29)),
            Change::None
        );
        assert_eq!(
            b.record(true, false, t0 + Duration::from_secs(30)),
            Change::Opened,
            "failing every attempt for 30 s"
        );
        // A success starts the clock again.
        let t1 = t0 + Duration::from_secs(40);
        b.record(false, true, t1);
        for s in 0..5 {
            b.record(true, false, t1 + Duration::from_secs(s));
        }
        assert_eq!(
            b.record(true, false, t1 + Duration::from_secs(29)),
            Change::None
        );
        assert!(!b.is_open());
    }
}
