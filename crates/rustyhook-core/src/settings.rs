//! The server's settings: what `rustyhook.yaml` may contain (beside handlers) and what environment
//! variables override. Values are validated as they are read, so a bad file fails before anything
//! binds a port, and every unknown key is an error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::handlers::Handler;
use crate::retry::RetrySchedule;
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
        }
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
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            fast_unsafe_sync: false,
            max_connections: 10,
        }
    }
}

/// API authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Use this admin token instead of generating one. Never logged.
    pub admin_token: Option<String>,
}

/// The default retry schedule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Delays between attempts, as a list or a comma-separated string (`1s,2s,5m`).
    #[serde(deserialize_with = "schedule")]
    pub schedule: RetrySchedule,
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
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            allow_private_networks: false,
            max_in_flight_per_endpoint: 32,
            max_in_flight_total: 1024,
            queue_capacity: 20_000,
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Size caps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest accepted request body, in bytes.
    pub max_payload_bytes: usize,
    /// Largest stored response body per attempt, in bytes; longer ones are truncated.
    pub max_response_bytes: usize,
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
            max_queued_runs_per_handler: 100,
            max_queued_runs: 1000,
            max_running_commands: 32,
        }
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

/// Reads a boolean written as `true`/`false`/`1`/`0`/`yes`/`no`.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{text:?} is not true or false")),
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn schedule<'de, D: Deserializer<'de>>(d: D) -> Result<RetrySchedule, D::Error> {
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
    RetrySchedule::parse_list(&text).map_err(serde::de::Error::custom)
}
