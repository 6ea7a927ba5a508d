//! Each trigger's `options`. Every struct rejects unknown keys, so a typo is an error naming the
//! key and its line. RustyHook's own `options.type` is accepted and ignored.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::pattern::PathGlob;
use super::schedule::{CronSchedule, TimeZoneName};

/// The trigger kinds, as written in a handler's `type` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An incoming HTTP request.
    Webhook,
    /// A cron schedule.
    Cron,
    /// Changed files.
    Filesystem,
    /// An Amazon SQS queue.
    Sqs,
    /// A long-lived plugin process that emits events.
    Plugin,
    /// No trigger of its own: runs when another handler forwards to it, or through the API.
    Custom,
}

impl Kind {
    /// Reads a `type` value.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "webhook" | "http" => Self::Webhook,
            "cron" => Self::Cron,
            "filesystem" | "file" | "fs" => Self::Filesystem,
            "sqs" => Self::Sqs,
            "plugin" => Self::Plugin,
            "custom" | "manual" => Self::Custom,
            _ => return None,
        })
    }

    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Cron => "cron",
            Self::Filesystem => "filesystem",
            Self::Sqs => "sqs",
            Self::Plugin => "plugin",
            Self::Custom => "custom",
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown handler type {text:?}; expected Webhook, Cron, Filesystem, SQS, Plugin or Custom"
            ))
        })
    }
}

/// How a webhook answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseMode {
    /// `202` with the run id once the run is durably queued.
    #[default]
    Accepted,
    /// Wait for the command: `200` on exit code 0, `500` otherwise, with its output.
    Wait,
}

/// Basic auth credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// HMAC algorithm of a signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// SHA-1 (GitHub's old `X-Hub-Signature`).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

/// An address range: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange(pub IpNet);

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let t = text.trim();
        t.parse::<IpNet>()
            .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
            .map(Self)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{text:?} is not an address range like 10.0.0.0/8 or an address"
                ))
            })
    }
}

/// `type: Webhook` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOptions {
    #[serde(rename = "type", default)]
    _type: Option<String>,
    /// A port of its own, beside `/hooks/{id}` on the main listener.
    pub port: Option<u16>,
    /// The path on that port.
    #[serde(default = "default_path")]
    pub path: String,
    /// Required value of the `X-Auth-Token` header.
    pub auth_token: Option<String>,
    /// Secret for an HMAC signature of the body.
    pub hmac_secret: Option<String>,
    /// The header carrying it: `X-Hub-Signature-256` unless set.
    pub hmac_header: Option<String>,
    /// The algorithm; read from a `sha256=` prefix or the header name unless set.
    pub hmac_algorithm: Option<HmacAlgorithm>,
    /// A `whsec_` secret: verify Standard Webhooks (`webhook-*`) or Svix (`svix-*`) signatures.
    pub signing_secret: Option<String>,
    /// How far a signature's timestamp may be from now.
    #[serde(
        default = "default_tolerance",
        deserialize_with = "super::action::timeout"
    )]
    pub signature_tolerance: Duration,
    /// Basic auth credentials.
    pub basic_auth: Option<BasicAuth>,
    /// Only these source address ranges may call (`10.0.0.0/8`, `127.0.0.1/32`).
    #[serde(default)]
    pub allowed_ips: Vec<IpRange>,
    /// Requests per second accepted; more get `429`.
    pub rate_limit: Option<u32>,
    /// A `GET` path answering `200` without running anything.
    pub health_path: Option<String>,
    /// Largest accepted body; the server's `limits.max_payload_bytes` unless set.
    pub max_body_bytes: Option<usize>,
    /// `accepted` (default) or `wait`.
    #[serde(default)]
    pub response: ResponseMode,
    /// The HTTP methods that start a run, upper-cased; any other gets `405`. `[POST]` unless
    /// set: a `GET` from a crawler, a link preview or a prefetch must not deploy anything.
    #[serde(default = "default_methods", deserialize_with = "methods")]
    pub methods: Vec<String>,
    /// Whether `/hooks/{id}` on the main listener answers for this handler too. Unless set:
    /// yes without a `port`, no with one, so a handler given its own port (often the one
    /// exposed to the internet) is not also reachable where the API is.
    pub main_listener: Option<bool>,
}

impl WebhookOptions {
    /// Whether `/hooks/{id}` on the main listener runs this handler.
    pub fn on_main_listener(&self) -> bool {
        self.main_listener.unwrap_or(self.port.is_none())
    }

    /// Whether a request with `method` starts a run.
    pub fn allows(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

fn default_methods() -> Vec<String> {
    vec!["POST".into()]
}

fn methods<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = super::action::one_or_many(d)?;
    if names.is_empty() {
        return Err(serde::de::Error::custom(
            "methods must name at least one HTTP method (POST unless set)",
        ));
    }
    names
        .into_iter()
        .map(|m| {
            if !m.is_empty() && m.len() <= 16 && m.chars().all(|c| c.is_ascii_alphabetic()) {
                Ok(m.to_ascii_uppercase())
            } else {
                Err(serde::de::Error::custom(format!(
                    "{m:?} is not an HTTP method (POST, PUT, GET, …)"
                )))
            }
        })
        .collect()
}

fn default_path() -> String {
    "/".into()
}

fn default_tolerance() -> Duration {
    Duration::from_secs(300)
}

/// What to do about ticks missed while the server was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Forget them; wait for the next tick.
    #[default]
    Skip,
    /// Run once at start-up if any tick was missed.
    RunOnce,
}

