//! Worker-pool tests on a real SQLite file. Most run on tokio's paused clock, so backoffs,
//! leases and timeouts of seconds or hours take no real time; the store is opened with
//! `StoreOptions::for_paused_clock`, so virtual time stands still while a write is in
//! flight and moves only when every task waits on a timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::store::contract::{T0, event};
use crate::store::{
    Accepted, ClaimRequest, JobInput, JobState, NewJob, Outcome, Stats, Store, StoreOptions,
};

const SECOND: i64 = 1000;

async fn open(dir: &tempfile::TempDir) -> Store {
    let options = StoreOptions::for_paused_clock();
    let url = format!("sqlite://{}", dir.path().join("inlet.db").display());
    Store::open_with(&url, &options).await.unwrap()
}

fn config(clock: Clock) -> WorkerConfig {
    WorkerConfig {
        owner: "w1".into(),
        concurrency: 4,
        claim_batch: 8,
        poll_interval: Duration::from_secs(1),
        lease_margin: Duration::from_secs(30),
        grace: Duration::from_secs(5),
        default_policy: ServicePolicy {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_attempts: 3,
                base: Duration::from_secs(2),
                cap: Duration::from_secs(60),
            },
        },
        services: HashMap::new(),
        channels: HashMap::new(),
        clock,
    }
}

async fn accept(store: &Store, cid: &str, service: &str, max_attempts: u32, now: i64) {
    let accepted = store
        .accept(
            event(cid, "c", now),
            NewJob::new(service, max_attempts, now),
        )
        .await
        .unwrap();
    assert_eq!(accepted, Accepted::Stored);
}

/// Polls until `done` holds, for at most an hour of (usually virtual) time.
async fn wait_for(store: &Store, done: impl Fn(&Stats) -> bool) -> Stats {
    for _ in 0..360_000 {
        let stats = store.stats().await.unwrap();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached: {:?}", store.stats().await.unwrap());
}

fn ok_runner() -> Arc<dyn Runner> {
    Arc::new(|_job: crate::store::ClaimedJob| async { Ok(()) })
}

async fn attempts(store: &Store, cid: &str) -> Vec<crate::store::Attempt> {
    let trace = store.trace(cid).await.unwrap().unwrap();
    trace
        .jobs
        .into_iter()
        .flat_map(|record| record.attempts)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn runs_due_jobs_with_their_input_and_records_ok() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "e1", "svc", 3, T0).await;
    store
        .enqueue(
            "caller".into(),
            r#"{"n":1}"#.into(),
            NewJob::new("svc", 3, T0),
        )
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let runner: Arc<dyn Runner> = Arc::new(move |job: crate::store::ClaimedJob| {
        let input = match &job.input {
            JobInput::Event(event) => format!("event {}", String::from_utf8_lossy(&event.body)),
            JobInput::Payload(payload) => format!("payload {}", String::from_utf8_lossy(payload)),
        };
        record
            .lock()
            .unwrap()
            .push((job.cid.clone(), job.attempt, input));
        async { Ok(()) }
    });
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 2).await;
    shutdown.cancel();
    workers.join().await;

    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("caller".to_string(), 1, r#"payload {"n":1}"#.to_string()),
            ("e1".to_string(), 1, r#"event {"cid":"e1"}"#.to_string()),
        ]
    );
    let recorded = attempts(&store, "e1").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].outcome, Outcome::Ok);
    assert!(recorded[0].started_at >= T0);
}

