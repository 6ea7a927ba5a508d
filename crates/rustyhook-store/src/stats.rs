//! Stats over time, the part both backends share: folding what a write does (attempts
//! recorded, deliveries and runs created, broker messages taken) into per-(scope, bucket)
//! increments, and the column lists the upsert and the series query name.
//!
//! Each write folds its increments into a [`Tally`] in memory, then appends them, encoded, as
//! one row of `stats_pending` in the same transaction as the write it counts (on SQLite, one
//! row per group commit: the writer sums the tallies of the group's writes). The pending rows
//! are folded into `stats` about every second and before every read. A count is never lost or
//! doubled by a crash, and several nodes adding to one bucket add up. Minute and hour buckets
//! are both written.

use std::collections::BTreeMap;

use rustyhook_core::model::{Delivery, DeliveryStatus};
use rustyhook_core::run::Run;
use rustyhook_core::stats::{Counts, LATENCY_BUCKETS, Scope, Width};
use rustyhook_core::time::Millis;

use crate::{AttemptRecord, Attempted};

/// The additive columns, in the order [`counters`] gives their values.
pub(crate) fn counter_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["ok", "rejected", "timeout", "other"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    cols.extend((0..LATENCY_BUCKETS).map(|i| format!("lat_{i}")));
    cols.extend(
        ["created", "dead", "stored", "source_rejected", "duplicate"]
            .into_iter()
            .map(str::to_owned),
    );
    cols
}

/// The values of [`counter_columns`], in order.
pub(crate) fn counters(c: &Counts) -> Vec<i64> {
    let mut v = vec![c.ok, c.rejected, c.timeout, c.other];
    v.extend(c.latency);
    v.extend([c.created, c.dead, c.stored, c.source_rejected, c.duplicate]);
    v
}

/// Counts from the values of [`counter_columns`] (summed), then depth and oldest pending age.
pub(crate) fn counts_from(v: &[i64], depth: Option<i64>, oldest: Option<i64>) -> Counts {
    let mut latency = [0; LATENCY_BUCKETS];
    latency.copy_from_slice(&v[4..4 + LATENCY_BUCKETS]);
    let rest = &v[4 + LATENCY_BUCKETS..];
    Counts {
        ok: v[0],
        rejected: v[1],
        timeout: v[2],
        other: v[3],
        latency,
        created: rest[0],
        dead: rest[1],
        stored: rest[2],
        source_rejected: rest[3],
        duplicate: rest[4],
        depth,
        oldest_pending_ms: oldest,
    }
}

/// The counters summed over a group of rows, then the gauges' highest: what both queries read
/// after their key. Sums are cast back to BIGINT (PostgreSQL widens a sum of BIGINT to NUMERIC).
fn merged_columns() -> String {
    let mut cols: Vec<String> = counter_columns()
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect();
    cols.extend(["MAX(depth)".into(), "MAX(oldest_pending_ms)".into()]);
    cols.join(", ")
}

/// The series query: each bucket of a scope in a window, its shards added up. `p(n)` writes
/// the n-th placeholder (1-based): scope, scope id, width, since, until.
pub(crate) fn series_sql(p: impl Fn(usize) -> String) -> String {
    format!(
        "SELECT start_at, {sums}\n\
         FROM stats\n\
         WHERE scope = {} AND scope_id = {} AND width = {} AND start_at >= {} AND start_at < {}\n\
         GROUP BY start_at\n\
         ORDER BY start_at",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        sums = merged_columns()
    )
}

/// The top query: the scopes of one kind with the most attempts in a window, each merged
/// over it. Placeholders: kind, width, since, until, limit.
pub(crate) fn top_sql(p: impl Fn(usize) -> String) -> String {
    format!(
        "SELECT scope_id, {sums}\n\
         FROM stats\n\
         WHERE scope = {} AND width = {} AND start_at >= {} AND start_at < {}\n\
         GROUP BY scope_id\n\
         ORDER BY SUM(ok + rejected + timeout + other) DESC, scope_id\n\
         LIMIT {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        sums = merged_columns()
    )
}

/// Where a row of increments goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// What is counted.
    pub scope: Scope,
    /// How wide the bucket is.
    pub width: Width,
    /// When it starts.
    pub start: Millis,
}

/// Increments folded in memory before they are written, by minute: an hour's row is the sum of
/// its minutes', made when the tally is written ([`Tally::buckets`]), so a tally carries (and
/// a pending row stores) half the rows. Ordered by key, so every transaction locks
/// the rows it adds to in the same order and two never wait on each other in a cycle.
#[derive(Debug, Default)]
pub(crate) struct Tally(BTreeMap<Key, Counts>);

impl Tally {
    /// Adds `f`'s change to `scopes` in the minute of `at`.
    fn add(&mut self, scopes: &[Scope], at: Millis, f: impl Fn(&mut Counts)) {
        for scope in scopes {
            let key = Key {
                scope: scope.clone(),
                width: Width::Minute,
                start: Width::Minute.start_of(at),
            };
            f(self.0.entry(key).or_default());
        }
    }

