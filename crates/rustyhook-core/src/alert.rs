//! Alert rules and alerts: what an operator asks to be told about (dead letters piling up, an
//! endpoint failing, work waiting too long, a source lagging or rejecting, a node gone), and
//! the alerts a rule raises, one per subject at a time, each fired once and resolved once.
//!
//! A rule is a [`RuleSpec`] (from the API or the config's `alerts:` list), checked by
//! [`RuleSpec::check`] with problems naming the field. The engine measures each enabled rule's
//! subjects every interval; [`Alert`] is what it stores when one goes over the threshold, and
//! [`Alert::data`] is the JSON the API serves and `alert.fired`/`alert.resolved` carry.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::time::{Millis, to_rfc3339};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Deliveries and runs that went dead in the window.
    DeadLetters,
    /// The percentage of attempts that failed in the window.
    FailureRate,
    /// Seconds the oldest waiting work has waited.
    OldestPending,
    /// Messages waiting in a source's broker.
    SourceLag,
    /// Messages a source rejected in the window.
    SourceRejected,
    /// Seconds since a node's last heartbeat.
    NodeGone,
}

impl RuleKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Self; 6] = [
        Self::DeadLetters,
        Self::FailureRate,
        Self::OldestPending,
        Self::SourceLag,
        Self::SourceRejected,
        Self::NodeGone,
    ];

    /// The kind's name in the API, the config and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeadLetters => "dead_letters",
            Self::FailureRate => "failure_rate",
            Self::OldestPending => "oldest_pending",
            Self::SourceLag => "source_lag",
            Self::SourceRejected => "source_rejected",
            Self::NodeGone => "node_gone",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the kind counts over a window.
    pub fn uses_window(self) -> bool {
        matches!(
            self,
            Self::DeadLetters | Self::FailureRate | Self::SourceRejected
        )
    }

    /// The subject filters the kind accepts.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Self::DeadLetters | Self::FailureRate => &["app", "endpoint", "handler"],
            Self::SourceLag | Self::SourceRejected => &["source"],
            Self::OldestPending | Self::NodeGone => &[],
        }
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).ok_or_else(|| serde::de::Error::custom(unknown_kind(&name)))
    }
}

/// The error for a kind that is not one.
pub fn unknown_kind(name: &str) -> String {
    let known: Vec<_> = RuleKind::ALL.iter().map(|k| k.as_str()).collect();
    format!("{name:?} is not a rule kind; known: {}", known.join(", "))
}

/// The default window of a rule.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
/// The longest window: minute buckets are kept a day by default.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A failure rate over fewer attempts than this never fires, by default.
pub const DEFAULT_MIN_ATTEMPTS: u32 = 10;
/// The longest rule name.
pub const MAX_NAME_CHARS: usize = 100;

/// An alert rule as given (`AlertRuleIn`, or an entry of the config's `alerts:`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique among rules; what alerts are named by.
    pub name: String,
    /// What the rule watches.
    pub kind: RuleKind,
    /// Over this the rule fires (in the kind's unit: a count, a percentage, seconds).
    pub threshold: f64,
    /// How far back windowed kinds count, in whole minutes.
    #[serde(default = "default_window", deserialize_with = "window")]
    pub window: Duration,
    /// Only this app (id or uid).
    #[serde(default)]
    pub app: Option<String>,
    /// Only this endpoint (id, or uid with `app`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Only this handler (id).
    #[serde(default)]
    pub handler: Option<String>,
    /// Only this source (name).
    #[serde(default)]
    pub source: Option<String>,
    /// A failure rate over fewer attempts than this never fires.
    #[serde(default = "default_min_attempts")]
    pub min_attempts: u32,
    /// A disabled rule is not measured; its firing alerts stay until it is enabled again.
    #[serde(default)]
    pub disabled: bool,
}

fn default_window() -> Duration {
    DEFAULT_WINDOW
}

fn default_min_attempts() -> u32 {
    DEFAULT_MIN_ATTEMPTS
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_window(&text).map_err(serde::de::Error::custom)
}

/// Reads a window like `5m` or `1h`: whole minutes, from 1m to 24h.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let d = crate::settings::parse_duration(text)?;
    if d.as_secs() % 60 != 0 || d.subsec_nanos() != 0 || d.is_zero() {
        return Err(format!(
            "window {text:?} must be a whole number of minutes, like \"5m\" or \"1h\""
        ));
    }
    if d > MAX_WINDOW {
        return Err(format!("window {text:?} must be at most 24h"));
    }
    Ok(d)
}

