//! The server's settings: what `rustyhook.yaml` may contain (beside handlers) and what environment
//! variables override. Values are validated as they are read, so a bad file fails before anything
//! binds a port, and every unknown key is an error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::alert::RuleSpec;
use crate::handlers::Handler;
use crate::operational::OperationalWebhookSettings;
use crate::retry::RetryPolicy;
use crate::signing::HeaderStyle;
use crate::sources::SourceConfig;

/// Everything the server needs to start. Defaults give a working single-node server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address of the API, dashboard and metrics listener.
    pub listen: SocketAddr,
    /// Where the embedded database and the encryption key live.
    pub data_dir: PathBuf,
    /// Database selection.
    pub database: DatabaseSettings,
    /// API authentication.
    pub auth: AuthSettings,
    /// Default retry schedule.
    pub retry: RetrySettings,
    /// Outgoing request policy.
    pub delivery: DeliverySettings,
    /// Size caps.
    pub limits: LimitSettings,
    /// Log output.
    pub logging: LoggingSettings,
    /// Several nodes (RustyHook's roadmap `cluster:` block).
    pub cluster: ClusterSettings,
    /// Automation handlers, checked together by [`crate::handlers::HandlerSet::build`].
    pub handlers: Vec<Handler>,
    /// Brokers read for events.
    pub sources: Vec<SourceConfig>,
    /// The operator's endpoints for operational events, kept in step with this list on start.
    #[serde(deserialize_with = "crate::operational::settings_list")]
    pub operational_webhooks: Vec<OperationalWebhookSettings>,
    /// How long stats over time are kept.
    pub stats: StatsSettings,
    /// Alert rules, kept in step with this list on start (see [`crate::alert`]).
    #[serde(deserialize_with = "crate::alert::settings_list")]
    pub alerts: Vec<RuleSpec>,
    /// How often the leading node measures the alert rules.
    #[serde(deserialize_with = "duration")]
    pub alert_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8071)),
            data_dir: PathBuf::from("./rustyhook-data"),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            retry: RetrySettings::default(),
            delivery: DeliverySettings::default(),
            limits: LimitSettings::default(),
            logging: LoggingSettings::default(),
            cluster: ClusterSettings::default(),
            handlers: Vec::new(),
            sources: Vec::new(),
            operational_webhooks: Vec::new(),
            stats: StatsSettings::default(),
            alerts: Vec::new(),
            alert_interval: Duration::from_secs(30),
        }
    }
}

/// How long stats over time are kept (`stats:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    /// Minute buckets older than this are deleted.
    #[serde(deserialize_with = "duration")]
    pub minute_retention: Duration,
    /// Hour buckets older than this are deleted.
    #[serde(deserialize_with = "duration")]
    pub hour_retention: Duration,
}

impl Default for StatsSettings {
    fn default() -> Self {
        Self {
            minute_retention: Duration::from_secs(24 * 3600),
            hour_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

impl StatsSettings {
    /// Checks what serde cannot: a bucket must be kept at least as long as it is wide, and
    /// hour buckets at least as long as minute ones (a longer window is read from them).
    pub fn check(&self) -> Result<(), String> {
        if self.minute_retention < Duration::from_secs(60) {
            return Err(format!(
                "stats.minute_retention must be at least 1m, not {:?}",
                self.minute_retention
            ));
        }
        if self.hour_retention < Duration::from_secs(3600) {
            return Err(format!(
                "stats.hour_retention must be at least 1h, not {:?}",
                self.hour_retention
            ));
        }
        if self.hour_retention < self.minute_retention {
            return Err(format!(
                "stats.hour_retention ({:?}) must not be shorter than stats.minute_retention ({:?})",
                self.hour_retention, self.minute_retention
            ));
        }
        Ok(())
    }
}

/// How this node relates to others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// `standalone` or `distributed`. Informational: several nodes share the work whenever they
    /// share a PostgreSQL database.
    pub mode: ClusterMode,
    /// Redis (`redis://…`) for cron leadership and cluster-wide rate limits; leadership falls
    /// back to a PostgreSQL advisory lock, rate limits to per-node, when unset.
    pub coordinator: Option<String>,
    /// This node's name in leases; generated when unset. Must be unique among live nodes.
    pub node_id: Option<String>,
    /// What this node does: `all` (the default), `api` or `worker`.
    pub role: Role,
    /// How often a node tells the database it is alive.
    #[serde(deserialize_with = "duration")]
    pub heartbeat_interval: Duration,
    /// A node silent this long is dead: its leased deliveries and runs go to the others.
    #[serde(deserialize_with = "duration")]
    pub node_timeout: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            mode: ClusterMode::default(),
            coordinator: None,
            node_id: None,
            role: Role::default(),
            heartbeat_interval: Duration::from_secs(2),
            node_timeout: Duration::from_secs(20),
        }
    }
}

