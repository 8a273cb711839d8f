//! Benchmark (c): raw `accept` throughput (event + job, durable commit) at 64 concurrent
//! callers: group commit against one insert per transaction, both with synchronous = FULL,
//! in the same run. Also group commit with synchronous = NORMAL, for reference.
//!
//! `cargo run --release --example bench_accept [-- --callers=64 --secs=5]`

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use inlet::store::{Event, Headers, NewJob, Synchronous};

#[tokio::main]
async fn main() {
    let callers = common::arg("callers", 64);
    let secs = common::arg("secs", 5) as u64;
    let runs = [
        ("group commit, FULL", Synchronous::Full, 1024),
        ("one insert per transaction, FULL", Synchronous::Full, 1),
        ("group commit, NORMAL", Synchronous::Normal, 1024),
    ];
    for (name, sync, max_batch) in runs {
        let (_dir, store) = common::fresh_store(sync, max_batch).await;
        let stop = Instant::now() + Duration::from_secs(secs);
        let begun = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < stop {
                    let event = sample_event(common::new_cid());
                    let job = NewJob::new("webhooks.receive", 12, event.received_at);
                    let sent = Instant::now();
                    store.accept(event, job).await.expect("accept");
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("caller"));
        }
        let took = begun.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "{name:34} {callers} callers: {:>7.0} accepts/s  p50 {:>8.2?}  p99 {:>8.2?}  ({} in {took:.2?})",
            latencies.len() as f64 / took.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            latencies.len()
        );
        store.close().await;
    }
}

/// A GitHub-like delivery: 1 KiB of JSON and the usual headers.
fn sample_event(cid: String) -> Event {
    let body = format!(
        r#"{{"action":"opened","number":1,"pad":"{}"}}"#,
        "x".repeat(980)
    );
    Event {
        cid,
        channel: "github".into(),
        method: "POST".into(),
        path: "/hooks/github".into(),
        query: String::new(),
        headers: Headers::from_pairs([
            (&b"host"[..], &b"hooks.example.com"[..]),
            (b"content-type", b"application/json"),
            (b"user-agent", b"GitHub-Hookshot/abc123"),
            (b"x-github-event", b"pull_request"),
            (
                b"x-github-delivery",
                b"72d3162e-cc78-11e3-81ab-4c9367dc0958",
            ),
            (
                b"x-hub-signature-256",
                b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
        ]),
        body: body.into(),
        peer: "192.0.2.10:53122".into(),
        received_at: common::now_ms(),
        dedup: None,
    }
}
