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
        headers: vec![
            (b"Content-Type".to_vec(), b"application/json".to_vec()),
            (b"X-Dup".to_vec(), b"1".to_vec()),
            (b"X-Dup".to_vec(), vec![0xff, 0xfe]),
        ],
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

pub(crate) async fn accept_then_claim_then_complete(env: &Env) {
    let store = &env.store;
    let sent = event("cid-1", "github", T0);
    let new_job = job(5, T0);
    assert_eq!(
        store.accept(sent.clone(), new_job.clone()).await.unwrap(),
        Accepted::Stored
    );
    assert_eq!(stats(store).await, (1, [1, 0, 0, 0]));

    let claimed = store.claim(claim_req("w1", T0, 10)).await.unwrap();
    assert_eq!(claimed.jobs.len(), 1);
    let got = &claimed.jobs[0];
    assert_eq!(
        (got.id.as_str(), got.cid.as_str(), got.service.as_str()),
        (new_job.id.as_str(), "cid-1", "svc.receive")
    );
    assert_eq!((got.attempt, got.max_attempts), (1, 5));
    assert_eq!(
        got.input,
        JobInput::Event(Box::new(sent.clone())),
        "the event comes back byte for byte"
    );
    assert_eq!(stats(store).await, (1, [0, 1, 0, 0]));
    assert!(
        store
            .claim(claim_req("w2", T0 + 1, 10))
            .await
            .unwrap()
            .jobs
            .is_empty(),
        "a leased job is not handed out twice"
    );

    let done = completion(got, "w1", T0 + 10, Outcome::Ok, Next::Done);
    assert_eq!(store.complete(done).await.unwrap(), Completed::Recorded);
    assert_eq!(stats(store).await, (1, [0, 0, 1, 0]));
    assert!(
        store
            .claim(claim_req("w1", T0 + HOUR, 10))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );

    let trace = store.trace("cid-1").await.unwrap().unwrap();
    assert_eq!(trace.event, Some(sent));
    assert_eq!(trace.jobs.len(), 1);
    let record = &trace.jobs[0];
    assert_eq!(record.job.state, JobState::Done);
    assert_eq!(record.job.attempts, 1);
    assert_eq!(record.job.lease_owner, None);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].outcome, Outcome::Ok);
    assert_eq!(
        (
            record.attempts[0].started_at,
            record.attempts[0].finished_at
        ),
        (T0 + 10, T0 + 15)
    );
}

