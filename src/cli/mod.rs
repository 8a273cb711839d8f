//! The command line: `serve`, `check`, `send` and `verify`.
//!
//! Every subcommand returns an exit code: 0 for success, 1 for a failure it explains on
//! stderr, and 2 for a usage error (from clap).

mod check;
mod events;
mod send;
mod serve;
mod stats;
mod store_access;
mod verify;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::App;
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Inlet: receive webhooks, verify them, and run services on them"
)]
struct Cli {
    /// How log lines are written.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "INLET_LOG_FORMAT"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the channels of a config file.
    Serve(serve::ServeArgs),
    /// Check a config file without serving it; exits 1 if anything is wrong.
    Check(check::CheckArgs),
    /// Send a test webhook, optionally signed as a provider would, and print the answer.
    Send(send::SendArgs),
    /// Check a captured request's signature offline and say why it passes or fails.
    Verify(verify::VerifyArgs),
    /// Look at stored events and their jobs; replay them.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Count events and jobs by state.
    Stats(stats::StatsArgs),
    /// Bring the store's schema up to date (serve does this too).
    Migrate(stats::MigrateArgs),
}

/// Runs the CLI for `app` with `args` (the first being the program name).
pub(crate) fn run(app: App, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args = args.into_iter().peekable();
    let program = args
        .peek()
        .and_then(|arg| {
            Path::new(arg)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "inlet".to_string());
    let matches = match Cli::command().name(program).try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(2);
        }
    };
    let _log_flush = telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(app, args).await,
            Command::Check(args) => check::run(&app, args),
            Command::Send(args) => send::run(args).await,
            Command::Verify(args) => verify::run(args),
            Command::Events(command) => events::run(command).await,
            Command::Stats(args) => stats::run(args).await,
            Command::Migrate(args) => stats::migrate(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--config FILE`, shared by the subcommands that read a config.
#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file (TOML).
    #[arg(long, short = 'c', value_name = "FILE", env = "INLET_CONFIG")]
    config: PathBuf,
}