    /// The rows to add to the stats table, in key order: every minute row, and each hour's
    /// row as the sum of its minutes'.
    pub(crate) fn buckets(&self) -> BTreeMap<Key, Counts> {
        let mut all = self.0.clone();
        for (key, counts) in &self.0 {
            let hour = Key {
                scope: key.scope.clone(),
                width: Width::Hour,
                start: Width::Hour.start_of(key.start),
            };
            all.entry(hour).or_default().merge(counts);
        }
        all
    }

    /// Counts a recorded attempt (at its start), and its delivery's death if it went dead.
    pub(crate) fn attempt(&mut self, rec: &AttemptRecord) {
        let (scopes, outcome, duration_ms, at) = match &rec.attempt {
            Attempted::Endpoint(a) => (
                vec![
                    Scope::Server,
                    Scope::App(a.app_id.to_string()),
                    Scope::Endpoint(a.endpoint_id.to_string()),
                ],
                a.outcome,
                a.duration_ms,
                a.created_at,
            ),
            Attempted::Handler { attempt: a, .. } => (
                vec![Scope::Server, Scope::Handler(a.handler_id.clone())],
                a.outcome,
                a.duration_ms,
                a.created_at,
            ),
        };
        let dead = rec.status == DeliveryStatus::Dead;
        self.add(&scopes, at, |c| {
            c.attempt(outcome, duration_ms);
            c.dead += i64::from(dead);
        });
    }

    /// Counts deliveries to endpoints created.
    pub(crate) fn deliveries(&mut self, ds: &[Delivery]) {
        for d in ds {
            let scopes = [
                Scope::Server,
                Scope::App(d.app_id.to_string()),
                Scope::Endpoint(d.endpoint_id.to_string()),
            ];
            self.add(&scopes, d.created_at, |c| c.created += 1);
        }
    }

    /// Counts handler runs created.
    pub(crate) fn runs(&mut self, runs: &[Run]) {
        for r in runs {
            let scopes = [Scope::Server, Scope::Handler(r.handler_id.clone())];
            self.add(&scopes, r.created_at, |c| c.created += 1);
        }
    }

    /// Counts a broker message a source took.
    pub(crate) fn source(&mut self, source: &str, taken: SourceTaken, at: Millis) {
        self.add(&[Scope::Source(source.to_owned())], at, |c| match taken {
            SourceTaken::Stored => c.stored += 1,
            SourceTaken::Rejected => c.source_rejected += 1,
            SourceTaken::Duplicate => c.duplicate += 1,
        });
    }

    /// Records sampled gauges in the server's buckets at `at`.
    pub(crate) fn sample(&mut self, depth: i64, oldest_pending_ms: Option<i64>, at: Millis) {
        self.add(&[Scope::Server], at, |c| {
            c.depth = Some(depth);
            c.oldest_pending_ms = Some(oldest_pending_ms.unwrap_or(0));
        });
    }

    /// Records a source's lag (messages waiting in its broker) as its buckets' depth at `at`.
    pub(crate) fn source_lag(&mut self, source: &str, lag: u64, at: Millis) {
        let lag = i64::try_from(lag).unwrap_or(i64::MAX);
        self.add(&[Scope::Source(source.to_owned())], at, |c| {
            c.depth = Some(lag);
        });
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `other`'s increments to these.
    pub(crate) fn merge(&mut self, other: Tally) {
        for (key, counts) in other.0 {
            self.0.entry(key).or_default().merge(&counts);
        }
    }

    /// The tally as text, for the pending rows: a JSON array with one array per
    /// minute row, `[kind, id, minute start, [[counter, value], ...], depth, oldest pending
    /// ms]`, where a counter is an index into [`counter_columns`] and only those not zero are
    /// written.
    pub(crate) fn encode(&self) -> String {
        let rows: Vec<EncodedRow<'_>> = self
            .0
            .iter()
            .map(|(key, c)| {
                let set = counters(c)
                    .into_iter()
                    .enumerate()
                    .filter(|&(_, v)| v != 0)
                    .collect();
                (
                    key.scope.kind(),
                    key.scope.id(),
                    key.start,
                    set,
                    c.depth,
                    c.oldest_pending_ms,
                )
            })
            .collect();
        serde_json::to_string(&rows).expect("a tally is always JSON")
    }

    /// The `stats_pending` row of this tally; `None` when it counts nothing.
    pub(crate) fn pending_row(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.encode())
    }

    /// The sum of `stats_pending` rows, as a fold adds them to `stats`, or which row is not a
    /// tally.
    pub(crate) fn sum_of_pending(rows: &[String]) -> crate::StoreResult<Tally> {
        let mut sum = Tally::default();
        for text in rows {
            let tally = Tally::decode(text)
                .map_err(|e| crate::StoreError::Corrupt(format!("a row of stats_pending: {e}")))?;
            sum.merge(tally);
        }
        Ok(sum)
    }