pub(crate) async fn enqueue_carries_payload_and_cid(env: &Env) {
    let store = &env.store;
    let new_job = NewJob::new("svc.later", 3, T0);
    let payload = bytes::Bytes::from_static(br#"{"ticket":42}"#);
    store
        .enqueue("caller-cid".into(), payload.clone(), new_job.clone())
        .await
        .unwrap();
    assert_eq!(
        stats(store).await,
        (0, [1, 0, 0, 0]),
        "an invoke_async job has no event"
    );
    let claimed = store.claim(claim_req("w", T0, 10)).await.unwrap();
    let got = &claimed.jobs[0];
    assert_eq!(
        (got.id.as_str(), got.cid.as_str(), got.service.as_str()),
        (new_job.id.as_str(), "caller-cid", "svc.later")
    );
    assert_eq!(got.input, JobInput::Payload(payload));
    let trace = store.trace("caller-cid").await.unwrap().unwrap();
    assert_eq!(trace.event, None);
    assert_eq!(
        trace.jobs[0].job.payload.as_deref(),
        Some(&br#"{"ticket":42}"#[..])
    );
}

pub(crate) async fn duplicate_is_neither_stored_nor_queued(env: &Env) {
    let store = &env.store;
    let first = store
        .accept(deduped("cid-a", "github", "delivery-1", T0), job(5, T0))
        .await
        .unwrap();
    assert_eq!(first, Accepted::Stored);
    let second = store
        .accept(
            deduped("cid-b", "github", "delivery-1", T0 + 1),
            job(5, T0 + 1),
        )
        .await
        .unwrap();
    assert_eq!(
        second,
        Accepted::Duplicate {
            first_cid: "cid-a".into()
        }
    );
    assert_eq!(stats(store).await, (1, [1, 0, 0, 0]));
    assert_eq!(store.trace("cid-b").await.unwrap(), None);
    // The same key on another channel is another key.
    let other = store
        .accept(
            deduped("cid-c", "stripe", "delivery-1", T0 + 2),
            job(5, T0 + 2),
        )
        .await
        .unwrap();
    assert_eq!(other, Accepted::Stored);
    // Events without a key are never duplicates.
    accept_one(store, "cid-d", "github", T0 + 3, 5).await;
    assert_eq!(stats(store).await, (3, [3, 0, 0, 0]));
}

pub(crate) async fn dedup_key_expires_after_its_window(env: &Env) {
    let store = &env.store;
    let accept =
        |cid: &'static str, at: UnixMs| store.accept(deduped(cid, "github", "k", at), job(5, at));
    assert_eq!(accept("cid-1", T0).await.unwrap(), Accepted::Stored);
    assert_eq!(
        accept("cid-2", T0 + HOUR - 1).await.unwrap(),
        Accepted::Duplicate {
            first_cid: "cid-1".into()
        }
    );
    assert_eq!(
        accept("cid-3", T0 + HOUR).await.unwrap(),
        Accepted::Stored,
        "an expired key does not block"
    );
    assert_eq!(
        accept("cid-4", T0 + HOUR + 1).await.unwrap(),
        Accepted::Duplicate {
            first_cid: "cid-3".into()
        }
    );
    // Purging the first event does not reopen a live key, and purging expired keys frees them.
    let purged = store.purge(T0 + 1, T0 + 2 * HOUR).await.unwrap();
    assert_eq!(purged.dedup_keys, 1);
    assert_eq!(
        accept("cid-5", T0 + 2 * HOUR).await.unwrap(),
        Accepted::Stored
    );
}

pub(crate) async fn concurrent_identical_accepts_store_exactly_one(env: &Env) {
    let mut tasks = Vec::new();
    for n in 0..50 {
        let store = env.store.clone();
        tasks.push(tokio::spawn(async move {
            let cid = format!("cid-{n}");
            let accepted = store
                .accept(deduped(&cid, "github", "same", T0), job(5, T0))
                .await
                .unwrap();
            (cid, accepted)
        }));
    }
    let mut stored = Vec::new();
    let mut firsts = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (cid, Accepted::Stored) => stored.push(cid),
            (_, Accepted::Duplicate { first_cid }) => firsts.push(first_cid),
        }
    }
    assert_eq!(stored.len(), 1, "exactly one winner: {stored:?}");
    assert_eq!(firsts.len(), 49);
    assert!(
        firsts.iter().all(|first| *first == stored[0]),
        "every duplicate names the winner"
    );
    assert_eq!(stats(&env.store).await, (1, [1, 0, 0, 0]));
}

pub(crate) async fn claim_respects_due_time_and_limit(env: &Env) {
    let store = &env.store;
    for n in 0..5 {
        accept_one(store, &format!("now-{n}"), "c", T0, 5).await;
    }
    let later = NewJob {
        run_at: T0 + 1000,
        ..job(5, T0)
    };
    store
        .enqueue("later".into(), "{}".into(), later)
        .await
        .unwrap();

    let first = store.claim(claim_req("w", T0, 3)).await.unwrap();
    assert_eq!(first.jobs.len(), 3);
    assert_eq!(first.next_due, Some(T0), "two more are due now");
    let second = store.claim(claim_req("w", T0, 3)).await.unwrap();
    assert_eq!(second.jobs.len(), 2, "the future job is not due");
    assert_eq!(second.next_due, Some(T0 + 1000));
    let third = store.claim(claim_req("w", T0 + 1000, 3)).await.unwrap();
    assert_eq!(third.jobs.len(), 1);
    assert_eq!(third.jobs[0].cid, "later");
    // Nothing pending: the next thing due is the first lease to run out.
    assert_eq!(third.next_due, Some(T0 + 60_000));
}

