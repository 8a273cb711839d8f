//! Where workers and the retention task get "now" and their jitter.
//!
//! The store takes every time as an argument; this is the one place that reads a clock.
//! [`Clock::Tokio`] follows tokio's clock, so tests on a paused runtime move time forward
//! with `tokio::time::advance` (or auto-advance) and leases, backoffs and timeouts all see
//! the same virtual time.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::UnixMs;

/// A source of unix-millisecond time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock; what a server uses, so that times agree with other
    /// processes sharing the store (the CLI, other instances).
    System,
    /// `origin_ms` plus the tokio time elapsed since `origin`.
    Tokio {
        origin_ms: UnixMs,
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that starts at `origin_ms` now and follows tokio's (possibly paused) time.
    pub fn tokio(origin_ms: UnixMs) -> Clock {
        Clock::Tokio {
            origin_ms,
            origin: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> UnixMs {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| {
                    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
                }),
            Clock::Tokio { origin_ms, origin } => {
                let elapsed = i64::try_from(origin.elapsed().as_millis()).unwrap_or(i64::MAX);
                origin_ms.saturating_add(elapsed)
            }
        }
    }

    /// How long until `at`; zero if it has passed.
    pub fn until(&self, at: UnixMs) -> Duration {
        Duration::from_millis(u64::try_from(at.saturating_sub(self.now())).unwrap_or(0))
    }
}

/// A jitter value uniform in `[0, 1)`.
///
/// Retries need spread, not cryptographic randomness, so this hashes a counter with the
/// standard library's randomly keyed SipHash rather than pulling in a `rand` dependency.
pub fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    // The top 53 bits fill an f64 mantissa exactly, giving a value in [0, 1).
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_in_range_and_spread() {
        let values: Vec<f64> = (0..2000).map(|_| jitter()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let low = values.iter().filter(|v| **v < 0.5).count();
        assert!((800..1200).contains(&low), "{low} of 2000 below 0.5");
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = Clock::tokio(1_000);
        assert_eq!(clock.now(), 1_000);
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert_eq!(clock.now(), 3_500);
        assert_eq!(clock.until(4_000), Duration::from_millis(500));
        assert_eq!(clock.until(10), Duration::ZERO);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(Clock::System.now() > 1_577_836_800_000);
    }
}
