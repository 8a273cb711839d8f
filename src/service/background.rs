//! Where `invoke_async` sends its jobs.
//!
//! The server's implementation commits each job to the store before `invoke_async`
//! returns its id, so a job survives a crash or restart of the process.

use std::fmt;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Context, ServiceError};

/// The id of a background job, as in `job_0192f1c2…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId(pub String);

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