pub(crate) async fn expired_lease_is_reclaimed_and_old_owner_fenced(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 5).await;
    let req = ClaimRequest {
        lease_until: T0 + 10_000,
        ..claim_req("dying", T0, 1)
    };
    let lost = store.claim(req).await.unwrap().jobs.remove(0);
    assert!(
        store
            .claim(claim_req("healthy", T0 + 9_999, 1))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );

    let taken = store
        .claim(claim_req("healthy", T0 + 10_000, 1))
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(taken.id, lost.id);
    assert_eq!(taken.attempt, 2, "the lost try counts");

    // The presumed-dead worker wakes up and reports: it must not overwrite anything.
    let late = completion(&lost, "dying", T0 + 10_001, Outcome::Ok, Next::Done);
    assert_eq!(store.complete(late).await.unwrap(), Completed::LeaseLost);
    let done = completion(&taken, "healthy", T0 + 10_002, Outcome::Ok, Next::Done);
    assert_eq!(store.complete(done).await.unwrap(), Completed::Recorded);

    let trace = store.trace("cid-1").await.unwrap().unwrap();
    let attempts = &trace.jobs[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].number, attempts[0].outcome),
        (1, Outcome::Error)
    );
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("lease expired")
    );
    assert_eq!((attempts[1].number, attempts[1].outcome), (2, Outcome::Ok));
}

pub(crate) async fn lease_lost_on_last_attempt_is_dead(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 1).await;
    let req = ClaimRequest {
        lease_until: T0 + 10,
        ..claim_req("dying", T0, 1)
    };
    assert_eq!(store.claim(req).await.unwrap().jobs.len(), 1);
    assert!(
        store
            .claim(claim_req("w", T0 + 10, 1))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert_eq!(stats(store).await, (1, [0, 0, 0, 1]));
}

pub(crate) async fn release_and_recover(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 5).await;
    accept_one(store, "cid-2", "c", T0, 5).await;
    assert_eq!(
        store
            .claim(claim_req("me", T0, 2))
            .await
            .unwrap()
            .jobs
            .len(),
        2
    );
    // Graceful shutdown: the interrupted try is not counted.
    assert_eq!(store.release("someone-else", T0 + 1).await.unwrap(), 0);
    assert_eq!(store.release("me", T0 + 1).await.unwrap(), 2);
    assert_eq!(stats(store).await, (2, [2, 0, 0, 0]));
    let again = store.claim(claim_req("me", T0 + 1, 2)).await.unwrap();
    assert!(again.jobs.iter().all(|job| job.attempt == 1), "{again:?}");
    // Restart after a crash: the lost try is counted and recorded.
    assert_eq!(store.recover("me", T0 + 2).await.unwrap(), 2);
    let third = store.claim(claim_req("me", T0 + 2, 2)).await.unwrap();
    assert!(third.jobs.iter().all(|job| job.attempt == 2), "{third:?}");
    let trace = store.trace("cid-1").await.unwrap().unwrap();
    assert_eq!(trace.jobs[0].attempts.len(), 1);
}

