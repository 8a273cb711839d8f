//! Benchmark (a): how fast the workers drain a backlog of jobs with a no-op service.
//!
//! `cargo run --release --example bench_drain [-- --jobs=100000 --batch=256]`
//! Runs synchronous = FULL and NORMAL, each at a concurrency of 64 (the default) and 256.
//! Target: at least 20 000 jobs/s with synchronous = FULL.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use inlet::jobs::{Runner, WorkerConfig, Workers};
use inlet::store::{ClaimedJob, Synchronous};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let jobs = common::arg("jobs", 100_000);
    let batch = common::arg("batch", 256);
    let runs = [
        (Synchronous::Full, 64),
        (Synchronous::Full, 256),
        (Synchronous::Normal, 64),
        (Synchronous::Normal, 256),
    ];
    for (sync, concurrency) in runs {
        let (_dir, store) = common::fresh_store(sync, 1024).await;
        let fill = common::fill(&store, jobs, 256, common::now_ms()).await;
        println!(
            "[{sync:?}] queued {jobs} jobs in {:.2?} ({:.0} enqueues/s)",
            fill,
            jobs as f64 / fill.as_secs_f64()
        );

        // Counting runs is how the bench knows the backlog is nearly drained without
        // polling `stats` (a full count) while the workers run.
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let noop: Arc<dyn Runner> = Arc::new(move |_job: ClaimedJob| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        });
        let config = WorkerConfig {
            concurrency,
            claim_batch: batch as u32,
            ..WorkerConfig::default()
        };
        let shutdown = CancellationToken::new();
        let begun = Instant::now();
        let workers = Workers::start(store.clone(), noop, config, shutdown.clone());
        while runs.load(Ordering::Relaxed) < jobs {
            assert!(
                begun.elapsed() < Duration::from_secs(600),
                "drain took too long"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        loop {
            let stats = store.stats().await.expect("stats");
            if common::open_jobs(&stats) == 0 {
                assert_eq!(stats.jobs.done, jobs as u64);
                break;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(600),
                "drain took too long: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = begun.elapsed();
        shutdown.cancel();
        workers.join().await;
        store.close().await;
        println!(
            "[{sync:?}] drained {jobs} jobs in {took:.2?}: {:.0} jobs/s (concurrency {concurrency}, claim batch {batch})",
            jobs as f64 / took.as_secs_f64()
        );
    }
}
