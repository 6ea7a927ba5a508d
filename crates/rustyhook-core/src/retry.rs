//! When failed work is tried again: one [`RetryPolicy`] for deliveries to endpoints and for
//! handler runs alike.
//!
//! A policy is either a list of delays between attempts ([`RetryPolicy::Schedule`], Svix's
//! form and the server's `retry.schedule`): the first attempt is immediate and attempt `n + 1`
//! waits `delays[n - 1]`, give or take [`JITTER`]; or exponential backoff
//! ([`RetryPolicy::Backoff`], RustyHook's `retry:` block of a handler, or a bare count): a
//! first wait multiplied after each failure up to a cap, for a number of retries. When the
//! policy is used up the work is dead. A `Retry-After` from the receiver can push the next
//! attempt later than the policy says, never earlier, and never past [`MAX_RETRY_AFTER`].

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How far each scheduled delay is randomly moved, as a fraction of the delay.
pub const JITTER: f64 = 0.2;

/// The longest a receiver's `Retry-After` can push an attempt out.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 60 * 60);

/// When failed work is tried again, and when it is dead.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryPolicy {
    /// Explicit delays between attempts, each moved by up to [`JITTER`] so that work failed
    /// together does not come back together.
    Schedule(Vec<Duration>),
    /// Exponential backoff, exact (RustyHook's semantics: a handler's retries are timed as
    /// configured).
    Backoff {
        /// Tries after the first; 0 means one attempt only.
        max_retries: u32,
        /// Wait before the first retry.
        delay: Duration,
        /// Each further wait is the previous one times this.
        multiplier: f64,
        /// No wait is longer than this.
        max_delay: Duration,
    },
}

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

