//! Alert evaluation: every interval, the leading node measures each enabled rule's subjects
//! and fires an alert for a subject over the threshold, or resolves its firing alert once it
//! is measured back at or under it. The store makes each fire and resolve happen once (and
//! queues its operational event with it), so a leader change mid-interval, or two nodes that
//! both believe they lead, cannot send either twice.
//!
//! What is measured, by kind:
//! - `dead_letters`, `failure_rate`, `source_rejected`: the minute buckets of the stats over
//!   time that started within the window (the current one included), so a window is whole
//!   minutes and a count falls out of it when its minute does;
//! - `oldest_pending`: the queue now (one indexed aggregate);
//! - `source_lag`: the source scope's `depth` gauge in its latest minute bucket, which the node
//!   reading the source samples;
//! - `node_gone`: the node list, by the database's clock.
//!
//! A subject that cannot be measured this time (the store failed, a source has no recent
//! sample) keeps its alert as it is: only a measurement resolves. The one exception is a node
//! forgotten after a day without a heartbeat, whose alert resolves with it. A failure rate
//! alert whose endpoint or handler was not among those measured (a rule over all of them reads
//! only the busiest, and one with no attempts in the window is not among them) is measured
//! alone, so it resolves once the window holds no failure rate over the threshold, including
//! when it holds no attempts at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::alert::{Alert, AlertRule, Measured, RuleKind, RuleSpec, Subject, summary};
use rustyhook_core::id::{AlertId, EndpointId};
use rustyhook_core::stats::{Counts, Scope, Width};
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{Order, Page, Store, StoreResult};
use tokio_util::sync::CancellationToken;

use crate::cluster::Leader;
use crate::observe;

/// The most subjects of one kind a rule without a filter watches.
const MAX_SUBJECTS: usize = 1_000;

/// Measures the alert rules while this node leads.
pub struct Evaluator {
    /// Where rules, alerts and what they measure are.
    pub store: Arc<dyn Store>,
    /// Whether this node leads now.
    pub leader: Leader,
    /// How often rules are measured (`alert_interval`).
    pub interval: Duration,
    /// The configured broker sources, by name: the subjects of source rules without a filter.
    pub sources: Vec<String>,
}

