//! certsmith: HTTPS certificates over ACME. The protocol engine runs as a WebAssembly
//! component (only `wasi:random` imported); this binary does the I/O.

mod cli;
mod commands;
mod daemon;
mod driver;
mod engine;
mod epoch;
mod hook;
mod interrupt;
mod plugin;
mod progress;
mod serve;
mod solvers;
mod transport;
mod wasm_cache;

use certsmith::{clock, crash_point, layout, storage};

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, PluginCommand};
use commands::Failure;

/// Runs a command's future: on one thread for the ACME commands (they wait on the network),
/// on all cores for a server (`plugin serve`, `run`: they handle signals themselves). A
/// one-shot command stopped by SIGINT or SIGTERM first removes the challenges it published
/// (see [`interrupt`]).
fn block_on(
    command: impl std::future::Future<Output = Result<(), Failure>>,
    server: bool,
) -> Result<(), Failure> {
    let mut builder = if server {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return Err(Failure::new(
                commands::exit::OTHER,
                format!("cannot start the async runtime: {e}"),
            ));
        }
    };
    if server {
        return runtime.block_on(command);
    }
    runtime.block_on(async {
        let mut command = std::pin::pin!(command);
        tokio::select! {
            result = &mut command => result,
            () = interrupt::signalled() => {
                let stopped = || Failure::new(commands::exit::INTERRUPTED, "interrupted");
                if !interrupt::anything_published() {
                    return Err(stopped());
                }
                // The hub removes what it published and ends the command.
                tokio::time::timeout(interrupt::GRACE, command)
                    .await
                    .unwrap_or_else(|_| Err(stopped()))
            }
        }
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(|| dirs::data_dir().map(|d| d.join("certsmith")))
        .unwrap_or_else(|| "certsmith-state".into());
    let storage = cli.storage.clone().trusting(cli.storage_ca_cert.clone());
    let result = match cli.command {
        Command::Inspect(args) => block_on(commands::inspect::run(args, cli.json), false),
        Command::List => block_on(commands::list::run(&state_dir, &storage, cli.json), false),
        Command::Issue(args) => block_on(
            commands::issue::run(args, &state_dir, &storage, cli.json),
            false,
        ),
        Command::Renew(args) => block_on(
            commands::renew::run(args, &state_dir, &storage, cli.json),
            false,
        ),
        Command::Rollback(args) => block_on(
            commands::rollback::run(args, &state_dir, &storage, cli.json),
            false,
        ),
        Command::Revoke(args) => block_on(
            commands::revoke::run(args, &state_dir, &storage, cli.json),
            false,
        ),
        Command::Account(command) => block_on(
            commands::account::run(command, &state_dir, &storage, cli.json),
            false,
        ),
        Command::Run(args) => block_on(daemon::run(&args.config, &state_dir), true),
        Command::Plugin(PluginCommand::Serve(args)) => {
            commands::plugin::confine(&args, &state_dir, &storage)
                .and_then(|()| block_on(commands::plugin::serve(args, &state_dir, &storage), true))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("certsmith: {}", failure.message);
            failure.exit_code()
        }
    }
}
