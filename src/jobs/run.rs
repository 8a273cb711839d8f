//! One attempt of one job: run the service under its timeout, catch panics, decide the
//! next step with the retry policy, and record it all.

use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::clock::jitter;
use super::retry::{self, Decision, Failure, RetryPolicy};
use super::worker::Pool;
use crate::store::{ClaimedJob, Completed, Completion, Next, Outcome};

/// Runs a claimed job's service. The server supplies it; the jobs engine knows nothing of
/// services beyond their names.
///
/// Any `Fn(ClaimedJob) -> impl Future<Output = Result<(), JobFailure>>` is a runner.
pub trait Runner: Send + Sync + 'static {
    fn run(&self, job: ClaimedJob) -> BoxFuture<'static, Result<(), JobFailure>>;
}

impl<F, Fut> Runner for F
where
    F: Fn(ClaimedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailure>> + Send + 'static,
{
    fn run(&self, job: ClaimedJob) -> BoxFuture<'static, Result<(), JobFailure>> {
        Box::pin(self(job))
    }
}

/// A failed attempt, as the runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Retrying cannot help: the job goes straight to dead.
    pub permanent: bool,
    /// Recorded on the attempt; shown by `inlet events show`.
    pub message: String,
}

impl JobFailure {
    /// A failure worth retrying.
    pub fn retry(message: impl Into<String>) -> Self {
        JobFailure {
            permanent: false,
            message: message.into(),
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobFailure {
            permanent: true,
            message: message.into(),
        }
    }
}

/// Runs `job` once and records the attempt. `slot` is held while the service runs, so the
/// pool never runs more services at once than its concurrency.
pub(super) async fn attempt(pool: Arc<Pool>, job: ClaimedJob, slot: OwnedSemaphorePermit) {
    let span = tracing::info_span!("job", cid = %job.cid, job = %job.id, service = %job.service, attempt = job.attempt);
    run(pool, job, slot).instrument(span).await
}

async fn run(pool: Arc<Pool>, job: ClaimedJob, slot: OwnedSemaphorePermit) {
    let policy = *pool.config.policy_for(&job);
    let (id, number, max_attempts) = (job.id.clone(), job.attempt, job.max_attempts);
    let started_at = pool.config.clock.now();

    // The service runs inside this task, in the job's span (so every line it logs carries
    // the cid), rather than in a task of its own: a panic is caught here, and dropping the
    // future on a timeout or a hard stop cancels it as an abort would, without a second
    // spawn for every job. A hard stop leaves the job leased to this owner; the pool
    // releases it so that the next start (or another instance) runs it again.
    let service = AssertUnwindSafe(pool.runner.run(job)).catch_unwind();
    let finished = tokio::select! {
        biased;
        _ = pool.hard_stop.cancelled() => return,
        finished = tokio::time::timeout(policy.timeout, service) => finished,
    };
    let (outcome, error) = match finished {
        Err(_elapsed) => (
            Outcome::Timeout,
            Some(format!("timed out after {:?}", policy.timeout)),
        ),
        Ok(Ok(Ok(()))) => (Outcome::Ok, None),
        Ok(Ok(Err(failure))) => {
            let outcome = if failure.permanent {
                Outcome::Permanent
            } else {
                Outcome::Error
            };
            (outcome, Some(failure.message))
        }
        Ok(Err(_panic)) => (Outcome::Error, Some("the service panicked".to_string())),
    };
    let finished_at = pool.config.clock.now();
    // The service is done, so its slot is free for the next job even before the attempt
    // is recorded. The completion goes to the pool's recorder, which writes whatever
    // completions are waiting as one store write; that write and the dispatcher's next
    // claim usually share one group commit. Completions in flight stay bounded (about
    // twice the concurrency): a claim is answered only after the writer has committed
    // every write queued ahead of it, and the recorder's queue is bounded too.
    drop(slot);
    let next = next_step(number, outcome, finished_at, max_attempts, &policy.retry);

    let completion = Completion {
        job_id: id,
        owner: pool.config.owner.clone(),
        attempt: number,
        started_at,
        finished_at,
        outcome,
        error: error.clone(),
        next,
    };
    let record = Record {
        completion,
        span: tracing::Span::current(),
    };
    if pool.recorder.send(record).await.is_err() {
        // Only after a hard stop; the job stays leased and runs again.
        tracing::warn!(
            message = "Could not record a job attempt; it will run again after its lease expires."
        );
    }
}

/// A finished attempt on its way to the store, with the job's span to log its fate under.
pub(super) struct Record {
    completion: Completion,
    span: tracing::Span,
}

/// Records finished attempts in batches: one store write for whatever is waiting, instead
/// of a write (a closure, a queue slot and a wake-up on the writer) per job. Runs until
/// `stop` is cancelled, then records what is left and returns.
pub(super) async fn record(
    pool: Arc<Pool>,
    mut queue: mpsc::Receiver<Record>,
    stop: CancellationToken,
) {
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            biased;
            got = queue.recv_many(&mut batch, RECORD_BATCH) => if got == 0 { return },
            _ = stop.cancelled() => {
                // Every job task has finished (see `dispatch`), so all that is left is
                // already queued.
                while let Ok(record) = queue.try_recv() {
                    batch.push(record);
                }
                if !batch.is_empty() {
                    record_batch(&pool, std::mem::take(&mut batch)).await;
                }
                return;
            }
        }
        record_batch(&pool, std::mem::take(&mut batch)).await;
    }
}

