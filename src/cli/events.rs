//! `inlet events list | show | replay | purge-dead`: the stored events and their jobs.
//! These work while the server runs, on the same store.

use std::process::ExitCode;

use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::ConfigArg;
use super::store_access::{format_time, millis, open, parse_since, require_yes};
use crate::security::unix_millis;
use crate::store::{EventFilter, JobState, MAX_LIST_LIMIT, ReplaySelector, Trace};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum EventsCommand {
    /// List stored events, newest first.
    List(ListArgs),
    /// Show one event (headers, body) and its jobs with every attempt.
    Show(ShowArgs),
    /// Run events' services again, as new jobs.
    Replay(ReplayArgs),
    /// Delete dead jobs (and events that only they kept).
    PurgeDead(PurgeDeadArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only events of this channel.
    #[arg(long)]
    channel: Option<String>,
    /// Only events whose job is in this state.
    #[arg(long, value_parser = parse_state)]
    status: Option<JobState>,
    /// Only events received since this time: RFC 3339, or a duration ago such as 2h.
    #[arg(long, value_parser = parse_since)]
    since: Option<i64>,
    /// At most this many events.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=MAX_LIST_LIMIT as i64))]
    limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The event's cid (from the X-Inlet-CID header or the log).
    cid: String,
    #[command(flatten)]
    config: ConfigArg,
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["cids", "dead", "channel"]))]
pub(crate) struct ReplayArgs {
    /// The cids of the events to replay.
    cids: Vec<String>,
    #[command(flatten)]
    config: ConfigArg,
    /// Replay every dead job.
    #[arg(long)]
    dead: bool,
    /// Replay the events of this channel received since --since.
    #[arg(long, requires = "since")]
    channel: Option<String>,
    /// With --channel: RFC 3339, or a duration ago such as 2h.
    #[arg(long, value_parser = parse_since, requires = "channel")]
    since: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PurgeDeadArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only dead jobs that last changed longer ago than this, such as 30d.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    older_than: std::time::Duration,
    /// Confirm: purged jobs cannot be replayed.
    #[arg(long)]
    yes: bool,
}

fn parse_state(text: &str) -> Result<JobState, String> {
    JobState::parse(text)
        .ok_or_else(|| format!("{text:?} is not a state; use pending, running, done or dead"))
}

