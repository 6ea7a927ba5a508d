//! What `rustyhook check` prints: the settings that matter and every handler in one line.

use std::fmt::Write;

use rustyhook_core::handlers::{Command, Handler, Trigger};

use crate::config::Config;

/// The listing printed by `check` and `--validate`.
pub fn describe(config: &Config) -> String {
    let s = &config.settings;
    let mut out = format!(
        "configuration is valid (listen {}, data dir {})\n",
        s.listen,
        s.data_dir.display()
    );
    let n = config.handlers.len();
    let _ = writeln!(out, "{n} handler{}", if n == 1 { "" } else { "s" });
    for h in config.handlers.iter() {
        let _ = writeln!(
            out,
            "  - {} [{}] {}: {}",
            h.id,
            h.trigger.kind().as_str(),
            trigger(h),
            h.name
        );
        let _ = writeln!(out, "      runs: {}", action(h));
    }
    for w in &config.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn trigger(h: &Handler) -> String {
    match &h.trigger {
        Trigger::Webhook(w) => match (w.port, w.on_main_listener()) {
            (Some(port), true) => format!("port {port} {} and /hooks/{}", w.path, h.id),
            (Some(port), false) => format!("port {port} {}", w.path),
            (None, true) => format!("/hooks/{}", h.id),
            (None, false) => "no listener (forwards and the API only)".into(),
        },
        Trigger::Cron(c) => format!("cron {:?}", c.cron_expression.as_str()),
        Trigger::Filesystem(f) => format!("watches {}", f.path.display()),
        Trigger::Sqs(q) => format!("queue {}", q.queue_url),
        Trigger::Plugin { plugin, .. } => format!("plugin {plugin}"),
        Trigger::Custom => "when forwarded to".into(),
    }
}

fn action(h: &Handler) -> String {
    let mut parts = Vec::new();
    match &h.action.command {
        Some(Command::Shell(s)) => parts.push(format!("{:?}", s.lines().next().unwrap_or(""))),
        Some(Command::Argv(v)) => parts.push(format!("{v:?}")),
        None => {}
    }
    if !h.routes.is_empty() {
        parts.push(format!("{} routes", h.routes.len()));
    }
    if !h.forward_to.is_empty() {
        parts.push(format!("then {}", h.forward_to.join(", ")));
    }
    if !h.depends_on.is_empty() {
        parts.push(format!("after {}", h.depends_on.join(", ")));
    }
    if let Some(p) = &h.publish {
        parts.push(format!("publishes to app {}", p.app));
    }
    parts.join("; ")
}
