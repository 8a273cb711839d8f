//! The background retention task: every `interval`, purge finished events older than
//! `retention`, and expired dedup keys. Dead jobs (and their events) stay until they are
//! replayed or purged by an explicit command.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use crate::store::Store;

/// How long finished events are kept, by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// When and what to purge.
#[derive(Debug, Clone, Copy)]
pub struct RetentionConfig {
    /// Time between purges; the first runs at start.
    pub interval: Duration,
    /// Finished events received longer ago than this are purged.
    pub retention: Duration,
    pub clock: Clock,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            interval: Duration::from_secs(3600),
            retention: DEFAULT_RETENTION,
            clock: Clock::System,
        }
    }
}

/// Starts the retention task; it stops when `shutdown` is cancelled. A purge in progress
/// is abandoned between chunks (each chunk is its own transaction, so nothing is half done).
pub fn start_retention(
    store: Store,
    config: RetentionConfig,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let retention = i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX);
        let mut ticks = tokio::time::interval(config.interval.max(Duration::from_millis(1)));
        // After a long purge or a stalled runtime, wait a full interval rather than bursting.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let now = config.clock.now();
            let purge = store.purge(now.saturating_sub(retention), now);
            let purged = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                purged = purge => purged,
            };
            match purged {
                Ok(purged) if purged.is_empty() => {}
                Ok(purged) => tracing::info!(
                    message = "Purged finished events past retention.",
                    events = purged.events,
                    jobs = purged.jobs,
                    dedup_keys = purged.dedup_keys
                ),
                Err(error) => {
                    tracing::warn!(message = "Retention purge failed; will try again.", %error)
                }
            }
        }
    })
}
