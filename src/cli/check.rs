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
    if let Err(err) = app.build(config.clone()) {
        eprintln!("{err:#}");
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: ok ({} channel(s), {} security definition(s), {} service(s) registered)",
        path.display(),
        config.channels.len(),
        config.security.len(),
        app.service_names().len()
    );
    Ok(ExitCode::SUCCESS)
}