impl Evaluator {
    /// Measures every interval while leading, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if self.leader.is_leader()
                && let Err(e) = self.evaluate(now_millis()).await
            {
                tracing::warn!(error = %e, "could not evaluate the alert rules");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Measures every enabled rule once at `now`, firing and resolving as it finds.
    pub async fn evaluate(&self, now: Millis) -> StoreResult<()> {
        let rules = self.rules().await?;
        let mut firing: HashMap<(String, String), Alert> = self
            .store
            .firing_alerts()
            .await?
            .into_iter()
            .map(|a| ((a.rule_id.clone(), a.subject.clone()), a))
            .collect();
        for rule in &rules {
            if rule.spec.disabled {
                continue;
            }
            let measured = match self.measure(&rule.spec, now).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(rule = %rule.spec.name, error = %e, "could not measure an alert rule");
                    continue;
                }
            };
            let mut seen = Vec::with_capacity(measured.len());
            for (subject, m) in measured {
                let key = (rule.id.clone(), subject.key().to_owned());
                seen.push(key.1.clone());
                match (m.is_over(&rule.spec), firing.remove(&key)) {
                    (true, None) => self.fire(rule, &subject, m, now).await?,
                    (false, Some(alert)) => self.resolve(alert, now).await?,
                    (true, Some(alert)) => {
                        firing.insert(key, alert);
                    }
                    (false, None) => {}
                }
            }
            // This rule's firing alerts whose subject was not measured this time.
            let unmeasured: Vec<_> = firing
                .keys()
                .filter(|(r, s)| *r == rule.id && !seen.contains(s))
                .cloned()
                .collect();
            for key in unmeasured {
                let resolved = match rule.spec.kind {
                    // A node forgotten after a day without a heartbeat.
                    RuleKind::NodeGone => true,
                    // An endpoint or handler with no attempts in the window, or not among the
                    // busiest: measured alone.
                    RuleKind::FailureRate => {
                        let window = window_of(&rule.spec, now);
                        !self
                            .failure_rate_alone(&key.1, window)
                            .await?
                            .is_over(&rule.spec)
                    }
                    _ => false,
                };
                if resolved && let Some(alert) = firing.remove(&key) {
                    self.resolve(alert, now).await?;
                }
            }
        }
        let by_rule = self.store.firing_alerts().await?;
        for rule in &rules {
            let n = by_rule.iter().filter(|a| a.rule_id == rule.id).count();
            observe::alerts_firing(&rule.spec.name, n);
        }
        Ok(())
    }

    async fn rules(&self) -> StoreResult<Vec<AlertRule>> {
        let mut page = Page::first(250, Order::Ascending);
        let mut rules = Vec::new();
        loop {
            let listed = self.store.list_alert_rules(page.clone()).await?;
            let last = listed.items.last().map(|r| r.id.clone());
            rules.extend(listed.items);
            match last {
                Some(id) if !listed.done => page.cursor = Some(rustyhook_store::Cursor::After(id)),
                _ => return Ok(rules),
            }
        }
    }

    async fn fire(
        &self,
        rule: &AlertRule,
        subject: &Subject,
        m: Measured,
        now: Millis,
    ) -> StoreResult<()> {
        let alert = Alert {
            id: AlertId::generate(now).into(),
            rule_id: rule.id.clone(),
            rule_name: rule.spec.name.clone(),
            kind: rule.spec.kind,
            subject: subject.key().to_owned(),
            value: m.value,
            threshold: rule.spec.threshold,
            summary: summary(&rule.spec, subject, m),
            fired_at: now,
            resolved_at: None,
        };
        if self.store.fire_alert(alert.clone()).await? {
            tracing::warn!(rule = %alert.rule_name, subject = %alert.subject, "alert fired: {}", alert.summary);
        }
        Ok(())
    }

    async fn resolve(&self, alert: Alert, now: Millis) -> StoreResult<()> {
        let resolved = Alert {
            resolved_at: Some(now),
            ..alert
        };
        if self.store.resolve_alert(resolved.clone()).await? {
            tracing::info!(rule = %resolved.rule_name, subject = %resolved.subject, "alert resolved");
        }
        Ok(())
    }

    /// The subjects of `spec` and what each measures now.
    async fn measure(&self, spec: &RuleSpec, now: Millis) -> StoreResult<Vec<(Subject, Measured)>> {
        match spec.kind {
            RuleKind::DeadLetters | RuleKind::FailureRate => self.attempts(spec, now).await,
            RuleKind::SourceRejected | RuleKind::SourceLag => self.sources(spec, now).await,
            RuleKind::OldestPending => {
                let age = self.store.queue_now().await?.oldest_age(now).unwrap_or(0);
                Ok(vec![(
                    Subject::Server,
                    Measured::value(age as f64 / 1000.0),
                )])
            }
            RuleKind::NodeGone => {
                let nodes = self.store.list_nodes().await?;
                Ok(nodes
                    .nodes
                    .into_iter()
                    .map(|n| {
                        let silent = (nodes.now - n.last_seen).max(0) as f64 / 1000.0;
                        (Subject::Node(n.seen.name), Measured::value(silent))
                    })
                    .collect())
            }
        }
    }

    /// Dead letters or the failure rate, of the filtered scope or of every endpoint and
    /// handler (failure rate) or the server (dead letters).
    async fn attempts(
        &self,
        spec: &RuleSpec,
        now: Millis,
    ) -> StoreResult<Vec<(Subject, Measured)>> {
        let window = window_of(spec, now);
        let of = |c: &Counts| match spec.kind {
            RuleKind::FailureRate => failure_rate(c),
            _ => Measured::value(c.dead as f64),
        };
        if let Some(subject) = self.scope_of(spec).await? {
            let scope = match &subject {
                Subject::App(id) => Scope::App(id.clone()),
                Subject::Endpoint(id) => Scope::Endpoint(id.clone()),
                Subject::Handler(id) => Scope::Handler(id.clone()),
                _ => Scope::Server,
            };
            let counts = self.counts(&scope, window).await?;
            return Ok(vec![(subject, of(&counts))]);
        }
        let mut out = Vec::new();
        for (kind, subject) in [
            ("endpoint", Subject::Endpoint as fn(String) -> Subject),
            ("handler", Subject::Handler),
        ] {
            let top = self
                .store
                .stats_top(kind, Width::Minute, window.0, window.1, MAX_SUBJECTS)
                .await?;
            out.extend(top.into_iter().map(|(id, c)| (subject(id), of(&c))));
        }
        Ok(out)
    }

    /// The one scope a dead letters or failure rate rule watches, resolved to ids: `None` for
    /// a failure rate without a filter (every endpoint and handler); the server for dead
    /// letters without one. An app or endpoint that no longer exists is measured as nothing.
    async fn scope_of(&self, spec: &RuleSpec) -> StoreResult<Option<Subject>> {
        let app = match &spec.app {
            Some(a) => Some(
                self.store
                    .get_app(a)
                    .await?
                    .map_or_else(|| a.clone(), |app| app.id.into()),
            ),
            None => None,
        };
        if let Some(endpoint) = &spec.endpoint {
            let found = match (&app, EndpointId::parse(endpoint)) {
                (_, Some(id)) => self.store.get_endpoint_by_id(&id).await?,
                (Some(app), None) => {
                    let app = rustyhook_core::id::AppId::from_trusted(app.clone());
                    self.store.get_endpoint(&app, endpoint).await?
                }
                (None, None) => None,
            };
            let id = found.map_or_else(|| endpoint.clone(), |e| e.id.into());
            return Ok(Some(Subject::Endpoint(id)));
        }
        if let Some(h) = &spec.handler {
            return Ok(Some(Subject::Handler(h.clone())));
        }
        if let Some(app) = app {
            return Ok(Some(Subject::App(app)));
        }
        Ok((spec.kind == RuleKind::DeadLetters).then_some(Subject::Server))
    }

    /// Rejected messages in the window, or the latest sampled lag, of each source watched.
    async fn sources(&self, spec: &RuleSpec, now: Millis) -> StoreResult<Vec<(Subject, Measured)>> {
        let names = match &spec.source {
            Some(s) => vec![s.clone()],
            None => self.sources.clone(),
        };
        let mut out = Vec::new();
        for name in names {
            let scope = Scope::Source(name.clone());
            let m = if spec.kind == RuleKind::SourceRejected {
                let c = self.counts(&scope, window_of(spec, now)).await?;
                Some(Measured::value(c.source_rejected as f64))
            } else {
                // The latest sample, within the last two minutes: an older one says nothing
                // about the lag now.
                let since = Width::Minute.start_of(now) - Width::Minute.millis();
                let buckets = self
                    .store
                    .stats_series(&scope, Width::Minute, since, now + 1)
                    .await?;
                buckets
                    .iter()
                    .rev()
                    .find_map(|b| b.counts.depth)
                    .map(|d| Measured::value(d as f64))
            };
            if let Some(m) = m {
                out.push((Subject::Source(name), m));
            }
        }
        Ok(out)
    }

    /// The failure rate of the endpoint or handler `id` over `window`, measured on its own. The
    /// alert keeps only the id, so both scopes are read: an id is one or the other (endpoint
    /// ids are generated, `ep_…`), and the other reads as nothing.
    async fn failure_rate_alone(
        &self,
        id: &str,
        window: (Millis, Millis),
    ) -> StoreResult<Measured> {
        let mut counts = self.counts(&Scope::Endpoint(id.to_owned()), window).await?;
        counts.merge(&self.counts(&Scope::Handler(id.to_owned()), window).await?);
        Ok(failure_rate(&counts))
    }

    /// A scope's counts merged over `[since, until)`.
    async fn counts(&self, scope: &Scope, (since, until): (Millis, Millis)) -> StoreResult<Counts> {
        let mut counts = Counts::default();
        for b in self
            .store
            .stats_series(scope, Width::Minute, since, until)
            .await?
        {
            counts.merge(&b.counts);
        }
        Ok(counts)
    }
}