/// A window as shown: `5m`, `1h`, `1h 30m`.
pub fn window_text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// One problem with a rule, naming its field (snake_case, as in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The field.
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl RuleSpec {
    /// Every problem with the rule: its name's length, a threshold out of its kind's range,
    /// and filters the kind does not take.
    pub fn check(&self) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        let mut problem = |field, message: String| problems.push(RuleProblem { field, message });
        let chars = self.name.trim().chars().count();
        if chars == 0 || self.name.chars().count() > MAX_NAME_CHARS {
            problem(
                "name",
                format!("name must have 1 to {MAX_NAME_CHARS} characters"),
            );
        }
        if !self.threshold.is_finite() || self.threshold < 0.0 {
            problem(
                "threshold",
                "threshold must be a number, zero or more".into(),
            );
        } else if self.kind == RuleKind::FailureRate && self.threshold > 100.0 {
            problem(
                "threshold",
                "threshold of failure_rate is a percentage: 0 to 100".into(),
            );
        }
        if self.min_attempts == 0 {
            problem("min_attempts", "min_attempts must be at least 1".into());
        }
        let given = [
            ("app", &self.app),
            ("endpoint", &self.endpoint),
            ("handler", &self.handler),
            ("source", &self.source),
        ];
        for (field, value) in given {
            let Some(value) = value else { continue };
            if !self.kind.filters().contains(&field) {
                let takes = match self.kind.filters() {
                    [] => "no filter".to_owned(),
                    some => some.join(", "),
                };
                problem(
                    field,
                    format!("a {} rule takes {takes}, not {field}", self.kind),
                );
            } else if value.trim().is_empty() {
                problem(field, format!("{field} must not be empty"));
            }
        }
        if self.handler.is_some() && (self.app.is_some() || self.endpoint.is_some()) {
            problem(
                "handler",
                "handler cannot be combined with app or endpoint: a rule watches one".into(),
            );
        }
        problems
    }
}

/// What the store keeps of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// `alr_…`.
    pub id: String,
    /// The rule.
    pub spec: RuleSpec,
    /// Where it came from: the config file (read-only through the API) or the API.
    pub origin: RuleOrigin,
    /// Alerts of this rule firing now (as read; 0 when written).
    pub firing: u64,
    /// When it was created.
    pub created_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
}

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOrigin {
    /// The config file's `alerts:`, kept in step with it on start.
    Config,
    /// The API.
    Api,
}

impl RuleOrigin {
    /// The origin's name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Api => "api",
        }
    }

    /// The origin named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "config" => Some(Self::Config),
            "api" => Some(Self::Api),
            _ => None,
        }
    }
}

/// One alert: a rule's subject over the threshold, from when it fired until it resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `alt_…`, sortable by the time it fired.
    pub id: String,
    /// The rule that fired it.
    pub rule_id: String,
    /// The rule's name when it fired.
    pub rule_name: String,
    /// The rule's kind.
    pub kind: RuleKind,
    /// What is over the threshold: `server`, an endpoint, app or handler id, a source name, a
    /// node's name.
    pub subject: String,
    /// What was measured when it fired.
    pub value: f64,
    /// The rule's threshold when it fired.
    pub threshold: f64,
    /// One sentence for a person.
    pub summary: String,
    /// When it fired.
    pub fired_at: Millis,
    /// When it resolved; `None` while firing.
    pub resolved_at: Option<Millis>,
}

impl Alert {
    /// `firing` or `resolved`.
    pub fn status(&self) -> &'static str {
        if self.resolved_at.is_some() {
            "resolved"
        } else {
            "firing"
        }
    }

    /// The alert as the API shows it (`AlertOut`), which is also the `data` of `alert.fired`
    /// and `alert.resolved`.
    pub fn data(&self) -> Value {
        json!({
            "id": self.id,
            "ruleId": self.rule_id,
            "ruleName": self.rule_name,
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "status": self.status(),
            "value": self.value,
            "threshold": self.threshold,
            "summary": self.summary,
            "firedAt": to_rfc3339(self.fired_at),
            "resolvedAt": self.resolved_at.map(to_rfc3339),
        })
    }
}

/// What a subject of a rule is, for sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The whole server.
    Server,
    /// An app, by id.
    App(String),
    /// An endpoint, by id.
    Endpoint(String),
    /// A handler, by id.
    Handler(String),
    /// A broker source, by name.
    Source(String),
    /// A node, by name.
    Node(String),
}

impl Subject {
    /// The subject as stored: `server`, or the id or name.
    pub fn key(&self) -> &str {
        match self {
            Self::Server => "server",
            Self::App(id)
            | Self::Endpoint(id)
            | Self::Handler(id)
            | Self::Source(id)
            | Self::Node(id) => id,
        }
    }

    fn phrase(&self) -> String {
        match self {
            Self::Server => "This server".into(),
            Self::App(id) => format!("App {id}"),
            Self::Endpoint(id) => format!("Endpoint {id}"),
            Self::Handler(id) => format!("Handler {id}"),
            Self::Source(name) => format!("Source {name}"),
            Self::Node(name) => format!("Node {name}"),
        }
    }
}

/// What was measured of one subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The value compared with the threshold.
    pub value: f64,
    /// The attempts a failure rate is over (0 for other kinds).
    pub attempts: i64,
}

impl Measured {
    /// A plain value.
    pub fn value(value: f64) -> Self {
        Self { value, attempts: 0 }
    }

    /// Whether it is over the rule's threshold: above it, and for a failure rate over at
    /// least `min_attempts` attempts. Fewer attempts are no evidence of failure: under.
    pub fn is_over(&self, spec: &RuleSpec) -> bool {
        if spec.kind == RuleKind::FailureRate && self.attempts < i64::from(spec.min_attempts) {
            return false;
        }
        self.value > spec.threshold
    }
}

