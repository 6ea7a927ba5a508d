//! Settings come from, in increasing precedence: defaults, the config file, environment
//! variables. Bad values fail here, naming the key (and line, for the file) before anything
//! starts.

use std::path::Path;

use anyhow::{Context, bail};
use rustyhook_core::crypto::redact_url;
use rustyhook_core::handlers::{HandlerSet, Warnings};
use rustyhook_core::retry::RetryPolicy;
use rustyhook_core::settings::{
    LogFormat, Settings, parse_admin_token, parse_auto_disable, parse_bool, parse_duration,
    parse_proxy,
};

/// The file used when none is named.
pub const DEFAULT_FILE: &str = "rustyhook.yaml";

/// Loads the settings from `file` (or `./rustyhook.yaml` if present) and the environment, and
/// checks the handlers.
pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
    Config::build(load_settings(file)?)
}

/// Loads the settings from `file` (or `./rustyhook.yaml` if present) and the environment.
pub fn load_settings(file: Option<&Path>) -> anyhow::Result<Settings> {
    let mut settings = match file {
        Some(path) => read_file(path)?,
        None if Path::new(DEFAULT_FILE).exists() => read_file(Path::new(DEFAULT_FILE))?,
        None => Settings::default(),
    };
    apply_env(&mut settings, |name| std::env::var(name).ok())?;
    Ok(settings)
}

/// Settings with their handlers checked together.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's settings (its `handlers` are also in `handlers`, checked).
    pub settings: Settings,
    /// The handlers, ids resolved.
    pub handlers: HandlerSet,
    /// Things worth a look that do not stop the server (a script not found here).
    pub warnings: Warnings,
}

impl Config {
    /// Checks the handlers of `settings`.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.limits.check().map_err(anyhow::Error::msg)?;
        settings.stats.check().map_err(anyhow::Error::msg)?;
        if settings.alert_interval < std::time::Duration::from_secs(1) {
            bail!(
                "alert_interval must be at least 1s, not {:?}",
                settings.alert_interval
            );
        }
        let (handlers, warnings) = HandlerSet::build(settings.handlers.clone())
            .map_err(anyhow::Error::msg)
            .context("the handlers are not valid")?;
        let ids: Vec<String> = handlers.iter().map(|h| h.id.clone()).collect();
        let mut names = std::collections::BTreeSet::new();
        for source in &settings.sources {
            source.check(&ids).map_err(anyhow::Error::msg)?;
            if !names.insert(source.name()) {
                bail!(
                    "two sources are named {:?}; give one a `name`",
                    source.name()
                );
            }
        }
        Ok(Self {
            settings,
            handlers,
            warnings,
        })
    }
}

/// Parses a config file's text.
pub fn parse(text: &str, origin: &str) -> anyhow::Result<Settings> {
    if text.trim().is_empty() {
        return Ok(Settings::default());
    }
    serde_norway::from_str(text).map_err(|e| {
        let retired = e.to_string().starts_with("invalid type: sequence");
        let err = if retired {
            let line = e.location().map_or(1, |l| l.line());
            anyhow::anyhow!(
                "line {line}: the file is a list, RustyHook's retired config format; rustyhook \
                 expects a map with a `handlers:` list whose entries have `type`, `name`, \
                 `options` and `shell` (see docs/handlers.md)"
            )
        } else {
            anyhow::Error::new(e)
        };
        err.context(format!("{origin} is not a valid rustyhook config"))
    })
}