#[tokio::test(start_paused = true)]
async fn failing_job_backs_off_then_dies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "flaky", "svc", 3, T0).await;
    let runner: Arc<dyn Runner> = Arc::new(|job: crate::store::ClaimedJob| async move {
        Err(JobFailure::retry(format!("boom {}", job.attempt)))
    });
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.dead == 1).await;
    shutdown.cancel();
    workers.join().await;

    let recorded = attempts(&store, "flaky").await;
    let summary: Vec<_> = recorded
        .iter()
        .map(|a| (a.number, a.outcome, a.error.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Outcome::Error, "boom 1".to_string()),
            (2, Outcome::Error, "boom 2".to_string()),
            (3, Outcome::Error, "boom 3".to_string()),
        ]
    );
    // base 2 s: at least 1 s after the first failure, at least 2 s after the second.
    assert!(
        recorded[1].started_at - recorded[0].finished_at >= SECOND,
        "{recorded:?}"
    );
    assert!(
        recorded[2].started_at - recorded[1].finished_at >= 2 * SECOND,
        "{recorded:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_failure_and_panic_and_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "permanent", "refuse", 5, T0).await;
    accept(&store, "panics", "panic", 2, T0).await;
    accept(&store, "slow", "slow", 1, T0).await;
    let runner: Arc<dyn Runner> = Arc::new(|job: crate::store::ClaimedJob| async move {
        match job.service.as_str() {
            "refuse" => Err(JobFailure::permanent("no such ticket")),
            "panic" if job.attempt == 1 => panic!("service bug"),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            _ => Ok(()),
        }
    });
    let mut config = config(clock);
    let slow = ServicePolicy {
        timeout: Duration::from_secs(2),
        ..config.default_policy
    };
    config.services.insert("slow".into(), slow);
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config, shutdown.clone());
    wait_for(&store, |s| s.jobs.done + s.jobs.dead == 3).await;
    shutdown.cancel();
    workers.join().await;

    let permanent = attempts(&store, "permanent").await;
    assert_eq!(permanent.len(), 1, "permanent goes straight to dead");
    assert_eq!(permanent[0].outcome, Outcome::Permanent);

    let panics = attempts(&store, "panics").await;
    let outcomes: Vec<_> = panics.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Error, Outcome::Ok],
        "a panic is a failed attempt, and the pool survives it"
    );
    assert_eq!(panics[0].error.as_deref(), Some("the service panicked"));

    let slow = attempts(&store, "slow").await;
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].outcome, Outcome::Timeout);
    assert!(slow[0].finished_at - slow[0].started_at >= 2 * SECOND);
    assert_eq!(store.stats().await.unwrap().jobs.dead, 2);
}

#[tokio::test(start_paused = true)]
async fn per_service_retry_policy_applies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "patient", "patient", 2, T0).await;
    let runner: Arc<dyn Runner> = Arc::new(|job: crate::store::ClaimedJob| async move {
        if job.attempt == 1 {
            Err(JobFailure::retry("later"))
        } else {
            Ok(())
        }
    });
    let mut config = config(clock);
    let patient = ServicePolicy {
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_secs(120),
            cap: Duration::from_secs(120),
        },
        ..config.default_policy
    };
    config.services.insert("patient".into(), patient);
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config, shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 1).await;
    shutdown.cancel();
    workers.join().await;
    let recorded = attempts(&store, "patient").await;
    assert!(
        recorded[1].started_at - recorded[0].finished_at >= 60 * SECOND,
        "{recorded:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn job_of_a_lost_worker_is_taken_over_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "orphan", "svc", 3, T0).await;
    // Another instance claims it and dies.
    let lease_until = T0 + 120 * SECOND;
    let claim = ClaimRequest {
        owner: "ghost".into(),
        now: T0,
        lease_until,
        limit: 1,
    };
    assert_eq!(store.claim(claim).await.unwrap().jobs.len(), 1);

    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), ok_runner(), config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 1).await;
    shutdown.cancel();
    workers.join().await;
    let recorded = attempts(&store, "orphan").await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(
        recorded[0].outcome,
        Outcome::Error,
        "the lost try is recorded"
    );
    assert_eq!(recorded[1].outcome, Outcome::Ok);
    assert!(
        recorded[1].started_at >= lease_until,
        "not before the lease ran out"
    );
}