/// The sentence an alert says when it fires.
pub fn summary(spec: &RuleSpec, subject: &Subject, m: Measured) -> String {
    let who = subject.phrase();
    let window = window_text(spec.window);
    let t = spec.threshold;
    let v = m.value;
    match spec.kind {
        RuleKind::FailureRate => format!(
            "{who} failed {v:.0}% of {} attempts in the last {window} (threshold {t}%)",
            m.attempts
        ),
        RuleKind::DeadLetters => {
            format!("{who} had {v} dead letters in the last {window} (threshold {t})")
        }
        RuleKind::OldestPending => {
            format!("{who}'s oldest waiting delivery has waited {v:.0}s (threshold {t}s)")
        }
        RuleKind::SourceLag => {
            format!("{who} has {v} messages waiting in its broker (threshold {t})")
        }
        RuleKind::SourceRejected => {
            format!("{who} rejected {v} messages in the last {window} (threshold {t})")
        }
        RuleKind::NodeGone => {
            format!("{who} last sent a heartbeat {v:.0}s ago (threshold {t}s)")
        }
    }
}

/// Checks the config's `alerts:`: each rule as [`RuleSpec::check`] does, and no two with one
/// name. Errors name the entry and the field.
pub fn check_settings(list: &[RuleSpec]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for (i, rule) in list.iter().enumerate() {
        if let Some(p) = rule.check().into_iter().next() {
            return Err(format!("alerts[{i}].{}: {}", p.field, p.message));
        }
        if !names.insert(rule.name.as_str()) {
            return Err(format!(
                "alerts[{i}].name {:?} is used by an earlier rule",
                rule.name
            ));
        }
    }
    Ok(())
}

/// Reads and checks `alerts:`.
pub(crate) fn settings_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RuleSpec>, D::Error> {
    let list = Vec::<RuleSpec>::deserialize(d)?;
    check_settings(&list).map_err(serde::de::Error::custom)?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Result<RuleSpec, String> {
        serde_norway::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn a_rule_gets_its_defaults_and_a_bad_one_names_the_field() {
        let r = spec("name: ep\nkind: failure_rate\nthreshold: 50\n").expect("valid");
        assert_eq!(r.window, DEFAULT_WINDOW);
        assert_eq!(r.min_attempts, DEFAULT_MIN_ATTEMPTS);
        assert!(r.check().is_empty());
        let kind = spec("name: x\nkind: lag\nthreshold: 1\n").expect_err("kind");
        assert!(kind.contains("not a rule kind"), "{kind}");
        let window =
            spec("name: x\nkind: dead_letters\nthreshold: 1\nwindow: 90s\n").expect_err("window");
        assert!(window.contains("whole number of minutes"), "{window}");
        let over = spec("name: x\nkind: failure_rate\nthreshold: 120\n").expect("parses");
        assert_eq!(over.check()[0].field, "threshold");
        let filter = spec("name: x\nkind: node_gone\nthreshold: 60\nsource: s\n").expect("parses");
        assert_eq!(filter.check()[0].field, "source");
        let long = RuleSpec {
            name: "n".repeat(101),
            ..r
        };
        assert_eq!(long.check()[0].field, "name");
        let twice: Vec<RuleSpec> = serde_norway::from_str(
            "- {name: a, kind: node_gone, threshold: 60}\n- {name: a, kind: node_gone, threshold: 9}\n",
        )
        .expect("parses");
        let err = check_settings(&twice).expect_err("same name");
        assert!(err.contains("alerts[1].name"), "{err}");
    }

    #[test]
    fn a_failure_rate_over_too_few_attempts_is_not_over() {
        let r = spec("name: ep\nkind: failure_rate\nthreshold: 50\nmin_attempts: 4\n").expect("ok");
        let m = |value, attempts| Measured { value, attempts };
        assert!(!m(100.0, 3).is_over(&r));
        assert!(m(75.0, 4).is_over(&r));
        assert!(!m(50.0, 40).is_over(&r));
        let s = summary(&r, &Subject::Endpoint("ep_1".into()), m(62.5, 40));
        assert_eq!(
            s,
            "Endpoint ep_1 failed 62% of 40 attempts in the last 5m (threshold 50%)"
        );
    }

    #[test]
    fn an_alert_s_data_is_what_the_api_shows() {
        let a = Alert {
            id: "alt_1".into(),
            rule_id: "alr_1".into(),
            rule_name: "r".into(),
            kind: RuleKind::NodeGone,
            subject: "node-a".into(),
            value: 95.0,
            threshold: 60.0,
            summary: "s".into(),
            fired_at: 0,
            resolved_at: None,
        };
        let v = a.data();
        assert_eq!(v["status"], "firing");
        assert_eq!(v["resolvedAt"], Value::Null);
        assert_eq!(v["kind"], "node_gone");
        assert_eq!(window_text(Duration::from_secs(3600)), "1h");
    }
}
