//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// rustyhook: a self-hosted webhook engine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The config file; `./rustyhook.yaml` is used when present and this is not given.
    #[arg(short, long, global = true, env = "RUSTYHOOK_CONFIG")]
    pub config: Option<PathBuf>,

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