/// A node's duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// API, incoming webhooks, delivery, handler runs and triggers.
    #[default]
    All,
    /// The API and incoming webhooks only: what it accepts is stored for workers.
    Api,
    /// Delivery, handler runs and triggers; its listener serves only health and metrics.
    Worker,
}

impl Role {
    /// The role's name: `all`, `api` or `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Api => "api",
            Self::Worker => "worker",
        }
    }

    /// Whether this node serves the API and incoming webhooks.
    pub fn serves_api(self) -> bool {
        self != Self::Worker
    }

    /// Whether this node delivers messages and runs handlers.
    pub fn works(self) -> bool {
        self != Self::Api
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => Ok(Self::All),
            "api" => Ok(Self::Api),
            "worker" => Ok(Self::Worker),
            other => Err(format!(
                "{other:?} is not a role; expected all, api or worker"
            )),
        }
    }
}

/// Whether other nodes share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterMode {
    /// One node.
    #[default]
    Standalone,
    /// Several nodes on one database.
    Distributed,
}

/// Which database to use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite:PATH` or `postgres://user@host/db`; empty means `sqlite:` in the data
    /// directory.
    pub url: Option<String>,
    /// Trade power-loss safety for speed on SQLite (`synchronous=NORMAL`). Off by default.
    pub fast_unsafe_sync: bool,
    /// PostgreSQL connections this node keeps open at most.
    pub max_connections: u32,
    /// PostgreSQL: how long a request waits for a connection before it fails as "the database
    /// cannot be reached" (503). Short, so an outage is told quickly rather than waited out.
    #[serde(deserialize_with = "duration")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            fast_unsafe_sync: false,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// API authentication and the audit log of API writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Use this admin token instead of generating one. Never logged. At least
    /// [`MIN_ADMIN_TOKEN_LEN`] characters, whether it comes from the file or the environment.
    #[serde(deserialize_with = "admin_token")]
    pub admin_token: Option<String>,
    /// Record the caller's address in the audit log from `X-Forwarded-For` (its last entry)
    /// rather than the peer's. Only when a proxy you run sets that header: otherwise any client
    /// could write whatever address it likes there.
    pub trust_forwarded_for: bool,
    /// How long audit log entries are kept; older ones are deleted by a background task.
    #[serde(deserialize_with = "duration")]
    pub audit_retention: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            admin_token: None,
            trust_forwarded_for: false,
            audit_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// The shortest admin token accepted: a short token can be guessed over the network.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// Checks an admin token, trimmed, against [`MIN_ADMIN_TOKEN_LEN`]. The error never repeats the
/// token: it may be a real secret with a typo, and errors end up in logs.
pub fn parse_admin_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    let len = token.chars().count();
    if len < MIN_ADMIN_TOKEN_LEN {
        return Err(format!(
            "the admin token must be at least {MIN_ADMIN_TOKEN_LEN} characters (the one given has {len})"
        ));
    }
    Ok(token.to_owned())
}

fn admin_token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(text) => parse_admin_token(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// The default retry schedule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Delays between attempts, as a list or a comma-separated string (`1s,2s,5m`).
    #[serde(deserialize_with = "schedule")]
    pub schedule: RetryPolicy,
}

/// Outgoing request policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Per-attempt timeout, unless an endpoint sets its own.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Let endpoints on loopback, private and link-local addresses receive.
    pub allow_private_networks: bool,
    /// Send every outgoing request through this proxy (`http://host:port`). Unset, requests go
    /// direct and `HTTP_PROXY`/`HTTPS_PROXY` are ignored, because a proxy resolves names out of
    /// reach of the private-address guard; set, each target's name is checked before sending.
    #[serde(deserialize_with = "proxy_url")]
    pub proxy: Option<String>,
    /// Default maximum requests in flight per endpoint.
    pub max_in_flight_per_endpoint: u32,
    /// Maximum requests in flight across all endpoints.
    pub max_in_flight_total: u32,
    /// Deliveries held in memory waiting to be sent; past this, they wait in the store.
    pub queue_capacity: usize,
    /// How often the store is scanned for retries that fell due.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// How long shutdown waits for in-flight attempts.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// Signature header names for endpoints and apps that choose none: `standard`
    /// (`webhook-*`, the Standard Webhooks default) or `svix` (`svix-*`, what Svix's server
    /// sends), so a whole Svix installation can move over without touching its receivers.
    pub header_style: HeaderStyle,
    /// Consecutive failed attempts after which an endpoint's breaker opens (once they have
    /// gone on for [`Self::breaker_failing_for`]): its deliveries wait, and one probe at a time
    /// tests whether it is back. 0 turns the breaker off.
    pub breaker_threshold: u32,
    /// How long an endpoint must have failed every attempt before its breaker opens, so that a
    /// burst of failures from an endpoint that is answering (some requests refused, a deploy's
    /// few seconds) does not hold its deliveries back.
    #[serde(deserialize_with = "duration")]
    pub breaker_failing_for: Duration,
    /// The longest wait between probes of an endpoint whose breaker is open (the first is 1 s,
    /// doubling after each failed probe).
    #[serde(deserialize_with = "duration")]
    pub breaker_max_probe_interval: Duration,
    /// An endpoint that has failed every attempt for this long is disabled, and
    /// `endpoint.disabled` is sent. Zero (`0` or `off`) turns this off.
    #[serde(deserialize_with = "auto_disable")]
    pub auto_disable_after: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            allow_private_networks: false,
            proxy: None,
            max_in_flight_per_endpoint: 32,
            max_in_flight_total: 1024,
            queue_capacity: 20_000,
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            header_style: HeaderStyle::Standard,
            breaker_threshold: 10,
            breaker_failing_for: Duration::from_secs(30),
            breaker_max_probe_interval: Duration::from_secs(300),
            auto_disable_after: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