    /// The tally [`encode`](Self::encode) wrote, or what in `text` is not one.
    pub(crate) fn decode(text: &str) -> Result<Tally, String> {
        let rows: Vec<DecodedRow> =
            serde_json::from_str(text).map_err(|e| format!("not an encoded tally: {e}"))?;
        let n = counter_columns().len();
        let mut tally = Tally::default();
        for (kind, id, start, set, depth, oldest) in rows {
            let scope = Scope::of_kind(&kind, id).ok_or(format!("unknown scope kind '{kind}'"))?;
            let mut values = vec![0; n];
            for (i, v) in set {
                *values
                    .get_mut(i)
                    .ok_or(format!("counter {i} of {n} is out of range"))? += v;
            }
            let key = Key {
                scope,
                width: Width::Minute,
                start: Width::Minute.start_of(start),
            };
            tally
                .0
                .entry(key)
                .or_default()
                .merge(&counts_from(&values, depth, oldest));
        }
        Ok(tally)
    }

    /// Adds `other`'s increments to these, by reference.
    pub(crate) fn merge_ref(&mut self, other: &Tally) {
        for (key, counts) in &other.0 {
            self.0.entry(key.clone()).or_default().merge(counts);
        }
    }
}

/// A row of an encoded tally, as written ([`Tally::encode`]) and as read ([`Tally::decode`]).
type EncodedRow<'a> = (
    &'a str,
    &'a str,
    i64,
    Vec<(usize, i64)>,
    Option<i64>,
    Option<i64>,
);
type DecodedRow = (
    String,
    String,
    i64,
    Vec<(usize, i64)>,
    Option<i64>,
    Option<i64>,
);

/// What a source did with a broker message, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTaken {
    /// Stored it: a message or run exists for it now.
    Stored,
    /// Could never store it; kept as a rejected message.
    Rejected,
    /// Found it stored for an earlier delivery of the same message.
    Duplicate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_tally_decodes_to_the_same_increments_and_gauges() {
        let mut tally = Tally::default();
        tally.source("orders", SourceTaken::Stored, 90_000);
        tally.source("orders", SourceTaken::Duplicate, 90_000);
        tally.source_lag("orders", 12, 150_000);
        tally.sample(40, None, 90_000);
        let mut expected = Tally::default();
        expected.merge_ref(&tally);
        let text = tally.encode();
        let back = Tally::decode(&text).expect("decodes");
        assert_eq!(back.buckets(), expected.buckets());
    }

    #[test]
    fn an_hour_s_row_is_the_sum_of_its_minutes() {
        let mut tally = Tally::default();
        tally.source("orders", SourceTaken::Stored, 90_000);
        tally.source("orders", SourceTaken::Stored, 3_000_000);
        tally.source("orders", SourceTaken::Stored, 3_700_000);
        tally.sample(7, Some(5), 90_000);
        tally.sample(3, Some(9), 3_000_000);
        let stored = |b: &BTreeMap<Key, Counts>, width, start| {
            let key = Key {
                scope: Scope::Source("orders".into()),
                width,
                start,
            };
            b.get(&key).map(|c| c.stored)
        };
        let b = tally.buckets();
        assert_eq!(stored(&b, Width::Minute, 60_000), Some(1));
        assert_eq!(stored(&b, Width::Minute, 3_000_000), Some(1));
        assert_eq!(stored(&b, Width::Hour, 0), Some(2));
        assert_eq!(stored(&b, Width::Hour, 3_600_000), Some(1));
        let server = &b[&Key {
            scope: Scope::Server,
            width: Width::Hour,
            start: 0,
        }];
        assert_eq!(
            (server.depth, server.oldest_pending_ms),
            (Some(7), Some(9)),
            "an hour keeps the highest of its minutes' samples"
        );
        assert_eq!(b.len(), 8, "five minute rows and three hour rows");
    }

    #[test]
    fn an_encoded_tally_names_only_the_counters_that_are_not_zero() {
        let mut tally = Tally::default();
        tally.source("orders", SourceTaken::Stored, 90_000);
        assert_eq!(
            tally.encode(),
            r#"[["source","orders",60000,[[21,1]],null,null]]"#
        );
    }

    #[test]
    fn a_tally_that_is_not_one_is_refused_with_what_is_wrong() {
        for (text, wrong) in [
            ("{}", "not an encoded tally"),
            (r#"[["planet","x",0,[],null,null]]"#, "scope kind 'planet'"),
            (r#"[["server","",0,[[99,1]],null,null]]"#, "counter 99"),
        ] {
            let e = Tally::decode(text).expect_err(text);
            assert!(e.contains(wrong), "{text}: {e}");
        }
    }
}
