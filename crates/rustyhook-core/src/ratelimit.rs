//! A generic cell rate algorithm (GCRA) limiter. It keeps one number, the theoretical arrival time
//! of the next request, so it is cheap per endpoint and exact with time passed in.

use std::time::Duration;

/// A rate: `count` requests per `period`, with bursts of up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
    /// Requests that may go at once after an idle spell; at least 1.
    pub burst: u32,
}

impl Rate {
    /// `count` requests per second, bursting up to `count`.
    pub fn per_second(count: u32) -> Self {
        Self {
            count,
            period: Duration::from_secs(1),
            burst: count.max(1),
        }
    }

    fn emission_interval(&self) -> Duration {
        self.period / self.count.max(1)
    }
}

/// The limiter's state for one key (an endpoint). Time is in durations since any fixed origin.
#[derive(Debug, Clone)]
pub struct Gcra {
    rate: Rate,
    /// When the next request would conform if the bucket were empty.
    tat: Duration,
}

impl Gcra {
    /// A limiter that allows a full burst at once.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            tat: Duration::ZERO,
        }
    }

    /// The rate this limiter enforces.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one request at `now`: `Ok` if it may go, or `Err(wait)` with how long until it may.
    pub fn check(&mut self, now: Duration) -> Result<(), Duration> {
        let interval = self.rate.emission_interval();
        let tolerance = interval * (self.rate.burst.max(1) - 1);
        let tat = self.tat.max(now);
        let allow_at = tat.saturating_sub(tolerance);
        if now < allow_at {
            return Err(allow_at - now);
        }
        self.tat = tat + interval;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn allows_a_burst_then_spaces_requests_evenly() {
        let mut g = Gcra::new(Rate::per_second(5));
        for _ in 0..5 {
            assert_eq!(g.check(Duration::ZERO), Ok(()));
        }
        assert_eq!(g.check(Duration::ZERO), Err(200 * MS));
        assert_eq!(g.check(200 * MS), Ok(()));
        assert_eq!(g.check(250 * MS), Err(150 * MS));
    }

    #[test]
    fn two_per_two_minutes_means_one_a_minute_after_the_burst() {
        let mut g = Gcra::new(Rate {
            count: 2,
            period: Duration::from_secs(120),
            burst: 2,
        });
        assert!(g.check(Duration::ZERO).is_ok());
        assert!(g.check(Duration::ZERO).is_ok());
        assert_eq!(g.check(Duration::ZERO), Err(Duration::from_secs(60)));
    }

    #[test]
    fn never_allows_more_than_rate_over_a_long_window() {
        let mut g = Gcra::new(Rate::per_second(10));
        let allowed = (0..10_000)
            .filter(|i| g.check(*i as u32 * MS).is_ok())
            .count();
        // 10 s at 10/s, plus the initial burst of 10.
        assert!(allowed <= 110, "{allowed}");
        assert!(allowed >= 100, "{allowed}");
    }
}
