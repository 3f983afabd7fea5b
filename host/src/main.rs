//! certsmith: HTTPS certificates over ACME. The protocol engine runs as a WebAssembly
//! component (only `wasi:random` imported); this binary does the I/O.

mod cli;
mod commands;
mod driver;
mod engine;
mod layout;
mod progress;
mod solvers;
mod storage;
mod transport;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

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
    let result = match cli.command {
        Command::Inspect(args) => commands::inspect::run(&args.file, cli.json),
        Command::Issue(args) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(commands::issue::run(args, &state_dir, cli.json)),
            Err(e) => Err(commands::Failure::new(
                commands::exit::OTHER,
                format!("cannot start the async runtime: {e}"),
            )),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("certsmith: {}", failure.message);
            failure.exit_code()
        }
    }
}