/// The share of failed attempts in `c`, in percent (0 without attempts), with how many there
/// were.
fn failure_rate(c: &Counts) -> Measured {
    let all = c.attempts();
    let failed = all - c.ok;
    Measured {
        value: if all == 0 {
            0.0
        } else {
            100.0 * failed as f64 / all as f64
        },
        attempts: all,
    }
}

/// The minute buckets a windowed rule counts at `now`: those that started within the window,
/// the current one included (a 1m window is the current minute).
fn window_of(spec: &RuleSpec, now: Millis) -> (Millis, Millis) {
    let minute = Width::Minute.millis();
    let minutes = i64::try_from(spec.window.as_millis()).unwrap_or(i64::MAX) / minute;
    let since = Width::Minute.start_of(now) - (minutes.max(1) - 1) * minute;
    (since, now + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_whole_minutes_up_to_now() {
        let spec = RuleSpec {
            name: "d".into(),
            kind: RuleKind::DeadLetters,
            threshold: 1.0,
            window: Duration::from_secs(300),
            app: None,
            endpoint: None,
            handler: None,
            source: None,
            min_attempts: 10,
            disabled: false,
        };
        assert_eq!(window_of(&spec, 600_500), (360_000, 600_501));
        let one = RuleSpec {
            window: Duration::from_secs(60),
            ..spec
        };
        assert_eq!(window_of(&one, 600_500), (600_000, 600_501));
    }
}
