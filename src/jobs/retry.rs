//! The retry policy, as a pure function of (attempt, failure, now, jitter, policy).
//!
//! No clock, no random number generator: the caller passes `now` and a jitter drawn from
//! `[0, 1)`, so every branch is tested with plain numbers. The delay before attempt `n + 1`
//! is `base * 2^(n - 1)`, capped at `cap`, then spread by "equal jitter": a uniform pick in
//! `[delay / 2, delay)`. Half the delay is guaranteed (the endpoint gets its breather), and
//! the other half spreads a burst of failures so that retries do not arrive in lockstep.

use std::time::Duration;

use crate::store::UnixMs;

/// How a job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last failed one the job is dead.
    pub max_attempts: u32,
    /// The delay after the first failure, before jitter.
    pub base: Duration,
    /// The longest delay, before jitter.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 12 attempts, 5 s doubling up to 1 h: about two to three hours of retries in all,
    /// enough to ride out a typical outage of the system a service talks to.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 12,
            base: Duration::from_secs(5),
            cap: Duration::from_secs(3600),
        }
    }
}

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying.
    Error,
    /// The service ran past its timeout; retried like an error.
    Timeout,
    /// Retrying cannot help (the service said so).
    Permanent,
}

/// What to do with a job after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry { at: UnixMs },
    Dead,
}

/// Decides the fate of a job whose attempt number `attempt` (1 for the first) failed at
/// `now`. `jitter` should be uniform in `[0, 1)`; values outside are clamped.
pub fn after_failure(
    attempt: u32,
    failure: Failure,
    now: UnixMs,
    jitter: f64,
    policy: &RetryPolicy,
) -> Decision {
    if failure == Failure::Permanent || attempt >= policy.max_attempts {
        return Decision::Dead;
    }
    let delay = backoff(attempt, jitter, policy);
    let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    Decision::Retry {
        at: now.saturating_add(delay),
    }
}

/// The jittered delay after failed attempt `attempt`.
pub fn backoff(attempt: u32, jitter: f64, policy: &RetryPolicy) -> Duration {
    let base = policy.base.as_millis();
    let cap = policy.cap.as_millis();
    // 2^(attempt-1) with the exponent bounded: past 2^64 the cap has long taken over.
    let exponent = attempt.saturating_sub(1).min(64);
    let delay = base.saturating_mul(1u128 << exponent).min(cap);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = delay / 2;
    let spread = ((delay - half) as f64 * jitter) as u128;
    // jitter = 1.0 (clamped from above) would reach `delay` itself; keep it exclusive
    // unless the delay is zero.
    let millis = (half + spread).min(delay.saturating_sub(1)).max(half);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMs = 1_700_000_000_000;

    fn policy(max_attempts: u32, base_ms: u64, cap_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
        }
    }

    fn delay_ms(attempt: u32, jitter: f64, policy: &RetryPolicy) -> i64 {
        match after_failure(attempt, Failure::Error, NOW, jitter, policy) {
            Decision::Retry { at } => at - NOW,
            Decision::Dead => panic!("attempt {attempt} should be retried"),
        }
    }

    #[test]
    fn doubles_from_base_with_half_guaranteed() {
        let p = policy(100, 1000, 1_000_000);
        // jitter 0: exactly half of base * 2^(n-1).
        let lows: Vec<_> = (1..=6).map(|n| delay_ms(n, 0.0, &p)).collect();
        assert_eq!(lows, [500, 1000, 2000, 4000, 8000, 16000]);
        // jitter just under 1: just under the full delay.
        let highs: Vec<_> = (1..=4).map(|n| delay_ms(n, 0.999_999, &p)).collect();
        assert_eq!(highs, [999, 1999, 3999, 7999]);
        assert_eq!(delay_ms(3, 0.5, &p), 3000);
    }

    #[test]
    fn cap_bounds_every_delay_even_for_absurd_attempts() {
        let p = policy(u32::MAX, 1000, 60_000);
        for attempt in [7, 8, 20, 63, 64, 65, 1000, u32::MAX - 1] {
            for jitter in [0.0, 0.3, 0.999] {
                let delay = delay_ms(attempt, jitter, &p);
                assert!(
                    (30_000..60_000).contains(&delay),
                    "attempt {attempt}: {delay}"
                );
            }
        }
        // A cap below the base wins too.
        assert_eq!(delay_ms(1, 0.0, &policy(5, 10_000, 2_000)), 1_000);
    }

    #[test]
    fn delay_never_shrinks_as_attempts_grow() {
        let p = policy(200, 250, 3_600_000);
        for jitter in [0.0, 0.25, 0.75, 0.999] {
            let delays: Vec<_> = (1..150).map(|n| delay_ms(n, jitter, &p)).collect();
            assert!(
                delays.windows(2).all(|w| w[0] <= w[1]),
                "jitter {jitter}: {delays:?}"
            );
        }
    }

    #[test]
    fn out_of_range_jitter_is_clamped() {
        let p = policy(10, 1000, 100_000);
        assert_eq!(delay_ms(1, -3.0, &p), 500);
        assert_eq!(delay_ms(1, f64::NAN, &p), 500);
        assert_eq!(delay_ms(1, f64::INFINITY, &p), 500);
        assert_eq!(delay_ms(1, 7.0, &p), 999, "still below the full delay");
    }

    #[test]
    fn last_attempt_is_dead_and_earlier_ones_retry() {
        let p = policy(3, 1000, 10_000);
        assert!(matches!(
            after_failure(1, Failure::Error, NOW, 0.0, &p),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            after_failure(2, Failure::Timeout, NOW, 0.0, &p),
            Decision::Retry { .. }
        ));
        assert_eq!(
            after_failure(3, Failure::Error, NOW, 0.0, &p),
            Decision::Dead
        );
        assert_eq!(
            after_failure(4, Failure::Timeout, NOW, 0.0, &p),
            Decision::Dead,
            "past the last"
        );
        assert_eq!(
            after_failure(1, Failure::Error, NOW, 0.0, &policy(1, 1000, 1000)),
            Decision::Dead
        );
        assert_eq!(
            after_failure(1, Failure::Error, NOW, 0.0, &policy(0, 1000, 1000)),
            Decision::Dead
        );
    }

    #[test]
    fn permanent_failure_is_dead_at_once() {
        let p = policy(100, 1000, 10_000);
        for attempt in [1, 2, 50] {
            assert_eq!(
                after_failure(attempt, Failure::Permanent, NOW, 0.5, &p),
                Decision::Dead
            );
        }
    }

    #[test]
    fn timeouts_back_off_like_errors() {
        let p = policy(10, 1000, 100_000);
        for attempt in 1..10 {
            assert_eq!(
                after_failure(attempt, Failure::Timeout, NOW, 0.4, &p),
                after_failure(attempt, Failure::Error, NOW, 0.4, &p)
            );
        }
    }

    #[test]
    fn zero_base_retries_at_once_and_time_saturates() {
        assert_eq!(delay_ms(5, 0.9, &policy(10, 0, 0)), 0);
        let huge = policy(10, u64::MAX, u64::MAX);
        assert_eq!(
            after_failure(9, Failure::Error, i64::MAX - 5, 0.9, &huge),
            Decision::Retry { at: i64::MAX }
        );
    }
}
