//! Contract: the life of a job — accept or enqueue, claim under a lease, complete, retry,
//! die — and what happens when a worker is lost or shuts down.

use super::*;

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

pub(crate) async fn complete_all_records_each(env: &Env) {
    let store = &env.store;
    accept_one(store, "cid-1", "c", T0, 5).await;
    accept_one(store, "cid-2", "c", T0, 5).await;
    accept_one(store, "cid-3", "c", T0, 5).await;
    let mut claimed = store.claim(claim_req("w1", T0, 10)).await.unwrap().jobs;
    claimed.sort_by(|a, b| a.cid.cmp(&b.cid));
    let done = vec![
        completion(&claimed[0], "w1", T0 + 10, Outcome::Ok, Next::Done),
        // Another owner's report is fenced off, without failing the others.
        completion(&claimed[1], "w2", T0 + 10, Outcome::Ok, Next::Done),
        completion(&claimed[2], "w1", T0 + 10, Outcome::Error, Next::Dead),
    ];
    assert_eq!(
        store.complete_all(done).await.unwrap(),
        [
            Completed::Recorded,
            Completed::LeaseLost,
            Completed::Recorded
        ]
    );
    assert_eq!(stats(store).await, (3, [0, 1, 1, 1]));
    assert_eq!(store.complete_all(Vec::new()).await.unwrap(), []);
}