fn read_file(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the config file {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// The environment variables rustyhook reads, each overriding one setting.
pub const ENV_VARS: &[&str] = &[
    "RUSTYHOOK_LISTEN",
    "RUSTYHOOK_DATA_DIR",
    "RUSTYHOOK_DATABASE_URL",
    "RUSTYHOOK_SQLITE_FAST_UNSAFE_SYNC",
    "RUSTYHOOK_DATABASE_MAX_CONNECTIONS",
    "RUSTYHOOK_DATABASE_ACQUIRE_TIMEOUT",
    "RUSTYHOOK_ROLE",
    "RUSTYHOOK_NODE_ID",
    "RUSTYHOOK_COORDINATOR",
    "RUSTYHOOK_ADMIN_TOKEN",
    "RUSTYHOOK_TRUST_FORWARDED_FOR",
    "RUSTYHOOK_AUDIT_RETENTION",
    "RUSTYHOOK_RETRY_SCHEDULE",
    "RUSTYHOOK_REQUEST_TIMEOUT",
    "RUSTYHOOK_ALLOW_PRIVATE_NETWORKS",
    "RUSTYHOOK_DELIVERY_PROXY",
    "RUSTYHOOK_MAX_IN_FLIGHT_PER_ENDPOINT",
    "RUSTYHOOK_MAX_IN_FLIGHT_TOTAL",
    "RUSTYHOOK_QUEUE_CAPACITY",
    "RUSTYHOOK_POLL_INTERVAL",
    "RUSTYHOOK_SHUTDOWN_GRACE",
    "RUSTYHOOK_BREAKER_THRESHOLD",
    "RUSTYHOOK_BREAKER_FAILING_FOR",
    "RUSTYHOOK_BREAKER_MAX_PROBE_INTERVAL",
    "RUSTYHOOK_AUTO_DISABLE_AFTER",
    "RUSTYHOOK_HEADER_STYLE",
    "RUSTYHOOK_MAX_PAYLOAD_BYTES",
    "RUSTYHOOK_MAX_RESPONSE_BYTES",
    "RUSTYHOOK_HEADER_READ_TIMEOUT",
    "RUSTYHOOK_IDLE_TIMEOUT",
    "RUSTYHOOK_BODY_READ_TIMEOUT",
    "RUSTYHOOK_MAX_CONNECTIONS",
    "RUSTYHOOK_API_RATE_LIMIT",
    "RUSTYHOOK_API_BURST",
    "RUSTYHOOK_MAX_QUEUED_RUNS_PER_HANDLER",
    "RUSTYHOOK_MAX_QUEUED_RUNS",
    "RUSTYHOOK_MAX_RUNNING_COMMANDS",
    "RUSTYHOOK_LOG_FORMAT",
    "RUSTYHOOK_LOG_LEVEL",
    "RUSTYHOOK_STATS_MINUTE_RETENTION",
    "RUSTYHOOK_STATS_HOUR_RETENTION",
    "RUSTYHOOK_ALERT_INTERVAL",
];

/// Applies environment overrides read through `get`.
pub fn apply_env(s: &mut Settings, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    for name in ENV_VARS {
        let Some(value) = get(name) else { continue };
        apply_one(s, name, &value)
            .with_context(|| format!("environment variable {name}={}", shown(name, &value)))?;
    }
    Ok(())
}

/// A variable's value as an error may show it: never a token, and a URL without its password.
fn shown(name: &str, value: &str) -> String {
    match name {
        "RUSTYHOOK_ADMIN_TOKEN" => "(hidden)".into(),
        "RUSTYHOOK_DATABASE_URL" | "RUSTYHOOK_COORDINATOR" | "RUSTYHOOK_DELIVERY_PROXY" => {
            format!("{:?}", redact_url(value))
        }
        _ => format!("{value:?}"),
    }
}

fn apply_one(s: &mut Settings, name: &str, v: &str) -> anyhow::Result<()> {
    let number =
        |v: &str| -> anyhow::Result<u64> { v.trim().parse().context("expected a whole number") };
    let text = |v: &str| anyhow::Ok(v.to_owned());
    match name {
        "RUSTYHOOK_LISTEN" => {
            s.listen = v
                .parse()
                .context("expected an address like 127.0.0.1:8071")?
        }
        "RUSTYHOOK_DATA_DIR" => s.data_dir = v.into(),
        "RUSTYHOOK_DATABASE_URL" => s.database.url = Some(text(v)?).filter(|u| !u.is_empty()),
        "RUSTYHOOK_SQLITE_FAST_UNSAFE_SYNC" => {
            s.database.fast_unsafe_sync = parse_bool(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_DATABASE_MAX_CONNECTIONS" => {
            s.database.max_connections = number(v)?.clamp(1, 1000) as u32
        }
        "RUSTYHOOK_DATABASE_ACQUIRE_TIMEOUT" => {
            s.database.acquire_timeout = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_ROLE" => s.cluster.role = v.parse().map_err(anyhow::Error::msg)?,
        "RUSTYHOOK_NODE_ID" => s.cluster.node_id = Some(text(v)?).filter(|n| !n.is_empty()),
        "RUSTYHOOK_COORDINATOR" => s.cluster.coordinator = Some(text(v)?).filter(|u| !u.is_empty()),
        "RUSTYHOOK_ADMIN_TOKEN" => {
            s.auth.admin_token = Some(parse_admin_token(v).map_err(anyhow::Error::msg)?)
        }
        "RUSTYHOOK_TRUST_FORWARDED_FOR" => {
            s.auth.trust_forwarded_for = parse_bool(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_AUDIT_RETENTION" => {
            s.auth.audit_retention = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_RETRY_SCHEDULE" => s.retry.schedule = RetryPolicy::parse_list(v)?,
        "RUSTYHOOK_REQUEST_TIMEOUT" => {
            s.delivery.request_timeout = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_ALLOW_PRIVATE_NETWORKS" => {
            s.delivery.allow_private_networks = parse_bool(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_DELIVERY_PROXY" => {
            s.delivery.proxy = parse_proxy(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_MAX_IN_FLIGHT_PER_ENDPOINT" => {
            s.delivery.max_in_flight_per_endpoint = number(v)?.max(1) as u32
        }
        "RUSTYHOOK_MAX_IN_FLIGHT_TOTAL" => {
            s.delivery.max_in_flight_total = number(v)?.max(1) as u32
        }
        "RUSTYHOOK_QUEUE_CAPACITY" => s.delivery.queue_capacity = number(v)?.max(1) as usize,
        "RUSTYHOOK_ALERT_INTERVAL" => {
            s.alert_interval = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_POLL_INTERVAL" => {
            s.delivery.poll_interval = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_SHUTDOWN_GRACE" => {
            s.delivery.shutdown_grace = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_BREAKER_THRESHOLD" => {
            s.delivery.breaker_threshold = number(v)?.min(1_000_000) as u32
        }
        "RUSTYHOOK_BREAKER_FAILING_FOR" => {
            s.delivery.breaker_failing_for = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_BREAKER_MAX_PROBE_INTERVAL" => {
            s.delivery.breaker_max_probe_interval = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_AUTO_DISABLE_AFTER" => {
            s.delivery.auto_disable_after = parse_auto_disable(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_HEADER_STYLE" => {
            s.delivery.header_style = v.parse().map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_MAX_PAYLOAD_BYTES" => s.limits.max_payload_bytes = number(v)? as usize,
        "RUSTYHOOK_MAX_RESPONSE_BYTES" => s.limits.max_response_bytes = number(v)? as usize,
        "RUSTYHOOK_HEADER_READ_TIMEOUT" => {
            s.limits.header_read_timeout = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_IDLE_TIMEOUT" => {
            s.limits.idle_timeout = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_BODY_READ_TIMEOUT" => {
            s.limits.body_read_timeout = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_MAX_CONNECTIONS" => s.limits.max_connections = number(v)? as usize,
        "RUSTYHOOK_API_RATE_LIMIT" => s.limits.api_rate_limit = number(v)?.min(1_000_000) as u32,
        "RUSTYHOOK_API_BURST" => s.limits.api_burst = number(v)?.clamp(1, 1_000_000) as u32,
        "RUSTYHOOK_MAX_QUEUED_RUNS_PER_HANDLER" => {
            s.limits.max_queued_runs_per_handler = number(v)?
        }
        "RUSTYHOOK_MAX_QUEUED_RUNS" => s.limits.max_queued_runs = number(v)?,
        "RUSTYHOOK_MAX_RUNNING_COMMANDS" => {
            s.limits.max_running_commands = u32::try_from(number(v)?.max(1))
                .context("expected a number of commands up to 4294967295")?
        }
        "RUSTYHOOK_LOG_FORMAT" => {
            s.logging.format = match v.trim() {
                "auto" => LogFormat::Auto,
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => bail!("expected auto, json or pretty"),
            }
        }
        "RUSTYHOOK_LOG_LEVEL" => s.logging.level = text(v)?,
        "RUSTYHOOK_STATS_MINUTE_RETENTION" => {
            s.stats.minute_retention = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        "RUSTYHOOK_STATS_HOUR_RETENTION" => {
            s.stats.hour_retention = parse_duration(v).map_err(anyhow::Error::msg)?
        }
        _ => unreachable!("every name in ENV_VARS is handled"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_and_line() {
        let err = parse(
            "listen: 127.0.0.1:9000\ndelivery:\n  request_timeot: 5s\n",
            "test.yaml",
        )
        .expect_err("typo");
        let text = format!("{err:#}");
        assert!(text.contains("request_timeot"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn file_values_are_read_and_environment_overrides_them() {
        let mut s = parse(
            "delivery:\n  request_timeout: 3s\nretry:\n  schedule: [1s, 2s]\n",
            "test.yaml",
        )
        .expect("valid");
        assert_eq!(s.delivery.request_timeout, Duration::from_secs(3));
        assert_eq!(s.retry.schedule.max_attempts(), 3);
        let env: HashMap<&str, &str> = HashMap::from([
            ("RUSTYHOOK_REQUEST_TIMEOUT", "250ms"),
            ("RUSTYHOOK_RETRY_SCHEDULE", "1s,2s,5m"),
            ("RUSTYHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
            ("RUSTYHOOK_LISTEN", "127.0.0.1:0"),
        ]);
        apply_env(&mut s, |k| env.get(k).map(|v| v.to_string())).expect("valid env");
        assert_eq!(s.delivery.request_timeout, Duration::from_millis(250));
        assert_eq!(s.retry.schedule.max_attempts(), 4);
        assert!(s.delivery.allow_private_networks);
        assert_eq!(s.listen.port(), 0);
    }

    #[test]
    fn stats_retention_is_read_from_the_file_and_the_environment_and_checked() {
        let mut s = parse(
            "stats:\n  minute_retention: 6h\n  hour_retention: 30d\n",
            "t.yaml",
        )
        .expect("valid");
        assert_eq!(s.stats.minute_retention, Duration::from_secs(6 * 3600));
        assert_eq!(s.stats.hour_retention, Duration::from_secs(30 * 86_400));
        apply_env(&mut s, |k| {
            (k == "RUSTYHOOK_STATS_MINUTE_RETENTION").then(|| "2h".into())
        })
        .expect("valid env");
        assert_eq!(s.stats.minute_retention, Duration::from_secs(2 * 3600));
        for (yaml, named) in [
            (
                "stats:\n  minute_retention: 10s\n",
                "stats.minute_retention",
            ),
            ("stats:\n  hour_retention: 30m\n", "stats.hour_retention"),
            (
                "stats:\n  minute_retention: 2d\n  hour_retention: 1d\n",
                "stats.hour_retention",
            ),
        ] {
            let settings = parse(yaml, "t.yaml").expect("parses");
            let err = Config::build(settings).expect_err(yaml);
            assert!(format!("{err:#}").contains(named), "{yaml}: {err:#}");
        }
        let err =
            parse("stats:\n  minute_retention: soon\n", "t.yaml").expect_err("not a duration");
        assert!(format!("{err:#}").contains("soon"), "{err:#}");
    }

    #[test]
    fn a_short_admin_token_is_refused_from_the_file_and_the_environment_without_echoing_it() {
        let err = parse("auth:\n  admin_token: short-secret\n", "test.yaml").expect_err("short");
        let text = format!("{err:#}");
        assert!(text.contains("at least 16 characters"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
        let mut s = Settings::default();
        let err = apply_env(&mut s, |k| {
            (k == "RUSTYHOOK_ADMIN_TOKEN").then(|| "short-secret".into())
        })
        .expect_err("short");
        let text = format!("{err:#}");
        assert!(text.contains("RUSTYHOOK_ADMIN_TOKEN"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
        let ok = parse(
            "auth:\n  admin_token: ' long-enough-token-1234 '\n",
            "t.yaml",
        )
        .expect("long enough");
        assert_eq!(
            ok.auth.admin_token.as_deref(),
            Some("long-enough-token-1234")
        );
    }

    #[test]
    fn the_default_header_style_is_read_from_the_file_and_the_environment_and_checked() {
        use rustyhook_core::signing::HeaderStyle;
        assert_eq!(
            Settings::default().delivery.header_style,
            HeaderStyle::Standard
        );
        let mut s = parse("delivery:\n  header_style: svix\n", "t.yaml").expect("valid");
        assert_eq!(s.delivery.header_style, HeaderStyle::Svix);
        let err = parse("delivery:\n  header_style: sivx\n", "t.yaml").expect_err("typo");
        assert!(format!("{err:#}").contains("sivx"), "{err:#}");
        apply_env(&mut s, |k| {
            (k == "RUSTYHOOK_HEADER_STYLE").then(|| "standard".into())
        })
        .expect("valid env");
        assert_eq!(s.delivery.header_style, HeaderStyle::Standard);
        let err = apply_env(&mut s, |k| {
            (k == "RUSTYHOOK_HEADER_STYLE").then(|| "svx".into())
        })
        .expect_err("bad");
        assert!(
            format!("{err:#}").contains("RUSTYHOOK_HEADER_STYLE"),
            "{err:#}"
        );
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let mut s = Settings::default();
        let err = apply_env(&mut s, |k| {
            (k == "RUSTYHOOK_REQUEST_TIMEOUT").then(|| "soon".into())
        })
        .expect_err("bad");
        assert!(format!("{err:#}").contains("RUSTYHOOK_REQUEST_TIMEOUT"));
    }
}
