//! Logs and metrics. Logs are JSON lines when stderr is not a terminal (so collectors can parse
//! them) and readable text when it is. Metrics go to one process-wide Prometheus recorder.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rustyhook_core::settings::{LogFormat, LoggingSettings};
use tracing_subscriber::EnvFilter;

/// The configured level, with lapin (the AMQP client) silenced unless the level names it: lapin
/// logs as errors what it also returns, and the RabbitMQ source logs that once, as a warning
/// naming the source, with the URL's password hidden. `RUST_LOG=lapin=debug` still shows it.
fn quiet_libraries(level: &str) -> String {
    if level.contains("lapin") {
        level.to_owned()
    } else {
        format!("{level},lapin=off")
    }
}

/// Installs the log subscriber. `RUST_LOG` overrides the configured level.
pub fn init_logging(settings: &LoggingSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(quiet_libraries(&settings.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A subscriber already installed (tests) is fine.
    drop(result);
}

/// Seconds buckets for latency histograms: 1 ms to 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process's metrics recorder, installed on first use.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lapin_is_silenced_unless_the_level_names_it() {
        assert_eq!(quiet_libraries("info"), "info,lapin=off");
        assert_eq!(
            quiet_libraries("warn,rustyhook=debug"),
            "warn,rustyhook=debug,lapin=off"
        );
        assert_eq!(quiet_libraries("info,lapin=debug"), "info,lapin=debug");
        assert!(EnvFilter::try_new(quiet_libraries("debug")).is_ok());
    }
}
