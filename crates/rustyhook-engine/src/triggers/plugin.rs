//! A plugin: a long-lived child process that turns anything (a Kafka topic, a serial port, a
//! mailbox) into handler runs.
//!
//! # Protocol
//! - The executable is the handler's `plugin` (a path, or a name looked up on `PATH`). It is
//!   started with `RUSTYHOOK_PLUGIN_OPTIONS` set to the handler's `options` as JSON, and that
//!   same JSON as the first line on its stdin.
//! - Each line it writes to stdout is one event, a JSON object:
//!   `{"id": "…", "type": "…", "payload": … , "vars": {"NAME": "value"}}`. Every key is
//!   optional; each of `vars` reaches the command as `RUSTYHOOK_VAR_NAME`; a `payload` that is not a string is passed on as JSON text.
//! - Once the event's run is durably queued, rustyhook writes `{"ack": "<id>", "run_id": "…"}`
//!   to the plugin's stdin, so the plugin can commit its own offset then and not before.
//! - A line that is not such an object is logged and skipped; stderr goes to rustyhook's log.
//! - If the process exits it is started again, after 1 s, doubling to at most 60 s while it
//!   keeps failing within a minute of starting.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustyhook_core::handlers::{Handler, Trigger};
use rustyhook_core::run::{Event, caller_var, is_settable_var};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::automation::Automation;

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A plugin that ran this long is considered healthy again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginEvent {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    payload: Option<serde_json::Value>,
    #[serde(default)]
    vars: std::collections::BTreeMap<String, String>,
}

/// Runs `handler`'s plugin, restarting it when it exits, until `token` is cancelled.
pub async fn run(automation: Automation, handler: Arc<Handler>, token: CancellationToken) {
    let Trigger::Plugin { plugin, options } = &handler.trigger else {
        return;
    };
    let options = options.to_string();
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        match run_once(&automation, &handler, plugin, &options, &token).await {
            Ok(()) if token.is_cancelled() => return,
            Ok(()) => tracing::warn!(handler = %handler.id, plugin, "plugin exited; restarting"),
            Err(e) => {
                tracing::error!(handler = %handler.id, plugin, error = %e, "plugin failed; restarting")
            }
        }
        if started.elapsed() > HEALTHY_AFTER {
            backoff = MIN_BACKOFF;
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn run_once(
    automation: &Automation,
    handler: &Handler,
    plugin: &str,
    options: &str,
    token: &CancellationToken,
) -> std::io::Result<()> {
    let mut cmd = tokio::process::Command::new(plugin);
    if let Some(dir) = &handler.action.working_dir {
        cmd.current_dir(dir);
    }
    let base = automation
        .base_env()
        .select(handler.inherit_env, &handler.env_passthrough);
    let mut child = cmd
        .env_clear()
        .envs(base)
        .env("RUSTYHOOK_PLUGIN_OPTIONS", options)
        .env("RUSTYHOOK_HANDLER", &handler.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take();
    if let Some(w) = stdin.as_mut() {
        w.write_all(format!("{options}\n").as_bytes()).await?;
    }
    if let Some(err) = child.stderr.take() {
        let id = handler.id.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(handler = %id, "plugin: {line}");
            }
        });
    }
    let Some(out) = child.stdout.take() else {
        return Ok(());
    };
    let mut lines = BufReader::new(out).lines();
    tracing::info!(handler = %handler.id, plugin, "plugin started");
    loop {
        let line = tokio::select! {
            () = token.cancelled() => {
                let _ = child.kill().await;
                return Ok(());
            }
            line = lines.next_line() => line?,
        };
        let Some(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let parsed: PluginEvent = match serde_json::from_str(&line) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(handler = %handler.id, error = %e, "plugin wrote a line that is not an event; skipped");
                continue;
            }
        };
        let id = parsed.id.unwrap_or_else(|| {
            format!(
                "plugin:{}",
                rustyhook_core::id::RunId::generate(rustyhook_core::time::now_millis())
            )
        });
        let payload = match parsed.payload {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let event = Event {
            id: id.clone(),
            event_type: parsed.event_type.unwrap_or_else(|| "plugin".into()),
            payload,
            vars: parsed
                .vars
                .into_iter()
                .filter(|(k, _)| is_settable_var(k))
                .map(|(k, v)| (caller_var(&k), v))
                .collect(),
            files: Vec::new(),
        };
        match automation.trigger(&handler.id, event, "plugin").await {
            Ok(run) => {
                if let Some(w) = stdin.as_mut() {
                    let ack = serde_json::json!({"ack": id, "run_id": run.id});
                    let _ = w.write_all(format!("{ack}\n").as_bytes()).await;
                }
            }
            Err(e) => {
                tracing::error!(handler = %handler.id, error = %e, "could not queue a plugin event")
            }
        }
    }
    let status = child.wait().await?;
    tracing::warn!(handler = %handler.id, %status, "plugin process ended");
    Ok(())
}
