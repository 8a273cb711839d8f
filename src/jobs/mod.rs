//! The background-job engine: workers that claim stored jobs, run their service through a
//! [`Runner`] the server supplies, and retry with backoff until done or dead; plus the
//! retention task.
//!
//! It works on plain data from [`crate::store`] and knows nothing of HTTP or of the
//! service model: the server adapts its services to a [`Runner`]. Durable state lives in
//! the store only, so a pool can be killed at any point and another (or the same one,
//! restarted) carries on: leases expire, and unfinished attempts run again (at least once).
//!
//! - [`retry`]: the pure retry policy.
//! - [`Workers`]: the pool (`worker.rs` dispatches, `run.rs` runs one attempt).
//! - [`start_retention`]: the purge loop.
//! - [`Clock`]: the only place that reads time.

mod clock;
mod config;
mod retention;
pub mod retry;
mod run;
mod worker;

#[cfg(test)]
mod tests;

pub use self::clock::{Clock, jitter};
pub use self::config::{ServicePolicy, WorkerConfig};
pub use self::retention::{DEFAULT_RETENTION, RetentionConfig, start_retention};
pub use self::retry::RetryPolicy;
pub use self::run::{JobFailure, Runner};
pub use self::worker::Workers;