/// `type: Cron` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronOptions {
    #[serde(rename = "type", default)]
    _type: Option<String>,
    /// When it fires.
    pub cron_expression: CronSchedule,
    /// The zone the expression is read in; UTC unless set.
    pub timezone: Option<TimeZoneName>,
    /// Missed ticks after downtime.
    #[serde(default)]
    pub misfire: Misfire,
}

/// A kind of file change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileChange {
    /// A file or folder appeared.
    Create,
    /// Contents or metadata changed.
    Modify,
    /// A file or folder went away.
    Remove,
    /// A file or folder was renamed or moved.
    Rename,
}

impl FileChange {
    /// Its name in `RUSTYHOOK_EVENT_TYPE` and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Modify => "modify",
            Self::Remove => "remove",
            Self::Rename => "rename",
        }
    }
}

fn file_changes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FileChange>, D::Error> {
    let names = super::action::one_or_many(d)?;
    let mut kinds = Vec::new();
    for name in &names {
        let more: &[FileChange] = match name.to_ascii_lowercase().as_str() {
            "create" | "created" => &[FileChange::Create],
            "modify" | "write" | "modified" | "change" => &[FileChange::Modify],
            "remove" | "delete" | "removed" | "deleted" => &[FileChange::Remove],
            "rename" | "renamed" | "move" => &[FileChange::Rename],
            "any" | "all" => &[
                FileChange::Create,
                FileChange::Modify,
                FileChange::Remove,
                FileChange::Rename,
            ],
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unknown event_type {name:?}; expected create, modify (or write), remove, rename or any"
                )));
            }
        };
        kinds.extend_from_slice(more);
    }
    Ok(kinds)
}

/// `type: Filesystem` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemOptions {
    #[serde(rename = "type", default)]
    _type: Option<String>,
    /// The folder (or file) to watch.
    pub path: PathBuf,
    /// Watch sub-folders too (the default).
    #[serde(default = "yes")]
    pub recursive: bool,
    /// Which changes run the handler; all of them unless set.
    #[serde(default, deserialize_with = "file_changes", alias = "events")]
    pub event_type: Vec<FileChange>,
    /// Changes are collected until none came for this long, then run once.
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    /// Only paths matching one of these (relative to `path`).
    #[serde(default)]
    pub include: Vec<PathGlob>,
    /// Never paths matching one of these; wins over `include`.
    #[serde(default)]
    pub exclude: Vec<PathGlob>,
}

fn yes() -> bool {
    true
}

fn default_debounce() -> u64 {
    100
}

/// `type: SQS` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsOptions {
    #[serde(rename = "type", default)]
    _type: Option<String>,
    /// The queue's URL.
    pub queue_url: String,
    /// Seconds between polls when the queue was empty.
    #[serde(default = "default_poll")]
    pub poll_interval: u64,
    /// The region; from the queue URL or `AWS_REGION` unless set.
    pub aws_region: Option<String>,
    /// Another SQS-compatible server (`http://127.0.0.1:4566`); the queue URL's host unless set.
    pub endpoint_url: Option<String>,
    /// Long-poll wait, 0 to 20 seconds.
    #[serde(default = "default_wait")]
    pub wait_time_seconds: u8,
    /// Messages fetched per poll, 1 to 10.
    #[serde(default = "default_batch")]
    pub max_messages: u8,
    /// How long a received message stays hidden from other consumers.
    pub visibility_timeout: Option<u32>,
    /// An access key id, when not taken from `AWS_ACCESS_KEY_ID` (the environment is better).
    pub aws_access_key_id: Option<String>,
    /// Its secret, when not taken from `AWS_SECRET_ACCESS_KEY`.
    pub aws_secret_access_key: Option<String>,
}

fn default_poll() -> u64 {
    1
}

fn default_wait() -> u8 {
    20
}

fn default_batch() -> u8 {
    10
}

/// The handler's trigger, with its options.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// An incoming HTTP request.
    Webhook(WebhookOptions),
    /// A cron schedule.
    Cron(CronOptions),
    /// Changed files.
    Filesystem(FilesystemOptions),
    /// An SQS queue.
    Sqs(SqsOptions),
    /// A plugin process.
    Plugin {
        /// The executable's name or path.
        plugin: String,
        /// Passed to it as JSON.
        options: serde_json::Value,
    },
    /// None: forwarded to, or run through the API.
    Custom,
}

impl Trigger {
    /// The trigger's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Webhook(_) => Kind::Webhook,
            Self::Cron(_) => Kind::Cron,
            Self::Filesystem(_) => Kind::Filesystem,
            Self::Sqs(_) => Kind::Sqs,
            Self::Plugin { .. } => Kind::Plugin,
            Self::Custom => Kind::Custom,
        }
    }
}
