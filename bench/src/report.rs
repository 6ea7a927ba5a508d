//! Small pure pieces of the benchmark: the payload every message carries (fixed size, so
//! `wrk` can post the same bytes), the realtime clock shared with the receiver, percentiles,
//! and the `KEY=value` lines the load generator prints for `run.sh` to `source`.

use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// The event type of every benchmark message.
pub const EVENT_TYPE: &str = "bench.event";

/// A JSON object of exactly `size` bytes (or the smallest possible, 40 bytes, if `size` is
/// smaller) whose `seq` field makes it unique. The sequence number is zero-padded so every
/// payload of a run has the same length.
pub fn payload(seq: u64, size: usize) -> String {
    let head = format!(r#"{{"type":"{EVENT_TYPE}","seq":"{seq:012}","pad":""#);
    let tail = r#""}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut out = String::with_capacity(head.len() + pad + tail.len());
    out.push_str(&head);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(tail);
    out
}

/// The `MessageIn` body posted to rustyhook for message number `seq`.
pub fn message_body(seq: u64, payload_size: usize) -> Bytes {
    format!(
        r#"{{"eventType":"{EVENT_TYPE}","payload":{}}}"#,
        payload(seq, payload_size)
    )
    .into()
}

/// Nanoseconds since the Unix epoch on the realtime clock, comparable with the receiver's.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Order statistics of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Sample size.
    pub count: usize,
    /// Smallest value.
    pub min: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// Summarises `values`; `None` when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let index = (p * values.len() as f64).ceil() as usize;
            values[index.clamp(1, values.len()) - 1]
        };
        Some(Self {
            count: values.len(),
            min: values[0],
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: values[values.len() - 1],
            mean: values.iter().sum::<f64>() / values.len() as f64,
        })
    }
}

/// Prints `PREFIX_KEY=value` lines on stdout, in a form a POSIX shell can `source`.
pub struct Emitter {
    /// Prepended, with `_`, to every key, e.g. `E2E`.
    prefix: String,
}

impl Emitter {
    /// An emitter whose keys start with `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// A number or other value that needs no quoting.
    pub fn num(&self, key: &str, value: impl Display) {
        println!("{}_{key}={value}", self.prefix);
    }

    /// A float rounded to `decimals` places.
    pub fn float(&self, key: &str, value: f64, decimals: usize) {
        println!("{}_{key}={value:.decimals$}", self.prefix);
    }

    /// Free text, single-quoted for the shell.
    pub fn text(&self, key: &str, value: &str) {
        let quoted = value.replace('\'', r"'\''").replace('\n', " ");
        println!("{}_{key}='{quoted}'", self.prefix);
    }

    /// The order statistics of a sample as `KEY_P50` … `KEY_MAX`, in milliseconds.
    pub fn summary_ms(&self, key: &str, summary: Option<Summary>) {
        let Some(s) = summary else {
            self.num(&format!("{key}_COUNT"), 0);
            return;
        };
        self.num(&format!("{key}_COUNT"), s.count);
        for (name, v) in [
            ("MIN", s.min),
            ("P50", s.p50),
            ("P90", s.p90),
            ("P99", s.p99),
            ("MAX", s.max),
            ("MEAN", s.mean),
        ] {
            self.float(&format!("{key}_{name}"), v, 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_requested_size_and_are_json() {
        for seq in [0, 7, 123_456_789] {
            let p = payload(seq, 512);
            assert_eq!(p.len(), 512);
            let v: serde_json::Value = serde_json::from_str(&p).expect("valid JSON");
            assert_eq!(v["seq"], format!("{seq:012}"));
        }
    }

    #[test]
    fn a_too_small_size_gives_the_smallest_payload() {
        let p = payload(1, 4);
        assert!(serde_json::from_str::<serde_json::Value>(&p).is_ok());
        assert_eq!(p, payload(2, 0).replace("000000000002", "000000000001"));
    }

    #[test]
    fn message_bodies_wrap_the_payload() {
        let body = message_body(3, 256);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["eventType"], EVENT_TYPE);
        assert_eq!(v["payload"].to_string().len(), 256);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = Summary::of((1..=100).map(f64::from).collect()).expect("non-empty");
        assert_eq!(
            (s.min, s.p50, s.p90, s.p99, s.max),
            (1.0, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(s.mean, 50.5);
        assert_eq!(Summary::of(vec![]), None);
        let one = Summary::of(vec![4.0]).expect("non-empty");
        assert_eq!((one.p50, one.p99), (4.0, 4.0));
    }
}
