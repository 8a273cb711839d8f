//! Contract: deduplication by (channel, key) within a window, race-free.

use super::*;

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