pub(crate) async fn retry_then_dead(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 2).await;
    let first = store
        .claim(claim_req("w", T0, 1))
        .await
        .unwrap()
        .jobs
        .remove(0);
    let retry = completion(
        &first,
        "w",
        T0,
        Outcome::Error,
        Next::Retry { at: T0 + 5_000 },
    );
    store.complete(retry).await.unwrap();
    assert_eq!(stats(store).await, (1, [1, 0, 0, 0]));
    let early = store.claim(claim_req("w", T0 + 4_999, 1)).await.unwrap();
    assert!(early.jobs.is_empty());
    assert_eq!(early.next_due, Some(T0 + 5_000));

    let second = store
        .claim(claim_req("w", T0 + 5_000, 1))
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(second.attempt, 2);
    let dead = completion(&second, "w", T0 + 5_000, Outcome::Timeout, Next::Dead);
    store.complete(dead).await.unwrap();
    assert_eq!(stats(store).await, (1, [0, 0, 0, 1]));
    let trace = store.trace("cid-1").await.unwrap().unwrap();
    let job = &trace.jobs[0];
    assert_eq!(job.job.state, JobState::Dead);
    assert_eq!(job.job.last_error.as_deref(), Some("timeout on try 2"));
    let outcomes: Vec<_> = job.attempts.iter().map(|a| (a.number, a.outcome)).collect();
    assert_eq!(outcomes, [(1, Outcome::Error), (2, Outcome::Timeout)]);
    assert!(
        store
            .claim(claim_req("w", T0 + 100 * HOUR, 1))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
}

pub(crate) async fn permanent_failure_is_dead(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 10).await;
    kill_job(store, T0).await;
    assert_eq!(stats(store).await, (1, [0, 0, 0, 1]));
    let trace = store.trace("cid-1").await.unwrap().unwrap();
    assert_eq!(trace.jobs[0].attempts[0].outcome, Outcome::Permanent);
    assert_eq!(trace.jobs[0].job.attempts, 1);
}

pub(crate) async fn replay_dead_jobs(env: &Env) {
    let store = &env.store;
    for n in 0..3 {
        accept_one(store, &format!("dead-{n}"), "c", T0, 1).await;
        kill_job(store, T0).await;
    }
    accept_one(store, "ok", "c", T0, 1).await;
    let ok = store
        .claim(claim_req("w", T0, 1))
        .await
        .unwrap()
        .jobs
        .remove(0);
    store
        .complete(completion(&ok, "w", T0, Outcome::Ok, Next::Done))
        .await
        .unwrap();
    assert_eq!(stats(store).await, (4, [0, 0, 1, 3]));

    assert_eq!(store.replay_count(ReplaySelector::Dead).await.unwrap(), 3);
    let mut seen = Vec::new();
    let replayed = store
        .replay(ReplaySelector::Dead, T0 + HOUR, &mut |n| seen.push(n))
        .await
        .unwrap();
    assert_eq!(replayed, 3);
    assert_eq!(seen.last(), Some(&3));
    assert_eq!(
        stats(store).await,
        (4, [3, 0, 1, 0]),
        "replayed jobs leave the dead count"
    );
    assert_eq!(
        store
            .replay(ReplaySelector::Dead, T0 + HOUR, &mut |_| {})
            .await
            .unwrap(),
        0
    );

    let claimed = store.claim(claim_req("w", T0 + HOUR, 10)).await.unwrap();
    assert_eq!(claimed.jobs.len(), 3);
    for job in &claimed.jobs {
        assert_eq!(job.attempt, 1, "a replay starts from attempt 1");
        assert!(matches!(&job.input, JobInput::Event(event) if event.cid == job.cid));
    }
    let trace = store.trace("dead-0").await.unwrap().unwrap();
    assert_eq!(trace.jobs.len(), 2);
    let (old, new) = (&trace.jobs[0].job, &trace.jobs[1].job);
    assert_eq!(old.state, JobState::Dead);
    assert_eq!(old.replaced_by.as_ref(), Some(&new.id));
    assert_eq!(new.replay_of.as_ref(), Some(&old.id));
    assert_eq!(
        trace.jobs[0].attempts.len(),
        1,
        "the dead job keeps its history"
    );
}

