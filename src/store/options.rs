//! Tuning knobs of a store, with the defaults a server should run with.

use std::time::Duration;

/// How hard SQLite syncs a commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL on every commit: nothing acknowledged is lost on power loss. Default.
    Full,
    /// fsync only at checkpoints: faster, survives a process crash but may lose the last
    /// commits on power loss.
    Normal,
}

/// Options for [`Store::open_with`](super::Store::open_with).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    /// How long a write waits for a lock held by another process (such as a CLI replay)
    /// before the store reports itself unavailable.
    pub busy_timeout: Duration,
    /// How long a caller waits for its write to commit before it is told "unavailable".
    /// The write may still commit afterwards, which is safe: the caller answers 503 and the
    /// provider retries (at least once); it never hears "ok" for a lost write. `None` waits
    /// without a bound, which tests on tokio's paused clock need.
    pub write_timeout: Option<Duration>,
    /// Writes waiting for the writer, at most; callers beyond it wait to enqueue.
    pub queue_capacity: usize,
    /// Writes per group-commit transaction, at most.
    pub max_batch: usize,
    /// Approximate bytes (bodies and payloads) per transaction, at most, so one batch of
    /// large events does not hold the write lock for long.
    pub max_batch_bytes: usize,
    /// Read connections open at once, at most.
    pub readers: usize,
    /// For tests on tokio's paused clock only; see [`StoreOptions::for_paused_clock`].
    pub paused_clock: bool,
}

impl StoreOptions {
    /// Options for tests that run on tokio's paused clock (`start_paused = true`).
    ///
    /// A paused runtime that has nothing to do jumps its clock to the next timer. Waiting
    /// for the writer thread looks like "nothing to do" to tokio, so virtual time would race
    /// ahead (leases expire, timeouts fire) while a commit is in flight. With this set,
    /// callers wait for their commit on tokio's blocking pool, which tokio counts as work,
    /// so time stands still until the answer comes. There is no write timeout, which
    /// would be a timer too. Slower per write; never for a server.
    pub fn for_paused_clock() -> Self {
        StoreOptions {
            write_timeout: None,
            paused_clock: true,
            ..StoreOptions::default()
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            write_timeout: Some(Duration::from_secs(30)),
            queue_capacity: 4096,
            max_batch: 1024,
            max_batch_bytes: 16 << 20,
            readers: 4,
            paused_clock: false,
        }
    }
}
