//! Helpers shared by the benchmark programs (included with `#[path]`, not a module of the
//! library).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use inlet::store::{NewJob, Stats, Store, StoreOptions, Synchronous};

/// The allocator of the `inlet` binary, so that these figures (RSS above all) are the
/// shipped program's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Peak resident set size of this process so far, from /proc/self/status (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    proc_status_kib("VmHWM:")
}

/// Current resident set size, in KiB.
pub fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens a fresh store in a temp dir (kept alive by the returned guard).
pub async fn fresh_store(sync: Synchronous, max_batch: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
        .expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let options = StoreOptions {
        synchronous: sync,
        max_batch,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&url, &options).await.expect("open store");
    (dir, store)
}

/// Enqueues `total` small invoke_async jobs from `callers` concurrent tasks.
pub async fn fill(store: &Store, total: usize, callers: usize, now: i64) -> Duration {
    let begun = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let store = store.clone();
        let share = total / callers + usize::from(caller < total % callers);
        tasks.push(tokio::spawn(async move {
            for n in 0..share {
                let payload = format!(r#"{{"caller":{caller},"n":{n}}}"#);
                store
                    .enqueue(new_cid(), payload.into(), NewJob::new("inlet.noop", 5, now))
                    .await
                    .expect("enqueue");
            }
        }));
    }
    for task in tasks {
        task.await.expect("fill task");
    }
    begun.elapsed()
}

/// A cid like the server's: a UUIDv7, so ids (and their index) grow in time order.
pub fn new_cid() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub fn open_jobs(stats: &Stats) -> u64 {
    stats.jobs.pending + stats.jobs.running
}

pub fn now_ms() -> i64 {
    inlet::jobs::Clock::System.now()
}

pub fn arg(name: &str, default: usize) -> usize {
    let flag = format!("--{name}=");
    std::env::args()
        .find_map(|a| a.strip_prefix(&flag).and_then(|v| v.parse().ok()))
        .unwrap_or(default)
}
