//! `inlet check`: validate a config file without serving it.

use std::process::ExitCode;

use crate::app::App;
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    config: super::ConfigArg,
}

pub(crate) fn run(app: &App, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // Building loads the Lua scripts too, so a broken script fails the check.
    let server = match app.build(config.clone()) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("{err:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let lua = server.scripts().map_or(0, |s| s.service_names().len());
    println!(
        "{}: ok ({} channel(s), {} security definition(s), {} service(s) registered, {lua} of them Lua)",
        path.display(),
        config.channels.len(),
        config.security.len(),
        server.service_names().len(),
    );
    Ok(ExitCode::SUCCESS)
}