pub(crate) async fn replay_by_cid_and_channel(env: &Env) {
    let store = &env.store;
    accept_one(store, "gh-old", "github", T0, 1).await;
    accept_one(store, "gh-new", "github", T0 + HOUR, 1).await;
    accept_one(store, "stripe", "stripe", T0 + HOUR, 1).await;
    store
        .enqueue("gh-new".into(), "{}".into(), job(1, T0 + HOUR))
        .await
        .unwrap();
    store
        .enqueue("sync-cid".into(), "{}".into(), job(1, T0 + HOUR))
        .await
        .unwrap();
    let claimed = store.claim(claim_req("w", T0 + HOUR, 10)).await.unwrap();
    assert_eq!(claimed.jobs.len(), 5);
    for job in &claimed.jobs {
        store
            .complete(completion(job, "w", T0 + HOUR, Outcome::Ok, Next::Done))
            .await
            .unwrap();
    }

    let since = ReplaySelector::Channel {
        channel: "github".into(),
        since: T0 + 1,
    };
    assert_eq!(store.replay_count(since.clone()).await.unwrap(), 1);
    assert_eq!(
        store
            .replay(since, T0 + 2 * HOUR, &mut |_| {})
            .await
            .unwrap(),
        1,
        "only gh-new's event job"
    );

    // By cid: a cid with an event replays its event job (not the invoke_async one), a cid
    // without one replays its invoke_async job, an unknown cid nothing, a queued job nothing.
    let cids = ReplaySelector::Cids(vec![
        "gh-old".into(),
        "sync-cid".into(),
        "nope".into(),
        "gh-new".into(),
    ]);
    assert_eq!(store.replay_count(cids.clone()).await.unwrap(), 2);
    assert_eq!(
        store
            .replay(cids, T0 + 2 * HOUR, &mut |_| {})
            .await
            .unwrap(),
        2
    );
    assert_eq!(stats(store).await, (3, [3, 0, 2, 0]));
}

pub(crate) async fn list_and_trace(env: &Env) {
    let store = &env.store;
    accept_one(store, "a", "github", T0, 1).await;
    accept_one(store, "b", "github", T0 + 1, 1).await;
    accept_one(store, "c", "stripe", T0 + 2, 1).await;
    kill_job(store, T0 + 3).await; // the oldest job, a's

    let all = store.list_events(EventFilter::latest(10)).await.unwrap();
    let cids: Vec<_> = all.iter().map(|e| e.cid.as_str()).collect();
    assert_eq!(cids, ["c", "b", "a"], "newest first");
    assert_eq!(all[2].status, Some(JobState::Dead));
    assert_eq!(all[0].status, Some(JobState::Pending));
    assert_eq!(all[0].body_len, event("c", "stripe", 0).body.len() as u64);

    let filter = |channel: Option<&str>, status, since, limit| EventFilter {
        channel: channel.map(Into::into),
        status,
        since,
        limit,
    };
    let listed = |f| async {
        store
            .list_events(f)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.cid)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(filter(Some("github"), None, None, 10)).await,
        ["b", "a"]
    );
    assert_eq!(
        listed(filter(None, Some(JobState::Dead), None, 10)).await,
        ["a"]
    );
    assert_eq!(
        listed(filter(None, Some(JobState::Pending), Some(T0 + 2), 10)).await,
        ["c"]
    );
    assert_eq!(listed(filter(None, None, None, 1)).await, ["c"]);
    assert_eq!(store.trace("missing").await.unwrap(), None);
}