/// Size caps, and how long and how many connections the listeners keep open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest accepted request body, in bytes.
    pub max_payload_bytes: usize,
    /// Largest stored response body per attempt, in bytes; longer ones are truncated.
    pub max_response_bytes: usize,
    /// Time a connection has to send a complete request head; a silent or trickling client is
    /// disconnected after it.
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Time a request has to send its whole body, counted from its head.
    #[serde(deserialize_with = "duration")]
    pub body_read_timeout: Duration,
    /// Connections open at once, across the API listener and handlers' own ports. At the cap
    /// the oldest idle connection is closed to make room; lowered at start to fit the
    /// open-file limit.
    pub max_connections: usize,
    /// API requests a second per token (past it: 429 with `Retry-After`); 0 turns the limit
    /// off. Health and metrics are never limited.
    pub api_rate_limit: u32,
    /// Requests a token may send at once after a quiet spell, above its rate.
    pub api_burst: u32,
    /// Runs of one handler not yet finished (queued, running, waiting to retry) beyond which
    /// a new trigger is refused (`429` to a webhook): a flood of requests cannot fill the disk.
    pub max_queued_runs_per_handler: u64,
    /// The same bound over all handlers together.
    pub max_queued_runs: u64,
    /// Handler commands running at once on this node, whatever their handlers' `concurrency`.
    pub max_running_commands: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_payload_bytes: 1024 * 1024,
            max_response_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
            api_rate_limit: 0,
            api_burst: 50,
            max_queued_runs_per_handler: 100,
            max_queued_runs: 1000,
            max_running_commands: 32,
        }
    }
}

impl LimitSettings {
    /// Checks values serde cannot: no zero timeout or cap (either would refuse every request).
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("limits.header_read_timeout", self.header_read_timeout),
            ("limits.idle_timeout", self.idle_timeout),
            ("limits.body_read_timeout", self.body_read_timeout),
        ] {
            if value < Duration::from_millis(100) {
                return Err(format!("{key} must be at least 100ms, not {value:?}"));
            }
        }
        if self.max_connections == 0 {
            return Err("limits.max_connections must be at least 1".into());
        }
        Ok(())
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// `auto` (JSON unless on a terminal), `json` or `pretty`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `rustyhook_engine=debug,info`.
    pub level: String,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stderr is not a terminal, pretty otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Reads a duration written as `10s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 10s or 5m"))
}

/// Reads `delivery.auto_disable_after`: a duration of at least a second, or `0`/`off` for none.
pub fn parse_auto_disable(text: &str) -> Result<Duration, String> {
    if matches!(text.trim(), "0" | "off") {
        return Ok(Duration::ZERO);
    }
    let d = parse_duration(text)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is too short to disable endpoints after: use at least 1s, or 0 (off)"
        ));
    }
    Ok(d)
}

fn auto_disable<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_auto_disable(&text).map_err(serde::de::Error::custom)
}

/// Reads a boolean written as `true`/`false`/`1`/`0`/`yes`/`no`.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{text:?} is not true or false")),
    }
}

/// Checks a proxy URL: `http://` or `https://` with a host. An empty text means no proxy.
pub fn parse_proxy(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(text)
        .map_err(|e| format!("{text:?} is not a proxy URL like http://proxy:3128: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{text:?} is not a proxy URL like http://proxy:3128: expected http:// or https:// and a host"
        ));
    }
    Ok(Some(text.to_owned()))
}

fn proxy_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(text) => parse_proxy(&text).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn schedule<'de, D: Deserializer<'de>>(d: D) -> Result<RetryPolicy, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Text(String),
    }
    let text = match Form::deserialize(d)? {
        Form::List(items) => items.join(","),
        Form::Text(text) => text,
    };
    RetryPolicy::parse_list(&text).map_err(serde::de::Error::custom)
}
