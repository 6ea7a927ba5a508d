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

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Run the server: API, dispatcher and metrics.
    Serve,
    /// Validate the configuration and exit.
    Check,
}
