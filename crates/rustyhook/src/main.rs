//! `rustyhook`: see `rustyhook --help`.

use std::process::ExitCode;

use clap::Parser;
use rustyhook::cli::{Cli, Command};
use rustyhook::{client, config, report, selftest, server, telemetry};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The client commands talk to a running server and need no config of their own.
    if let Some(client) = client_command(cli.command.as_ref()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the tokio runtime starts");
        return runtime.block_on(client);
    }
    let mut loaded = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(role) = cli.role {
        loaded.settings.cluster.role = role;
    }
    let command = match cli.command {
        _ if cli.validate => Command::Check,
        Some(c) => c,
        None => Command::Serve,
    };
    match command {
        Command::Pause(_) | Command::Resume(_) | Command::Status(_) => {
            unreachable!("client commands are run before the config is loaded")
        }
        Command::Check => {
            print!("{}", report::describe(&loaded));
            ExitCode::SUCCESS
        }
        Command::Test => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("the tokio runtime starts");
            runtime.block_on(selftest::run(&loaded))
        }
        Command::Serve => {
            telemetry::init_logging(&loaded.settings.logging);
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("the tokio runtime starts");
            match runtime.block_on(serve(loaded)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "rustyhook stopped with an error");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The client command to run, if `command` is one.
fn client_command(
    command: Option<&Command>,
) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ExitCode> + '_>>> {
    match command? {
        Command::Pause(args) => Some(Box::pin(client::pause(args))),
        Command::Resume(args) => Some(Box::pin(client::resume(args))),
        Command::Status(args) => Some(Box::pin(client::status(args))),
        Command::Serve | Command::Check | Command::Test => None,
    }
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let app = server::Application::build_from(config, telemetry::metrics_handle()).await?;
    if let Some(token) = app.new_admin_token() {
        println!(
            "Generated an admin token. It is shown only this once; keep it safe:\n\n    {token}\n"
        );
    }
    tracing::info!(listen = %app.local_addr(), "rustyhook is listening");
    let token = CancellationToken::new();
    tokio::spawn(stop_on_signal(token.clone()));
    app.run_until_stopped(token).await
}

/// Cancels `token` on SIGTERM or SIGINT; a second signal exits at once.
async fn stop_on_signal(token: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("stopping: no new work is taken; attempts in flight are finishing");
    token.cancel();
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::warn!("second signal: exiting now");
    std::process::exit(130);
}
