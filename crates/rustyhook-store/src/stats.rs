//! Stats over time, the part both backends share: folding what a write does (attempts
//! recorded, deliveries and runs created, broker messages taken) into per-(scope, bucket)
//! increments, and the column lists the upsert and the series query name.
//!
//! Each write folds its increments into a [`Tally`] in memory, then writes them in the same
//! transaction as the write it counts: SQLite's writer sums a group commit's tallies and adds
//! them with one upsert per row; PostgreSQL appends them, encoded, as one row of `stats_pending`,
//! which is folded into `stats` every second and before every read. A count is never lost or doubled by a
//! crash, and several nodes adding to one bucket add up. Minute and hour buckets are both
//! written.

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

/// Increments folded in memory before they are written. Ordered by key, so every transaction
/// locks the rows it adds to in the same order and two never wait on each other in a cycle.
#[derive(Debug, Default)]
pub(crate) struct Tally(BTreeMap<Key, Counts>);

impl Tally {
    /// Adds `f`'s change to `scopes` at time `at`, in every bucket width.
    fn add(&mut self, scopes: &[Scope], at: Millis, f: impl Fn(&mut Counts)) {
        for scope in scopes {
            for width in Width::ALL {
                let key = Key {
                    scope: scope.clone(),
                    width,
                    start: width.start_of(at),
                };
                f(self.0.entry(key).or_default());
            }
        }
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

    /// The rows to write, in key order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&Key, &Counts)> {
        self.0.iter()
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

    /// The tally as text, for PostgreSQL's pending rows: a JSON array with one array per row,
    /// `[kind, id, width ms, start, [[counter, value], ...], depth, oldest pending ms]`, where
    /// a counter is an index into [`counter_columns`] and only those not zero are written.
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
                    key.width.millis(),
                    key.start,
                    set,
                    c.depth,
                    c.oldest_pending_ms,
                )
            })
            .collect();
        serde_json::to_string(&rows).expect("a tally is always JSON")
    }

    /// The tally [`encode`](Self::encode) wrote, or what in `text` is not one.
    pub(crate) fn decode(text: &str) -> Result<Tally, String> {
        let rows: Vec<DecodedRow> =
            serde_json::from_str(text).map_err(|e| format!("not an encoded tally: {e}"))?;
        let n = counter_columns().len();
        let mut tally = Tally::default();
        for (kind, id, width, start, set, depth, oldest) in rows {
            let scope = Scope::of_kind(&kind, id).ok_or(format!("unknown scope kind '{kind}'"))?;
            let width = Width::ALL
                .into_iter()
                .find(|w| w.millis() == width)
                .ok_or(format!("unknown bucket width {width}"))?;
            let mut values = vec![0; n];
            for (i, v) in set {
                *values
                    .get_mut(i)
                    .ok_or(format!("counter {i} of {n} is out of range"))? += v;
            }
            let key = Key {
                scope,
                width,
                start,
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
    i64,
    Vec<(usize, i64)>,
    Option<i64>,
    Option<i64>,
);
type DecodedRow = (
    String,
    String,
    i64,
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
        let rows = |t: &Tally| t.rows().map(|(k, c)| (k.clone(), *c)).collect::<Vec<_>>();
        assert_eq!(rows(&back), rows(&expected));
    }

    #[test]
    fn an_encoded_tally_names_only_the_counters_that_are_not_zero() {
        let mut tally = Tally::default();
        tally.source("orders", SourceTaken::Stored, 90_000);
        assert_eq!(
            tally.encode(),
            r#"[["source","orders",60000,60000,[[21,1]],null,null],["source","orders",3600000,0,[[21,1]],null,null]]"#
        );
    }

    #[test]
    fn a_tally_that_is_not_one_is_refused_with_what_is_wrong() {
        for (text, wrong) in [
            ("{}", "not an encoded tally"),
            (
                r#"[["planet","x",60000,0,[],null,null]]"#,
                "scope kind 'planet'",
            ),
            (
                r#"[["server","",1000,0,[],null,null]]"#,
                "bucket width 1000",
            ),
            (
                r#"[["server","",60000,0,[[99,1]],null,null]]"#,
                "counter 99",
            ),
        ] {
            let e = Tally::decode(text).expect_err(text);
            assert!(e.contains(wrong), "{text}: {e}");
        }
    }
}
