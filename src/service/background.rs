//! Where `invoke_async` sends its jobs.
//!
//! [`InProcess`] runs each job on a tokio task in this process, tracked so that shutdown
//! can wait for it. It does not survive a restart; the durable store replaces it when the
//! server has one.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{Context, Request, ServiceError, call_guarded, context::not_deployed};

/// The id of a background job, as in `job_0192f1c2…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId(pub String);

impl JobId {
    pub fn generate() -> Self {
        JobId(format!("job_{}", uuid::Uuid::now_v7().simple()))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Accepts jobs from `invoke_async`.
pub(crate) trait Background: Send + Sync {
    fn submit<'a>(
        &'a self,
        caller: &'a Context,
        service: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<JobId, ServiceError>>;
}

/// Runs jobs on tokio tasks of this process, at most `limit` at a time.
pub(crate) struct InProcess {
    tracker: TaskTracker,
    slots: Arc<Semaphore>,
}

impl InProcess {
    pub fn new(tracker: TaskTracker, limit: usize) -> Self {
        InProcess {
            tracker,
            slots: Arc::new(Semaphore::new(limit)),
        }
    }
}

impl Background for InProcess {
    fn submit<'a>(
        &'a self,
        caller: &'a Context,
        service: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<JobId, ServiceError>> {
        Box::pin(async move {
            let job = JobId::generate();
            let ctx = caller.for_background();
            let name = service.to_string();
            let slots = Arc::clone(&self.slots);
            // `parent: None`: the job outlives the request, so it gets its own root span.
            let span = tracing::info_span!(parent: None, "job", cid = %ctx.cid(), job = %job, service = %name);
            self.tracker.spawn(
                async move {
                    // Waiting for a slot here, not in the caller, keeps `invoke_async` instant.
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return;
                    };
                    let Some(target) = ctx.services().get(&name) else {
                        tracing::error!(error = %not_deployed(&name), "background job failed");
                        return;
                    };
                    match call_guarded(target.as_ref(), Request::from_payload(payload), ctx).await {
                        Ok(_) => tracing::info!("background job done"),
                        Err(err) => tracing::error!(error = %err, kind = ?err.kind(), "background job failed"),
                    }
                }
                .instrument(span),
            );
            Ok(job)
        })
    }
}
