//! Where the service model meets the durable store: `invoke_async` enqueues a stored job,
//! and the worker pool runs stored jobs through the registered services.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::Gateway;
use crate::jobs::{JobFailure, WorkerConfig};
use crate::ops::AttemptOutcome;
use crate::routes::RouteMatch;
use crate::security::unix_millis;
use crate::service::background::{Background, JobId};
use crate::service::{Context, ErrorKind, Request, ServiceError, call_guarded};
use crate::store::{ClaimedJob, Event, JobInput, NewJob, Store};

/// `invoke_async` backed by the store: the job is committed before its id is returned.
pub(crate) struct Durable {
    pub store: Store,
    pub workers: Arc<WorkerConfig>,
}

impl Background for Durable {
    fn submit<'a>(
        &'a self,
        caller: &'a Context,
        service: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<JobId, ServiceError>> {
        Box::pin(async move {
            let bytes = serde_json::to_vec(&payload).map_err(ServiceError::internal)?;
            let now = unix_millis(std::time::SystemTime::now());
            let job = NewJob::new(service, self.workers.max_attempts(service), now);
            let id = JobId(job.id.clone());
            match self
                .store
                .enqueue(caller.cid().to_string(), Bytes::from(bytes), job)
                .await
            {
                Ok(()) => {
                    tracing::debug!(job = %id, service, "background job stored");
                    Ok(id)
                }
                Err(err) if err.is_unavailable() => Err(ServiceError::with_kind(
                    ErrorKind::Unavailable,
                    format!("cannot store the background job for `{service}`: {err}"),
                )),
                Err(err) => Err(ServiceError::internal(
                    anyhow::Error::new(err)
                        .context(format!("cannot store the background job for `{service}`")),
                )),
            }
        })
    }
}

/// Runs one attempt of a stored job: rebuilds the request (the stored event, or the
/// `invoke_async` payload), calls the service under the job's cid, and says whether a
/// failure is worth retrying.
/// Runs one attempt of `job` and counts its outcome for `/metrics`.
pub(crate) async fn run_job(gateway: Arc<Gateway>, job: ClaimedJob) -> Result<(), JobFailure> {
    let service = job.service.clone();
    let outcome = attempt(&gateway, job).await;
    let counted = match &outcome {
        Ok(()) => AttemptOutcome::Succeeded,
        Err(failure) if failure.permanent => AttemptOutcome::FailedPermanently,
        Err(_) => AttemptOutcome::Failed,
    };
    gateway.metrics.attempt(&service, counted);
    outcome
}

async fn attempt(gateway: &Arc<Gateway>, job: ClaimedJob) -> Result<(), JobFailure> {
    let Some(service) = gateway.shared.services.get(&job.service) else {
        // It may be deployed again (a Lua file being replaced), so this is retried.
        return Err(JobFailure::retry(format!(
            "service {} is not deployed",
            job.service
        )));
    };
    let request = match &job.input {
        JobInput::Event(event) => request_for_event(gateway, event),
        JobInput::Payload(bytes) => Request::from_json_bytes(bytes.clone()),
    };
    let ctx = Context::new(Arc::clone(&gateway.shared), Arc::from(job.cid.as_str()));
    match call_guarded(service.as_ref(), request, ctx).await {
        Ok(answer) if answer.status.is_server_error() => Err(JobFailure::retry(format!(
            "the service answered {}",
            answer.status
        ))),
        // An explicit 4xx answer (say, a signature the service itself rejected) will not
        // change on a retry.
        Ok(answer) if answer.status.is_client_error() => Err(JobFailure::permanent(format!(
            "the service answered {}",
            answer.status
        ))),
        Ok(_) => Ok(()),
        Err(err) => Err(failure(err)),
    }
}

fn failure(err: ServiceError) -> JobFailure {
    let message = err.to_string();
    match err.kind() {
        ErrorKind::Client(status) => JobFailure::permanent(format!("{status}: {message}")),
        ErrorKind::Permanent => JobFailure::permanent(message),
        ErrorKind::Internal
        | ErrorKind::Panic
        | ErrorKind::Timeout
        | ErrorKind::NotDeployed
        | ErrorKind::Unavailable => JobFailure::retry(message),
    }
}

/// The request a stored event makes, with the path parameters and data format of the
/// channel it came in on. A channel removed since falls back to JSON without parameters.
fn request_for_event(gateway: &Gateway, event: &Event) -> Request {
    let config = &gateway.config;
    let method = http::Method::from_bytes(event.method.as_bytes()).unwrap_or(http::Method::POST);
    let channel = config.channels.iter().position(|c| c.name == event.channel);
    let params = match config.routes.lookup(&method, &event.path) {
        RouteMatch::Found {
            channel: found,
            params,
        } if Some(found) == channel => params,
        _ => Vec::new(),
    };
    let format = channel
        .map(|index| config.channels[index].data_format)
        .unwrap_or_default();
    Request::from_event(event, params, format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn client_and_permanent_errors_are_not_retried() {
        assert!(failure(ServiceError::unprocessable("missing field")).permanent);
        assert!(failure(ServiceError::permanent(anyhow::anyhow!("gone"))).permanent);
        assert!(!failure(ServiceError::internal(anyhow::anyhow!("db down"))).permanent);
        assert!(!failure(ServiceError::with_kind(ErrorKind::Timeout, "slow")).permanent);
        assert!(!failure(ServiceError::client(StatusCode::BAD_GATEWAY, "x")).permanent);
    }
}
