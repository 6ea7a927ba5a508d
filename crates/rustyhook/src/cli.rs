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
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the server: API, dispatcher and metrics.
    Serve,
    /// Validate the configuration, list the handlers and exit.
    Check,
    /// Run the `tests:` cases of the handlers; exits non-zero if one fails.
    Test,
    /// Pause processing on a running server: `server`, or `app|endpoint|handler|source <id>`.
    /// Messages are still accepted and wait until resumed.
    Pause(PauseArgs),
    /// Resume what a pause held back: `server`, or `app|endpoint|handler|source <id>`.
    Resume(TargetArgs),
    /// Show what is paused on a running server, and how much waits behind each pause.
    Status(RemoteArgs),
}

/// Where a running server's API is, for the client commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// The server's base URL.
    #[arg(long, env = "RUSTYHOOK_URL", default_value = "http://127.0.0.1:8071")]
    pub url: String,
    /// A token that may pause and resume (the admin token, or an `admin` API token; a
    /// `read-only` token may run `status`).
    #[arg(long, env = "RUSTYHOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// What to pause or resume.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// What kind of thing.
    #[arg(value_parser = ["server", "app", "endpoint", "handler", "source"])]
    pub scope: String,
    /// Its id: an app's id or uid, an endpoint's id (`ep_…`), a handler's id, a source's
    /// name; none for the server.
    pub id: Option<String>,
    /// The server to ask.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `pause`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct PauseArgs {
    /// What to pause.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Why, kept with the pause and shown by `status`.
    #[arg(long)]
    pub reason: Option<String>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}