impl Default for RetryPolicy {
    /// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight attempts over ~27 h.
    fn default() -> Self {
        let mins = |m: u64| Duration::from_secs(m * 60);
        Self::Schedule(vec![
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

impl RetryPolicy {
    /// No retries: what RustyHook does when a handler has no `retry`.
    pub const NONE: Self = Self::Backoff {
        max_retries: 0,
        delay: Duration::from_secs(1),
        multiplier: 2.0,
        max_delay: Duration::from_secs(60),
    };

    /// The defaults of a `retry:` block: three retries, 1 s doubling up to 60 s.
    const BLOCK_DEFAULTS: Self = Self::Backoff {
        max_retries: 3,
        delay: Duration::from_secs(1),
        multiplier: 2.0,
        max_delay: Duration::from_secs(60),
    };

    /// A schedule from explicit delays.
    pub fn new(delays: Vec<Duration>) -> Result<Self, RetryScheduleError> {
        if delays.len() > 50 {
            return Err(RetryScheduleError::TooLong(delays.len()));
        }
        Ok(Self::Schedule(delays))
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

    /// Tries after the first.
    pub fn max_retries(&self) -> u32 {
        match self {
            Self::Schedule(delays) => delays.len() as u32,
            Self::Backoff { max_retries, .. } => *max_retries,
        }
    }

    /// How many attempts work gets in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_retries().saturating_add(1)
    }

    /// The delay before the next attempt after `attempts_made` attempts, or `None` when the
    /// work is exhausted. `jitter` is a sample from `[-1.0, 1.0]`, passed in so this is exact;
    /// only a [`Self::Schedule`] applies it.
    pub fn next_delay(&self, attempts_made: u32, jitter: f64) -> Option<Duration> {
        let retry = attempts_made.checked_sub(1)?;
        match self {
            Self::Schedule(delays) => {
                let base = *delays.get(retry as usize)?;
                Some(base.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0)))
            }
            Self::Backoff {
                max_retries,
                delay,
                multiplier,
                max_delay,
            } => {
                if attempts_made > *max_retries {
                    return None;
                }
                let factor = multiplier.powi(retry as i32);
                let ms = (delay.as_millis() as f64 * factor).min(max_delay.as_millis() as f64);
                Some(Duration::from_millis(ms.max(0.0) as u64))
            }
        }
    }
}

/// A handler's `retry:`: a bare count of retries, or RustyHook's block (`max_retries`,
/// `delay_ms`, `backoff_multiplier`, `max_delay_ms`, and the aliases its examples use).
impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Block {
            max_retries: Option<u32>,
            /// Svix-style: total attempts, first included.
            max_attempts: Option<u32>,
            #[serde(alias = "initial_delay_ms")]
            delay_ms: Option<u64>,
            #[serde(default, deserialize_with = "opt_duration")]
            initial: Option<Duration>,
            #[serde(alias = "multiplier")]
            backoff_multiplier: Option<f64>,
            max_delay_ms: Option<u64>,
            #[serde(default, deserialize_with = "opt_duration")]
            max_delay: Option<Duration>,
        }
        let Self::Backoff {
            max_retries: default_retries,
            delay: default_delay,
            multiplier: default_multiplier,
            max_delay: default_max_delay,
        } = Self::BLOCK_DEFAULTS
        else {
            unreachable!("the block defaults are a backoff")
        };
        // A count or a block; the block is read on its own so its error names the bad key.
        let value = serde_json::Value::deserialize(d)?;
        if let Ok(n) = serde_json::from_value::<u32>(value.clone()) {
            return Ok(Self::Backoff {
                max_retries: n,
                delay: default_delay,
                multiplier: default_multiplier,
                max_delay: default_max_delay,
            });
        }
        let b: Block = serde_json::from_value(value).map_err(|e| {
            serde::de::Error::custom(format!(
                "retry must be a count or a block of max_retries, delay_ms, backoff_multiplier, max_delay_ms: {e}"
            ))
        })?;
        let multiplier = b.backoff_multiplier.unwrap_or(default_multiplier);
        if !(1.0..=100.0).contains(&multiplier) {
            return Err(serde::de::Error::custom(
                "backoff_multiplier must be between 1.0 and 100.0",
            ));
        }
        Ok(Self::Backoff {
            max_retries: b
                .max_retries
                .or(b.max_attempts.map(|n| n.saturating_sub(1)))
                .unwrap_or(default_retries),
            delay: b
                .delay_ms
                .map(Duration::from_millis)
                .or(b.initial)
                .unwrap_or(default_delay),
            multiplier,
            max_delay: b
                .max_delay_ms
                .map(Duration::from_millis)
                .or(b.max_delay)
                .unwrap_or(default_max_delay),
        })
    }
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    crate::settings::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
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
        let s = RetryPolicy::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.next_delay(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(7, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(s.next_delay(8, 0.0), None);
        assert_eq!(s.next_delay(0, 0.0), None);
    }

    #[test]
    fn jitter_moves_the_delay_by_at_most_a_fifth() {
        let s = RetryPolicy::parse_list("10s").expect("valid");
        assert_eq!(s.next_delay(1, 1.0), Some(Duration::from_secs(12)));
        assert_eq!(s.next_delay(1, -1.0), Some(Duration::from_secs(8)));
        assert_eq!(s.next_delay(1, 7.0), Some(Duration::from_secs(12)));
    }

    #[test]
    fn parses_comma_separated_durations_and_names_the_bad_item() {
        let s = RetryPolicy::parse_list("1s, 2s,5m").expect("valid");
        assert_eq!(
            s,
            RetryPolicy::Schedule([1, 2, 300].map(Duration::from_secs).to_vec())
        );
        assert_eq!(
            RetryPolicy::parse_list("").expect("valid").max_attempts(),
            1
        );
        let err = RetryPolicy::parse_list("1s,soon").expect_err("invalid");
        assert!(err.to_string().contains("item 2"), "{err}");
    }

    #[test]
    fn backoff_grows_up_to_the_cap_then_stops_without_jitter() {
        let p: RetryPolicy = serde_json::from_str(
            r#"{"max_retries": 3, "delay_ms": 5000, "backoff_multiplier": 2.0, "max_delay_ms": 12000}"#,
        )
        .expect("valid");
        assert_eq!(p.next_delay(1, 1.0), Some(Duration::from_secs(5)));
        assert_eq!(p.next_delay(2, -1.0), Some(Duration::from_secs(10)));
        assert_eq!(p.next_delay(3, 0.0), Some(Duration::from_secs(12)));
        assert_eq!(p.next_delay(4, 0.0), None);
        assert_eq!(p.max_attempts(), 4);
    }

    #[test]
    fn a_handler_retry_is_a_count_or_a_block_with_its_aliases() {
        let n: RetryPolicy = serde_json::from_str("3").expect("count");
        assert_eq!(n.max_retries(), 3);
        let q: RetryPolicy = serde_json::from_str(
            r#"{"max_retries": 2, "initial_delay_ms": 1000, "max_delay_ms": 30000}"#,
        )
        .expect("alias");
        assert_eq!(q.next_delay(1, 0.0), Some(Duration::from_secs(1)));
        let bad = serde_json::from_str::<RetryPolicy>(r#"{"max_retrys": 2}"#).expect_err("typo");
        assert!(bad.to_string().contains("max_retrys"), "{bad}");
        assert_eq!(RetryPolicy::NONE.next_delay(1, 0.0), None);
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
