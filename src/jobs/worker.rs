//! The worker pool: one dispatcher task claims due jobs in batches and hands each to a
//! task of its own, at most `concurrency` at a time.
//!
//! The dispatcher sleeps until the soonest of: a commit that made jobs due (the store's
//! notify), a retry scheduled by one of its own jobs, the next due time the store
//! reported, or the poll interval. It claims only as many jobs as it has free slots, so a
//! claimed job starts at once and its lease is not spent waiting in a queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::WorkerConfig;
use super::run::{Record, Runner, attempt, record};
use crate::store::{ClaimRequest, Store};

/// After a failed claim (store unavailable), the dispatcher waits this long, doubling up
/// to the poll interval, so that an outage is not met with a busy loop.
const CLAIM_BACKOFF: Duration = Duration::from_millis(50);

/// What the dispatcher and its job tasks share.
pub(super) struct Pool {
    pub store: Store,
    pub runner: Arc<dyn Runner>,
    pub config: WorkerConfig,
    /// Cancelled when the grace period runs out: job tasks drop their service futures.
    pub hard_stop: CancellationToken,
    /// A job task scheduled a retry, which may be due before the dispatcher's wake-up.
    pub retry_scheduled: Notify,
    /// Finished attempts, on their way to the recorder (`run::record`).
    pub recorder: mpsc::Sender<Record>,
}

/// A running worker pool.
pub struct Workers {
    dispatcher: JoinHandle<()>,
}

impl Workers {
    /// Starts the pool on the current tokio runtime. It runs until `shutdown` is cancelled,
    /// then stops claiming, gives running jobs `config.grace` to finish, and releases the
    /// rest. Await [`Workers::join`] to know when that is done.
    pub fn start(
        store: Store,
        runner: Arc<dyn Runner>,
        config: WorkerConfig,
        shutdown: CancellationToken,
    ) -> Workers {
        // Room for every running job's completion twice over; a full queue makes job tasks
        // wait, which holds the pool back while the store is slow.
        let (recorder, queue) = mpsc::channel(2 * config.concurrency.max(1));
        let pool = Arc::new(Pool {
            store,
            runner,
            config,
            hard_stop: CancellationToken::new(),
            retry_scheduled: Notify::new(),
            recorder,
        });
        let stop_recording = CancellationToken::new();
        let recording = tokio::spawn(record(Arc::clone(&pool), queue, stop_recording.clone()));
        Workers {
            dispatcher: tokio::spawn(dispatch(pool, shutdown, recording, stop_recording)),
        }
    }

    /// Waits for the pool to stop (after its `shutdown` token was cancelled).
    pub async fn join(self) {
        if let Err(error) = self.dispatcher.await {
            tracing::error!(message = "The job dispatcher failed.", %error);
        }
    }
}

async fn dispatch(
    pool: Arc<Pool>,
    shutdown: CancellationToken,
    recording: JoinHandle<()>,
    stop_recording: CancellationToken,
) {
    let config = &pool.config;
    let clock = config.clock;
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let jobs = TaskTracker::new();
    let store_wake = pool.store.notify();
    let lease = i64::try_from(config.lease().as_millis()).unwrap_or(i64::MAX);
    let batch = config.claim_batch.max(1) as usize;

    // Jobs this owner held when its previous run stopped are abandoned; take them back now
    // rather than waiting for their leases to expire.
    match pool.store.recover(&config.owner, clock.now()).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(
            message = "Took back jobs left running by the previous run.",
            count
        ),
        Err(error) => {
            tracing::warn!(message = "Could not take back jobs of the previous run; their leases will expire.", %error)
        }
    }

    let mut failures: u32 = 0;
    loop {
        let first = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let mut free = vec![first];
        while free.len() < batch {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => free.push(slot),
                Err(_) => break,
            }
        }
        // Register for wake-ups before claiming, so that a commit landing between the claim
        // and the sleep below is not missed.
        let committed = store_wake.notified();
        let retried = pool.retry_scheduled.notified();
        tokio::pin!(committed, retried);
        committed.as_mut().enable();
        retried.as_mut().enable();

        let now = clock.now();
        let wanted = free.len();
        let request = ClaimRequest {
            owner: config.owner.clone(),
            now,
            lease_until: now.saturating_add(lease),
            limit: wanted as u32,
        };
        let sleep = match pool.store.claim(request).await {
            Ok(claimed) => {
                failures = 0;
                let got = claimed.jobs.len();
                for job in claimed.jobs {
                    let Some(slot) = free.pop() else { break };
                    jobs.spawn(attempt(Arc::clone(&pool), job, slot));
                }
                drop(free);
                if got == wanted {
                    // A full batch: more may be due right now.
                    continue;
                }
                claimed.next_due.map_or(config.poll_interval, |due| {
                    clock.until(due).min(config.poll_interval)
                })
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(message = "Could not claim jobs.", %error, failures);
                CLAIM_BACKOFF
                    .saturating_mul(1 << failures.min(16))
                    .min(config.poll_interval)
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = &mut committed => {}
            _ = &mut retried => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    // Shutdown: no more claims. Running jobs get the grace period to finish and record
    // their attempt; whatever is still running after it is stopped and released.
    jobs.close();
    if tokio::time::timeout(config.grace, jobs.wait())
        .await
        .is_err()
    {
        pool.hard_stop.cancel();
        jobs.wait().await;
    }
    // Every job task is done; the attempts they finished are recorded before the release,
    // which would otherwise put finished jobs back to pending.
    stop_recording.cancel();
    if let Err(error) = recording.await {
        tracing::error!(message = "The job recorder failed.", %error);
    }
    match pool.store.release(&config.owner, clock.now()).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(message = "Released jobs still running at shutdown.", count),
        Err(error) => {
            tracing::warn!(message = "Could not release jobs at shutdown; they run again once their leases expire.", %error)
        }
    }
}
