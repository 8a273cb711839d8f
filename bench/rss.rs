//! Benchmark (b): peak RSS while 1 000 000 jobs are queued, and while workers drain them.
//! Jobs live on disk, not in memory, so memory should not grow with the backlog.
//!
//! `cargo run --release --example bench_rss [-- --jobs=1000000 --drain-secs=10]`
//! Target: peak RSS under 100 MiB.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet::jobs::{Runner, WorkerConfig, Workers};
use inlet::store::{ClaimedJob, Synchronous};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let jobs = common::arg("jobs", 1_000_000);
    let drain_secs = common::arg("drain-secs", 10) as u64;
    println!("RSS at start: {} KiB", common::rss_kib());
    let (dir, store) = common::fresh_store(Synchronous::Full, 1024).await;
    let fill = common::fill(&store, jobs, 256, common::now_ms()).await;
    let stats = store.stats().await.expect("stats");
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len()) >> 20;
    println!(
        "queued {} jobs in {fill:.2?}; db file {} MiB, WAL {} MiB; RSS {} KiB; peak RSS {} KiB",
        stats.jobs.pending,
        size("bench.db"),
        size("bench.db-wal"),
        common::rss_kib(),
        common::peak_rss_kib()
    );

    let noop: Arc<dyn Runner> = Arc::new(|_job: ClaimedJob| async { Ok(()) });
    let shutdown = CancellationToken::new();
    let workers = Workers::start(
        store.clone(),
        noop,
        WorkerConfig::default(),
        shutdown.clone(),
    );
    let begun = Instant::now();
    tokio::time::sleep(Duration::from_secs(drain_secs)).await;
    shutdown.cancel();
    workers.join().await;
    let stats = store.stats().await.expect("stats");
    println!(
        "drained {} jobs in {:.2?} with {} still queued; RSS {} KiB; peak RSS {} KiB ({:.1} MiB)",
        stats.jobs.done,
        begun.elapsed(),
        stats.jobs.pending,
        common::rss_kib(),
        common::peak_rss_kib(),
        common::peak_rss_kib() as f64 / 1024.0
    );
    store.close().await;
}
