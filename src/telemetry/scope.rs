//! The request a log line belongs to: its cid and channel, carried by the request's task.
//!
//! Every line logged while a request is handled names the request, and so does a panic in
//! its service. A `tracing` span did that until it showed up as about a tenth of a small
//! request's instructions besides SHA-256 (`bench/README.md`): a slot in the registry, its
//! fields formatted into a `String`, enter and exit on every poll, and the close. A task-local costs a swap in and out of a
//! thread-local on each poll; the formatters (`text.rs`, `wrapped.rs`) read it and write
//! what the span's fields used to give, `request{cid=… channel="…"}:`.
//!
//! What a task-local does not do that a span did: follow work handed to another task.
//! Nothing on the request path spawns one today; code that does must wrap the spawned
//! future in [`in_request`] again, with a clone of the scope ([`with_request`] lends it).
//! Background jobs run in their workers' tasks under their own `job` span, which carries
//! the cid of the request that queued them.

use std::future::Future;
use std::sync::Arc;

use crate::http::cid::Cid;

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// The request the current task is handling.
#[derive(Clone, Debug)]
pub(crate) struct RequestScope {
    cid: Cid,
    /// `None` when no channel serves the request (404, 405); logged as `channel=""`.
    channel: Option<Arc<str>>,
}

impl RequestScope {
    pub(crate) fn new(cid: Cid, channel: Option<Arc<str>>) -> Self {
        RequestScope { cid, channel }
    }

    pub(crate) fn cid(&self) -> &str {
        self.cid.as_str()
    }

    pub(crate) fn channel(&self) -> &str {
        self.channel.as_deref().unwrap_or("")
    }
}

/// Runs `future` as the handling of the request `scope`: whatever it logs, on any poll,
/// is logged for that request.
pub(crate) fn in_request<F: Future>(
    scope: RequestScope,
    future: F,
) -> impl Future<Output = F::Output> {
    REQUEST.scope(scope, future)
}

/// Calls `f` with the request the current task is handling, or `None` outside of one.
pub(crate) fn with_request<R>(f: impl FnOnce(Option<&RequestScope>) -> R) -> R {
    // `try_with` calls its closure (once) exactly when it returns `Ok`, so `f` runs once.
    let mut f = Some(f);
    REQUEST
        .try_with(|scope| f.take().expect("not called yet")(Some(scope)))
        .unwrap_or_else(|_| f.take().expect("not called by try_with")(None))
}
