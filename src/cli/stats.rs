//! `inlet stats` and `inlet migrate`.

use std::process::ExitCode;

use serde_json::json;

use super::{ConfigArg, store_access};

#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print one JSON object: {"events": N, "jobs": {"pending": N, "running": N, "done": N, "dead": N}}.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let store = store_access::open(&args.config.config).await?;
    let stats = store.stats().await?;
    let jobs = stats.jobs;
    if args.json {
        let value = json!({
            "events": stats.events,
            "jobs": {"pending": jobs.pending, "running": jobs.running, "done": jobs.done, "dead": jobs.dead},
        });
        println!("{value}");
    } else {
        println!("events  {}", stats.events);
        println!(
            "jobs    pending {}  running {}  done {}  dead {}",
            jobs.pending, jobs.running, jobs.done, jobs.dead
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    config: ConfigArg,
}

/// Opening the store applies any pending migrations; this reports where it stands.
pub(crate) async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let store = store_access::open(&args.config.config).await?;
    // Opening applied whatever was pending; a second pass finds nothing left to do.
    store.migrate().await?;
    let version = store.schema_version().await?;
    println!("store schema is at version {version}, up to date");
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
