//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rustyhook_core::settings::Role;

/// rustyhook: a self-hosted webhook engine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The config file; `./rustyhook.yaml` is used when present and this is not given.
    #[arg(short, long, global = true, env = "RUSTYHOOK_CONFIG")]
    pub config: Option<PathBuf>,

    /// What this node does: `all`, `api` (API and incoming webhooks) or `worker` (delivery,
    /// handler runs and triggers). Overrides `cluster.role`.
    #[arg(long, global = true, value_parser = parse_role)]
    pub role: Option<Role>,

    /// Validate the configuration, list the handlers and exit (RustyHook's flag; same as `check`).
    #[arg(long)]
    pub validate: bool,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Run the server: API, dispatcher and metrics.
    Serve,
    /// Validate the configuration, list the handlers and exit.
    Check,
    /// Run the `tests:` cases of the handlers; exits non-zero if one fails.
    Test,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}
