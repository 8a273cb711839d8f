//! The correlation id of a request: a UUIDv7 in lowercase hex, without dashes.
//!
//! Every request gets one, so it lives on the stack: 32 bytes, no allocation; the request's
//! log scope (`telemetry::scope`) holds a copy. Its `Display` writes the text in one call,
//! without the padding logic `str`'s `Display` runs.
//!
//! A cid is the millisecond timestamp, then 74 bits that each thread draws at random when
//! its clock reaches a new millisecond and counts up by one within it: RFC 9562's "fixed
//! bit-length dedicated counter", reseeded every millisecond as `Uuid::now_v7` does, but
//! from per-thread state, where `now_v7` takes a process-wide mutex and draws random bits
//! for every id (0.63k instructions a request, against ~0.2k here). Within a thread, cids
//! sort in the order they were made. Reseeding hides how many cids were made between two
//! that a client sees (a counter kept for the whole process would tell a sender how much
//! traffic the server had in between). Two threads or processes collide only if they draw
//! the same 74 bits in the same millisecond.

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A thread's cid state: the millisecond of its last cid, and the 74 bits after the version
/// that its next cid in that millisecond takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Clock {
    ms: u64,
    /// The 12 bits after the version (`rand_a`).
    high: u16,
    /// The 62 bits after the variant (`rand_b`), below 2^61 when drawn, so that counting up
    /// within a millisecond never reaches the variant bits.
    low: u64,
}

impl Clock {
    /// The millisecond and bits of the next cid at `now_ms`, which are also the state after
    /// it. A clock stepped back keeps the last millisecond and counts on, so cids never sort
    /// earlier. `draw` gives 128 random bits, and is called only for a new millisecond.
    fn next(self, now_ms: u64, draw: impl FnOnce() -> u128) -> Clock {
        if now_ms > self.ms {
            // A v4 UUID's bits are random but for its version (76..80) and variant (62..64).
            let seed = draw();
            Clock {
                ms: now_ms,
                high: (seed >> 80) as u16 & 0x0fff,
                low: seed as u64 & ((1 << 61) - 1),
            }
        } else {
            Clock {
                low: self.low + 1,
                ..self
            }
        }
    }
}

thread_local! {
    static CLOCK: Cell<Clock> = const { Cell::new(Clock { ms: 0, high: 0, low: 0 }) };
}

/// A cid: 32 lowercase hex digits, time-ordered, so ids sort by arrival.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cid([u8; 32]);

impl Cid {
    /// A new cid for the current time.
    pub(crate) fn new() -> Cid {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let taken = CLOCK.with(|clock| {
            let taken = clock.get().next(now_ms, || uuid::Uuid::new_v4().as_u128());
            clock.set(taken);
            taken
        });
        let mut tail = [0u8; 10];
        tail[..2].copy_from_slice(&taken.high.to_be_bytes());
        tail[2..].copy_from_slice(&taken.low.to_be_bytes());
        let mut text = [0u8; 32];
        uuid::Builder::from_unix_timestamp_millis(taken.ms, &tail)
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

    #[test]
    fn a_new_millisecond_draws_new_bits_and_the_same_one_counts_up() {
        let start = Clock {
            ms: 0,
            high: 0,
            low: 0,
        };
        let drawn = start.next(1_000, || u128::MAX);
        assert_eq!(
            drawn,
            Clock {
                ms: 1_000,
                high: 0x0fff,
                low: (1 << 61) - 1
            },
            "the drawn bits are cut to 12 and 61 bits"
        );
        let no_draw = || -> u128 { panic!("drew again within the same millisecond") };
        let counted = drawn.next(1_000, no_draw);
        assert_eq!(
            counted,
            Clock {
                low: 1 << 61,
                ..drawn
            }
        );
        // The clock stepped back: same millisecond as before, counting on.
        assert_eq!(
            counted.next(999, no_draw),
            Clock {
                low: (1 << 61) + 1,
                ..drawn
            }
        );
        // A later millisecond forgets the count: nothing tells how many cids came between.
        let later = counted.next(1_001, || 0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        assert_eq!(later.ms, 1_001);
        assert_eq!(later.low, 0x1234_5678_9abc_def0 & ((1 << 61) - 1));
    }

    fn unix_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
}
