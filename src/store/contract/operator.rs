//! Contract: what the operator does — list, trace, replay, purge — and how the store
//! behaves when it cannot write.

use super::*;

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
