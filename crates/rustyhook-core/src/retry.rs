//! When a failed delivery is tried again.
//!
//! A [`RetrySchedule`] is the list of delays between attempts: the first attempt is immediate and
//! attempt `n + 1` waits `delays[n - 1]`, give or take [`JITTER`]. When the list is used up the
//! delivery is dead. A `Retry-After` from the receiver can push the next attempt later than the
//! schedule says, never earlier, and never past [`MAX_RETRY_AFTER`].

use std::time::Duration;

/// How far each scheduled delay is randomly moved, as a fraction of the delay.
pub const JITTER: f64 = 0.2;

/// The longest a receiver's `Retry-After` can push an attempt out.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 60 * 60);

/// Delays between attempts. Immutable once built; shared by endpoints that do not override it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// A retry schedule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryScheduleError {
    /// One item of the list is not a duration.
    #[error("retry schedule item {index} ({value:?}) is not a duration like 5s, 10m or 2h")]
    BadDuration {
        /// Position in the list, from 1.
        index: usize,
        /// The item as given.
        value: String,
    },
    /// The list is longer than rustyhook accepts.
    #[error("a retry schedule has at most 50 items, got {0}")]
    TooLong(usize),
}

impl Default for RetrySchedule {
    /// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight attempts over ~27 h.
    fn default() -> Self {
        let mins = |m: u64| Duration::from_secs(m * 60);
        Self(vec![
            Duration::from_secs(5),
            mins(5),
            mins(30),
            mins(120),
            mins(300),
            mins(600),
            mins(600),
        ])
    }
}

impl RetrySchedule {
    /// A schedule from explicit delays.
    pub fn new(delays: Vec<Duration>) -> Result<Self, RetryScheduleError> {
        if delays.len() > 50 {
            return Err(RetryScheduleError::TooLong(delays.len()));
        }
        Ok(Self(delays))
    }

    /// Parses a comma-separated list such as `1s,2s,5m`. An empty string means "no retries".
    pub fn parse_list(text: &str) -> Result<Self, RetryScheduleError> {
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                humantime::parse_duration(s).map_err(|_| RetryScheduleError::BadDuration {
                    index: i + 1,
                    value: s.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays)
    }

    /// The delays, in order.
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    /// How many attempts a delivery gets in all.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The delay before the next attempt after `attempts_made` attempts, or `None` when the
    /// delivery is exhausted. `jitter` is a sample from `[-1.0, 1.0]`, passed in so this is exact.
    pub fn next_delay(&self, attempts_made: u32, jitter: f64) -> Option<Duration> {
        let base = *self.0.get(attempts_made.checked_sub(1)? as usize)?;
        let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
        Some(base.mul_f64(factor))
    }
}

/// Reads a `Retry-After` header value: delta-seconds, or an HTTP date relative to `now_secs`
/// (seconds since the epoch). Unreadable values are ignored.
pub fn parse_retry_after(value: &str, now_secs: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_to_secs(value)?;
    Some(Duration::from_secs(
        when.saturating_sub(now_secs).max(0) as u64
    ))
}

/// The delay to use when the schedule says `scheduled` and the receiver asked for `retry_after`:
/// later of the two, with the receiver's request capped.
pub fn apply_retry_after(scheduled: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(asked) => scheduled.max(asked.min(MAX_RETRY_AFTER)),
        None => scheduled,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form senders still use.
fn httpdate_to_secs(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_gives_eight_attempts() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.next_delay(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(7, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(s.next_delay(8, 0.0), None);
        assert_eq!(s.next_delay(0, 0.0), None);
    }

    #[test]
    fn jitter_moves_the_delay_by_at_most_a_fifth() {
        let s = RetrySchedule::parse_list("10s").expect("valid");
        assert_eq!(s.next_delay(1, 1.0), Some(Duration::from_secs(12)));
        assert_eq!(s.next_delay(1, -1.0), Some(Duration::from_secs(8)));
        assert_eq!(s.next_delay(1, 7.0), Some(Duration::from_secs(12)));
    }

    #[test]
    fn parses_comma_separated_durations_and_names_the_bad_item() {
        let s = RetrySchedule::parse_list("1s, 2s,5m").expect("valid");
        assert_eq!(s.delays(), &[1, 2, 300].map(Duration::from_secs));
        assert_eq!(
            RetrySchedule::parse_list("").expect("valid").max_attempts(),
            1
        );
        let err = RetrySchedule::parse_list("1s,soon").expect_err("invalid");
        assert!(err.to_string().contains("item 2"), "{err}");
    }

    #[test]
    fn retry_after_only_pushes_later_and_is_capped() {
        let five = Duration::from_secs(5);
        assert_eq!(apply_retry_after(five, Some(Duration::from_secs(2))), five);
        assert_eq!(
            apply_retry_after(five, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            apply_retry_after(five, Some(Duration::from_secs(10_000_000))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn reads_retry_after_as_seconds_or_date() {
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("later", now), None);
    }
}