/// Completions per store write, at most.
const RECORD_BATCH: usize = 256;

async fn record_batch(pool: &Pool, batch: Vec<Record>) {
    let completions = batch.iter().map(|r| r.completion.clone()).collect();
    let answers = pool.store.complete_all(completions).await;
    let mut retried = false;
    for (index, record) in batch.into_iter().enumerate() {
        let Record { completion, span } = record;
        let _entered = span.enter();
        let next = completion.next;
        retried |= matches!(next, Next::Retry { .. });
        let error = completion.error.as_deref().unwrap_or("");
        match answers.as_ref().map(|answers| answers[index]) {
            Ok(Completed::Recorded) => match next {
                Next::Done => tracing::debug!(message = "Job done."),
                Next::Retry { at } => {
                    tracing::info!(
                        message = "Job attempt failed; will retry.",
                        outcome = completion.outcome.as_str(),
                        error,
                        retry_at = at
                    )
                }
                Next::Dead => {
                    tracing::warn!(
                        message = "Job is dead.",
                        outcome = completion.outcome.as_str(),
                        error
                    )
                }
            },
            Ok(Completed::LeaseLost) => {
                tracing::warn!(
                    message = "Job lease was lost before the attempt was recorded; another worker has it."
                )
            }
            Err(error) => {
                // The job stays leased; when the lease runs out it is claimed again.
                tracing::warn!(message = "Could not record a job attempt; it will run again after its lease expires.", %error)
            }
        }
    }
    if retried {
        // A retry may be due before the pool's next wake-up: let it recompute.
        pool.retry_scheduled.notify_one();
    }
}

/// Maps an attempt's outcome to the job's next state. The job's own `max_attempts` (fixed
/// when it was created) wins over the policy's.
fn next_step(
    attempt: u32,
    outcome: Outcome,
    now: i64,
    max_attempts: u32,
    policy: &RetryPolicy,
) -> Next {
    let failure = match outcome {
        Outcome::Ok => return Next::Done,
        Outcome::Error => Failure::Error,
        Outcome::Timeout => Failure::Timeout,
        Outcome::Permanent => Failure::Permanent,
    };
    let policy = RetryPolicy {
        max_attempts,
        ..*policy
    };
    match retry::after_failure(attempt, failure, now, jitter(), &policy) {
        Decision::Retry { at } => Next::Retry { at },
        Decision::Dead => Next::Dead,
    }
}