pub(crate) async fn purge_keeps_what_is_unfinished(env: &Env) {
    let store = &env.store;
    let old = T0;
    let recent = T0 + 10 * HOUR;
    for cid in ["old-done", "old-dead", "old-pending", "old-replayed"] {
        accept_one(store, cid, "c", old, 1).await;
    }
    accept_one(store, "recent-done", "c", recent, 1).await;
    store
        .enqueue("sync".into(), "{}".into(), job(1, old))
        .await
        .unwrap();
    let not_due = NewJob {
        run_at: recent + HOUR,
        ..job(1, old)
    };
    store
        .enqueue("sync-pending".into(), "{}".into(), not_due)
        .await
        .unwrap();

    let claimed = store.claim(claim_req("w", recent, 100)).await.unwrap().jobs;
    for job in &claimed {
        let next = if job.cid == "old-dead" || job.cid == "old-replayed" {
            Next::Dead
        } else {
            Next::Done
        };
        let outcome = if next == Next::Dead {
            Outcome::Permanent
        } else {
            Outcome::Ok
        };
        if job.cid != "old-pending" {
            store
                .complete(completion(job, "w", old + 1, outcome, next))
                .await
                .unwrap();
        }
    }
    // Replay old-replayed and finish the replay: its chain is then finished.
    store
        .replay(
            ReplaySelector::Cids(vec!["old-replayed".into()]),
            old + 2,
            &mut |_| {},
        )
        .await
        .unwrap();
    let replay = store
        .claim(claim_req("w", old + 2, 10))
        .await
        .unwrap()
        .jobs
        .remove(0);
    store
        .complete(completion(&replay, "w", old + 3, Outcome::Ok, Next::Done))
        .await
        .unwrap();

    let purged = store.purge(recent - 1, recent).await.unwrap();
    assert_eq!(
        (purged.events, purged.jobs),
        (2, 4),
        "old-done (1 job), old-replayed (2 jobs), sync (1 job)"
    );
    for gone in ["old-done", "old-replayed", "sync"] {
        assert_eq!(store.trace(gone).await.unwrap(), None, "{gone}");
    }
    for kept in ["old-dead", "old-pending", "recent-done", "sync-pending"] {
        assert!(store.trace(kept).await.unwrap().is_some(), "{kept}");
    }
    assert!(store.purge(recent - 1, recent).await.unwrap().is_empty());
}

pub(crate) async fn purge_dead_removes_chains(env: &Env) {
    let store = &env.store;
    accept_one(store, "twice-dead", "c", T0, 1).await;
    kill_job(store, T0).await;
    store
        .replay(ReplaySelector::Dead, T0 + 1, &mut |_| {})
        .await
        .unwrap();
    kill_job(store, T0 + 2).await;
    accept_one(store, "dead-later", "c", T0 + HOUR, 1).await;
    kill_job(store, T0 + HOUR).await;
    assert_eq!(stats(store).await, (2, [0, 0, 0, 2]));

    let purged = store.purge_dead(T0 + HOUR).await.unwrap();
    assert_eq!((purged.events, purged.jobs), (1, 2));
    assert_eq!(store.trace("twice-dead").await.unwrap(), None);
    assert_eq!(stats(store).await, (1, [0, 0, 0, 1]));
    let purged = store.purge_dead(i64::MAX).await.unwrap();
    assert_eq!((purged.events, purged.jobs), (1, 1));
    assert_eq!(stats(store).await, (0, [0, 0, 0, 0]));
}

pub(crate) async fn unavailable_then_recovers(env: &Env) {
    let store = &env.store;
    accept_one(store, "before", "c", T0, 5).await;
    env.faults.break_writes().await;
    let err = store
        .accept(event("during", "c", T0 + 1), job(5, T0 + 1))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = store
        .enqueue("during-2".into(), "{}".into(), job(5, T0 + 1))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // Reads still work while writes cannot.
    assert_eq!(stats(store).await, (1, [1, 0, 0, 0]));

    env.faults.heal().await;
    accept_one(store, "after", "c", T0 + 2, 5).await;
    assert_eq!(
        store.trace("during").await.unwrap(),
        None,
        "a failed accept stored nothing"
    );
    assert_eq!(store.trace("during-2").await.unwrap(), None);
    assert_eq!(stats(store).await, (2, [2, 0, 0, 0]));
    assert_eq!(
        store
            .claim(claim_req("w", T0 + 2, 10))
            .await
            .unwrap()
            .jobs
            .len(),
        2
    );
}

pub(crate) async fn conflicting_cid_fails_alone(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 5).await;
    // Sent together, so they likely share one group commit: the conflict must not take the
    // other write down with it.
    let (dup, other) = tokio::join!(
        store.accept(event("cid-1", "c", T0), job(5, T0)),
        store.accept(event("cid-2", "c", T0), job(5, T0)),
    );
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    assert_eq!(other.unwrap(), Accepted::Stored);
    assert_eq!(stats(store).await, (2, [2, 0, 0, 0]));
}
