//! The replay cache: message ids seen within the tolerance window, per security definition.
//!
//! A timestamped scheme already rejects old messages; inside the window, this cache rejects
//! a second delivery of the same message. It is bounded: when full, the entry that expires
//! soonest is dropped first, and entries past their message's window are swept as new ones
//! arrive. It is in memory and per process; the channel's durable dedup (the store) covers
//! restarts and several instances.
//!
//! An id is *reserved* while its request runs, and *committed* only once the request was
//! acknowledged with 2xx. A [`ReplayMark`] that is dropped uncommitted (the service failed,
//! the body was malformed) releases its id, so the provider's retry of a failed delivery is
//! processed instead of being mistaken for a replay.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::engine::ReplayEntry;

/// Entries kept per definition when the config sets no `replay_cache`.
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
struct Entries {
    /// key → (expiry, sequence number of the reservation).
    by_key: HashMap<[u8; 32], (i64, u64)>,
    /// (expiry, sequence, key), so the soonest expiry is first.
    by_expiry: BTreeSet<(i64, u64, [u8; 32])>,
    next_seq: u64,
}

/// A bounded set of recently seen message ids.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    // A std mutex: every critical section is a few map operations and never awaits.
    entries: Mutex<Entries>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(ReplayCache {
            capacity: capacity.max(1),
            entries: Mutex::new(Entries::default()),
        })
    }

    /// Reserves `entry` at `now_ms`; `None` when it is already reserved or committed.
    pub fn reserve(self: &Arc<Self>, entry: ReplayEntry, now_ms: i64) -> Option<ReplayMark> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Sweep what has expired, soonest first.
        while let Some(&(expiry, seq, key)) = entries.by_expiry.first() {
            if expiry >= now_ms {
                break;
            }
            entries.by_expiry.remove(&(expiry, seq, key));
            entries.by_key.remove(&key);
        }
        if entries.by_key.contains_key(&entry.key) {
            return None;
        }
        while entries.by_key.len() >= self.capacity {
            let Some(first) = entries.by_expiry.pop_first() else {
                break;
            };
            entries.by_key.remove(&first.2);
        }
        let seq = entries.next_seq;
        entries.next_seq += 1;
        entries.by_key.insert(entry.key, (entry.expires_ms, seq));
        entries.by_expiry.insert((entry.expires_ms, seq, entry.key));
        Some(ReplayMark {
            cache: Arc::clone(self),
            key: entry.key,
            seq,
            committed: false,
        })
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn release(&self, key: [u8; 32], seq: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Only this reservation's own entry; it may have been evicted and re-reserved.
        if let Some(&(expiry, entry_seq)) = entries.by_key.get(&key)
            && entry_seq == seq
        {
            entries.by_key.remove(&key);
            entries.by_expiry.remove(&(expiry, seq, key));
        }
    }
}

/// A reserved id. Dropping it uncommitted releases the id.
#[derive(Debug)]
pub struct ReplayMark {
    cache: Arc<ReplayCache>,
    key: [u8; 32],
    seq: u64,
    committed: bool,
}

impl ReplayMark {
    /// Keeps the id until its window ends: the request was acknowledged.
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for ReplayMark {
    fn drop(&mut self) {
        if !self.committed {
            self.cache.release(self.key, self.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(byte: u8, expires_ms: i64) -> ReplayEntry {
        ReplayEntry {
            key: [byte; 32],
            expires_ms,
        }
    }

    #[test]
    fn committed_ids_are_refused_until_they_expire() {
        let cache = ReplayCache::new(10);
        cache.reserve(entry(1, 100), 0).unwrap().commit();
        assert!(cache.reserve(entry(1, 100), 50).is_none());
        assert!(cache.reserve(entry(1, 200), 101).is_some());
    }

    #[test]
    fn uncommitted_ids_are_released() {
        let cache = ReplayCache::new(10);
        let mark = cache.reserve(entry(1, 100), 0).unwrap();
        assert!(cache.reserve(entry(1, 100), 0).is_none(), "in flight");
        drop(mark);
        assert!(cache.reserve(entry(1, 100), 0).is_some());
    }

    #[test]
    fn capacity_is_a_hard_bound() {
        let cache = ReplayCache::new(3);
        for byte in 0..10 {
            cache
                .reserve(entry(byte, 1000 + i64::from(byte)), 0)
                .unwrap()
                .commit();
            assert!(cache.len() <= 3);
        }
        // The soonest-expiring entries went first; the newest are still refused.
        assert!(cache.reserve(entry(9, 2000), 0).is_none());
        assert!(cache.reserve(entry(0, 2000), 0).is_some());
    }
}
