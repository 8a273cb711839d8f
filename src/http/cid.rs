//! The correlation id of a request: a UUIDv7 in lowercase hex, without dashes.
//!
//! Every request gets one, so it lives on the stack: 32 bytes, no allocation; the request's
//! log scope (`telemetry::scope`) holds a copy. Its `Display` writes the text in one call,
//! without the padding logic `str`'s `Display` runs.
//!
//! A cid is the millisecond timestamp, then 12 bits drawn at random once per process, then a
//! 62-bit counter that starts at a random value: RFC 9562's "fixed bit-length dedicated
//! counter", seeded once rather than every millisecond. `Uuid::now_v7` takes a mutex, draws
//! random bits for every id and reseeds every millisecond: 0.63k instructions a request where
//! this costs 0.22k. Two processes (or a restart) draw different seeds, so their cids differ,
//! and within a process the counter keeps them in the order they were made.

use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The process's cid state: its random bits, and the clock and counter that make cids unique
/// and ordered.
struct Generator {
    /// The 12 bits after the version, random per process.
    random: u16,
    /// The next value of the 62 bits after the variant: a random start below 2^61, so that
    /// adding one per cid never reaches the variant bits.
    counter: AtomicU64,
    /// The latest millisecond used: a clock stepped back does not make a cid sort earlier.
    last_ms: AtomicU64,
}

static GENERATOR: LazyLock<Generator> = LazyLock::new(|| {
    // A v4 UUID's bits are random but for its version (bits 76..80) and variant (62..64).
    let seed = uuid::Uuid::new_v4().as_u128();
    Generator {
        random: (seed >> 80) as u16 & 0x0fff,
        counter: AtomicU64::new(seed as u64 & ((1 << 61) - 1)),
        last_ms: AtomicU64::new(0),
    }
});

/// A cid: 32 lowercase hex digits, time-ordered, so ids sort by arrival.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cid([u8; 32]);

impl Cid {
    /// A new cid for the current time.
    pub(crate) fn new() -> Cid {
        let generator = &*GENERATOR;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let ms = generator
            .last_ms
            .fetch_max(now_ms, Ordering::Relaxed)
            .max(now_ms);
        let count = generator.counter.fetch_add(1, Ordering::Relaxed);
        let mut tail = [0u8; 10];
        tail[..2].copy_from_slice(&generator.random.to_be_bytes());
        tail[2..].copy_from_slice(&count.to_be_bytes());
        let mut text = [0u8; 32];
        uuid::Builder::from_unix_timestamp_millis(ms, &tail)
            .into_uuid()
            .simple()
            .encode_lower(&mut text);
        Cid(text)
    }

    /// The text's bytes, without the UTF-8 check that `as_str` makes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a cid is hex digits, so ASCII")
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cid_is_32_lowercase_hex_digits_and_later_ones_sort_after() {
        let first = Cid::new();
        let second = Cid::new();
        assert_eq!(first.as_str().len(), 32);
        assert!(
            first
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(first.as_str() < second.as_str());
        assert_eq!(first.to_string(), first.as_str());
        assert_eq!(
            uuid::Uuid::parse_str(first.as_str())
                .unwrap()
                .get_version_num(),
            7
        );
    }

    #[test]
    fn cids_made_at_once_on_many_threads_are_all_different_and_each_thread_s_are_ordered() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    let cids: Vec<String> = (0..10_000).map(|_| Cid::new().to_string()).collect();
                    assert!(cids.windows(2).all(|pair| pair[0] < pair[1]));
                    cids
                })
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for thread in threads {
            for cid in thread.join().unwrap() {
                assert!(all.insert(cid), "a cid was made twice");
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn a_cid_starts_with_the_current_millisecond() {
        let before = unix_ms();
        let cid = uuid::Uuid::parse_str(Cid::new().as_str()).unwrap();
        let after = unix_ms();
        let (seconds, nanos) = cid.get_timestamp().unwrap().to_unix();
        let ms = seconds * 1000 + u64::from(nanos) / 1_000_000;
        assert!(
            (before..=after).contains(&ms),
            "{before} <= {ms} <= {after}"
        );
        assert_eq!(cid.get_variant(), uuid::Variant::RFC4122);
    }

    fn unix_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
}
