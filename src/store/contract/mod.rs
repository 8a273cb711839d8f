//! The contract every store backend must pass, written against [`Store`] only.
//!
//! A backend runs the whole suite with one line, `contract_suite!(setup)`, where `setup`
//! is an async fn returning an [`Env`]: a fresh, empty store plus a way to make it fail.
//! SQLite runs it in `sqlite/tests.rs` on a temp file; a PostgreSQL backend would add its
//! own `setup` (skipping when `TEST_DATABASE_URL` is unset) and get every test for free.
//! Times are fixed numbers, never the clock, so nothing here is timing-dependent.

use std::any::Any;
use std::time::Duration;

use futures_util::future::BoxFuture;

mod dedup;
mod jobs;
mod operator;

pub(crate) use self::dedup::*;
pub(crate) use self::jobs::*;
pub(crate) use self::operator::*;
use super::*;

/// A fresh store for one test.
pub(crate) struct Env {
    pub store: Store,
    pub faults: Box<dyn Faults>,
    /// Whatever must live as long as the store (a temp dir, a database).
    pub _keep: Box<dyn Any + Send>,
}

/// Fault injection: each backend knows how to make itself unavailable.
pub(crate) trait Faults: Send + Sync {
    /// From now on, writes fail as unavailable.
    fn break_writes(&self) -> BoxFuture<'_, ()>;
    /// Writes may succeed again.
    fn heal(&self) -> BoxFuture<'_, ()>;
}

/// Generates one `#[tokio::test]` per contract function for a backend's `setup`.
macro_rules! contract_suite {
    ($setup:path) => {
        $crate::store::contract::contract_suite!(@tests $setup;
            accept_then_claim_then_complete,
            enqueue_carries_payload_and_cid,
            duplicate_is_neither_stored_nor_queued,
            dedup_key_expires_after_its_window,
            concurrent_identical_accepts_store_exactly_one,
            claim_respects_due_time_and_limit,
            expired_lease_is_reclaimed_and_old_owner_fenced,
            lease_lost_on_last_attempt_is_dead,
            release_and_recover,
            retry_then_dead,
            permanent_failure_is_dead,
            replay_dead_jobs,
            replay_by_cid_and_channel,
            list_and_trace,
            purge_keeps_what_is_unfinished,
            purge_dead_removes_chains,
            unavailable_then_recovers,
            conflicting_cid_fails_alone,
            complete_all_records_each,
        );
    };
    (@tests $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let env = $setup().await;
                $crate::store::contract::$name(&env).await;
                env.store.close().await;
            }
        )*
    };
}
pub(crate) use contract_suite;

/// An arbitrary fixed "now".
pub(crate) const T0: UnixMs = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

pub(crate) fn event(cid: &str, channel: &str, at: UnixMs) -> Event {
    Event {
        cid: cid.into(),
        channel: channel.into(),
        method: "POST".into(),
        path: format!("/hooks/{channel}"),
        query: "a=1&a=2".into(),
        headers: crate::store::Headers::from_pairs([
            (&b"Content-Type"[..], &b"application/json"[..]),
            (b"X-Dup", b"1"),
            (b"X-Dup", &[0xff, 0xfe]),
        ]),
        body: bytes::Bytes::from(format!("{{\"cid\":\"{cid}\"}}")),
        peer: "127.0.0.1:40000".into(),
        received_at: at,
        dedup: None,
    }
}

fn deduped(cid: &str, channel: &str, key: &str, at: UnixMs) -> Event {
    Event {
        dedup: Some(Dedup {
            key: key.into(),
            window: Duration::from_millis(HOUR as u64),
        }),
        ..event(cid, channel, at)
    }
}

fn job(max_attempts: u32, at: UnixMs) -> NewJob {
    NewJob::new("svc.receive", max_attempts, at)
}

fn claim_req(owner: &str, now: UnixMs, limit: u32) -> ClaimRequest {
    ClaimRequest {
        owner: owner.into(),
        now,
        lease_until: now + 60_000,
        limit,
    }
}

fn completion(
    job: &ClaimedJob,
    owner: &str,
    at: UnixMs,
    outcome: Outcome,
    next: Next,
) -> Completion {
    Completion {
        job_id: job.id.clone(),
        owner: owner.into(),
        attempt: job.attempt,
        started_at: at,
        finished_at: at + 5,
        outcome,
        error: (outcome != Outcome::Ok)
            .then(|| format!("{} on try {}", outcome.as_str(), job.attempt)),
        next,
    }
}

async fn stats(store: &Store) -> (u64, [u64; 4]) {
    let s = store.stats().await.unwrap();
    (
        s.events,
        [s.jobs.pending, s.jobs.running, s.jobs.done, s.jobs.dead],
    )
}

async fn accept_one(store: &Store, cid: &str, channel: &str, at: UnixMs, max_attempts: u32) {
    let accepted = store
        .accept(event(cid, channel, at), job(max_attempts, at))
        .await
        .unwrap();
    assert_eq!(accepted, Accepted::Stored);
}

/// Drives a job through claim and failing completions until it is dead.
async fn kill_job(store: &Store, now: UnixMs) {
    let claimed = store.claim(claim_req("w", now, 1)).await.unwrap();
    let job = &claimed.jobs[0];
    let done = completion(job, "w", now, Outcome::Permanent, Next::Dead);
    assert_eq!(store.complete(done).await.unwrap(), Completed::Recorded);
}