#[tokio::test(start_paused = true)]
async fn restart_of_the_same_owner_takes_its_jobs_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "mine", "svc", 3, T0).await;
    let claim = ClaimRequest {
        owner: "w1".into(),
        now: T0,
        lease_until: T0 + 3600 * SECOND,
        limit: 1,
    };
    assert_eq!(store.claim(claim).await.unwrap().jobs.len(), 1);
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), ok_runner(), config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 1).await;
    shutdown.cancel();
    workers.join().await;
    let recorded = attempts(&store, "mine").await;
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded[1].started_at < T0 + 3600 * SECOND,
        "did not wait for the old lease"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    for n in 0..30 {
        accept(&store, &format!("e{n}"), "svc", 3, T0).await;
    }
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (running2, peak2) = (Arc::clone(&running), Arc::clone(&peak));
    let runner: Arc<dyn Runner> = Arc::new(move |_job: crate::store::ClaimedJob| {
        let (running, peak) = (Arc::clone(&running2), Arc::clone(&peak2));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 30).await;
    shutdown.cancel();
    workers.join().await;
    let peak = peak.load(Ordering::SeqCst);
    assert!((2..=4).contains(&peak), "peak {peak} with concurrency 4");
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_short_jobs_finish_and_releases_long_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let clock = Clock::tokio(T0);
    accept(&store, "short", "short", 3, T0).await;
    accept(&store, "long", "long", 3, T0).await;
    let started = Arc::new(AtomicUsize::new(0));
    let started2 = Arc::clone(&started);
    let runner: Arc<dyn Runner> = Arc::new(move |job: crate::store::ClaimedJob| {
        started2.fetch_add(1, Ordering::SeqCst);
        async move {
            let secs = if job.service == "short" { 2 } else { 3600 };
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok(())
        }
    });
    let mut config = config(clock);
    config.default_policy.timeout = Duration::from_secs(7200);
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config, shutdown.clone());
    wait_for(&store, |s| s.jobs.running == 2).await;
    shutdown.cancel();
    workers.join().await;

    // No claims after shutdown: a job enqueued now stays pending.
    accept(&store, "late", "short", 3, clock.now()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.jobs.done, stats.jobs.pending, stats.jobs.running),
        (1, 2, 0),
        "{stats:?} {:#?} {:#?} {:#?}",
        store.trace("short").await.unwrap().map(|t| t.jobs),
        store.trace("long").await.unwrap().map(|t| t.jobs),
        store.trace("late").await.unwrap().map(|t| t.jobs)
    );
    assert_eq!(started.load(Ordering::SeqCst), 2);
    let long = store.trace("long").await.unwrap().unwrap();
    assert_eq!(long.jobs[0].job.state, JobState::Pending);
    assert_eq!(
        long.jobs[0].job.attempts, 0,
        "an interrupted try is not counted"
    );
    assert!(long.jobs[0].attempts.is_empty());
}

/// Real time: an idle pool whose poll interval is an hour still runs a new job at once,
/// because the commit wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_an_idle_pool() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let mut config = config(Clock::System);
    config.poll_interval = Duration::from_secs(3600);
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), ok_runner(), config, shutdown.clone());
    // Let the pool go idle first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let begun = std::time::Instant::now();
    accept(&store, "wake", "svc", 3, Clock::System.now()).await;
    let done = tokio::time::timeout(
        Duration::from_secs(5),
        wait_for(&store, |s| s.jobs.done == 1),
    )
    .await;
    assert!(done.is_ok(), "the job did not run within 5 s");
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "took {:?}",
        begun.elapsed()
    );
    shutdown.cancel();
    workers.join().await;
}

#[tokio::test(start_paused = true)]
async fn retention_purges_old_finished_events_but_keeps_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let day = 24 * 3600 * SECOND;
    let clock = Clock::tokio(T0 + 10 * day);
    accept(&store, "old-done", "ok", 1, T0).await;
    accept(&store, "old-dead", "refuse", 1, T0).await;
    let runner: Arc<dyn Runner> = Arc::new(|job: crate::store::ClaimedJob| async move {
        if job.service == "refuse" {
            Err(JobFailure::permanent("no"))
        } else {
            Ok(())
        }
    });
    let shutdown = CancellationToken::new();
    let workers = Workers::start(store.clone(), runner, config(clock), shutdown.clone());
    wait_for(&store, |s| s.jobs.done == 1 && s.jobs.dead == 1).await;
    // The worker finished them "now" (day 10), but the events were received on day 0.
    accept(&store, "recent", "ok", 1, T0 + 9 * day).await;
    let retention = RetentionConfig {
        interval: Duration::from_secs(3600),
        retention: DEFAULT_RETENTION,
        clock,
    };
    let purger = start_retention(store.clone(), retention, shutdown.clone());
    wait_for(&store, |s| s.events == 2).await;
    shutdown.cancel();
    workers.join().await;
    purger.await.unwrap();
    assert_eq!(store.trace("old-done").await.unwrap(), None);
    assert!(store.trace("old-dead").await.unwrap().is_some());
    assert!(store.trace("recent").await.unwrap().is_some());
}