pub(crate) async fn run(command: EventsCommand) -> anyhow::Result<ExitCode> {
    match command {
        EventsCommand::List(args) => list(args).await,
        EventsCommand::Show(args) => show(args).await,
        EventsCommand::Replay(args) => replay(args).await,
        EventsCommand::PurgeDead(args) => purge_dead(args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.config.config).await?;
    let events = store
        .list_events(EventFilter {
            channel: args.channel,
            status: args.status,
            since: args.since,
            limit: args.limit,
        })
        .await?;
    for event in &events {
        let status = event.status.map_or("-", JobState::as_str);
        if args.json {
            let line = json!({
                "cid": event.cid,
                "channel": event.channel,
                "received_at": format_time(event.received_at),
                "status": event.status.map(JobState::as_str),
                "method": event.method,
                "path": event.path,
                "body_len": event.body_len,
            });
            println!("{line}");
        } else {
            println!(
                "{}  {}  {:<16} {:<8} {} {} ({} bytes)",
                format_time(event.received_at),
                event.cid,
                event.channel,
                status,
                event.method,
                event.path,
                event.body_len
            );
        }
    }
    if !args.json && events.is_empty() {
        eprintln!("no events match");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.config.config).await?;
    let trace = store.trace(&args.cid).await?;
    store.close().await;
    let Some(trace) = trace else {
        eprintln!("no event or job has cid {}", args.cid);
        return Ok(ExitCode::FAILURE);
    };
    if args.json {
        println!("{}", trace_json(&trace));
    } else {
        print_trace(&trace);
    }
    Ok(ExitCode::SUCCESS)
}

fn body_json(body: &[u8]) -> (&'static str, Value) {
    match std::str::from_utf8(body) {
        Ok(text) => ("body", Value::String(text.to_string())),
        Err(_) => (
            "body_base64",
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
        ),
    }
}

fn trace_json(trace: &Trace) -> Value {
    let event = trace.event.as_ref().map(|event| {
        let (body_key, body) = body_json(&event.body);
        let headers: Vec<Value> = event
            .headers
            .iter()
            .map(|(name, value)| {
                json!([
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                ])
            })
            .collect();
        let mut object = json!({
            "channel": event.channel,
            "method": event.method,
            "path": event.path,
            "query": event.query,
            "peer": event.peer,
            "received_at": format_time(event.received_at),
            "headers": headers,
        });
        object[body_key] = body;
        object
    });
    let jobs: Vec<Value> = trace
        .jobs
        .iter()
        .map(|record| {
            let job = &record.job;
            let attempts: Vec<Value> = record
                .attempts
                .iter()
                .map(|attempt| {
                    json!({
                        "number": attempt.number,
                        "started_at": format_time(attempt.started_at),
                        "finished_at": format_time(attempt.finished_at),
                        "outcome": attempt.outcome.as_str(),
                        "error": attempt.error,
                    })
                })
                .collect();
            json!({
                "id": job.id,
                "service": job.service,
                "state": job.state.as_str(),
                "attempts": attempts,
                "max_attempts": job.max_attempts,
                "next_attempt_at": format_time(job.next_attempt_at),
                "last_error": job.last_error,
                "replay_of": job.replay_of,
                "replaced_by": job.replaced_by,
            })
        })
        .collect();
    json!({ "cid": trace.cid, "event": event, "jobs": jobs })
}

fn print_trace(trace: &Trace) {
    println!("cid          {}", trace.cid);
    match &trace.event {
        Some(event) => {
            println!("channel      {}", event.channel);
            println!("received_at  {}", format_time(event.received_at));
            println!("peer         {}", event.peer);
            let query = if event.query.is_empty() {
                String::new()
            } else {
                format!("?{}", event.query)
            };
            println!("request      {} {}{}", event.method, event.path, query);
            println!("headers");
            for (name, value) in event.headers.iter() {
                println!(
                    "  {}: {}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                );
            }
            match body_json(&event.body) {
                ("body", Value::String(text)) => {
                    println!("body ({} bytes)\n{text}", event.body.len())
                }
                (_, Value::String(encoded)) => {
                    println!("body ({} bytes, base64)\n{encoded}", event.body.len())
                }
                _ => {}
            }
        }
        None => println!("(no stored event: the jobs below came from invoke_async)"),
    }
    for record in &trace.jobs {
        let job = &record.job;
        println!();
        println!(
            "job {}  service {}  {}  attempts {}/{}",
            job.id,
            job.service,
            job.state.as_str(),
            record.attempts.len(),
            job.max_attempts
        );
        if job.state == JobState::Pending {
            println!("  next attempt at {}", format_time(job.next_attempt_at));
        }
        if let Some(id) = &job.replaced_by {
            println!("  replayed as {id}");
        }
        for attempt in &record.attempts {
            println!(
                "  #{} {} {} ms  {}{}",
                attempt.number,
                format_time(attempt.started_at),
                attempt.finished_at - attempt.started_at,
                attempt.outcome.as_str(),
                attempt
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
}

async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let selector = if args.dead {
        ReplaySelector::Dead
    } else if let (Some(channel), Some(since)) = (args.channel, args.since) {
        ReplaySelector::Channel { channel, since }
    } else {
        ReplaySelector::Cids(args.cids)
    };
    let store = open(&args.config.config).await?;
    let total = store.replay_count(selector.clone()).await?;
    if total == 0 {
        eprintln!("nothing to replay");
        store.close().await;
        return Ok(ExitCode::FAILURE);
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} jobs replayed ({eta} left)")
            .expect("the template is valid"),
    );
    let now = unix_millis(std::time::SystemTime::now());
    let mut progress = |done: u64| bar.set_position(done);
    let replayed = store.replay(selector, now, &mut progress).await?;
    bar.finish_and_clear();
    println!("replayed {replayed} job(s); workers will run them now");
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn purge_dead(args: PurgeDeadArgs) -> anyhow::Result<ExitCode> {
    require_yes(args.yes, "purging dead jobs")?;
    let store = open(&args.config.config).await?;
    let before = unix_millis(std::time::SystemTime::now()) - millis(args.older_than);
    let purged = store.purge_dead(before).await?;
    println!(
        "purged {} dead job(s) and {} event(s)",
        purged.jobs, purged.events
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
