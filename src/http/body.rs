//! Reading a request body under a size limit and a time limit.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as _;
use hyper::body::Incoming;

#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the limit: by its Content-Length, or once that many bytes had arrived.
    TooLarge { limit: u64 },
    /// The client did not send the whole body in time.
    TimedOut { after: Duration },
    /// The connection failed or the framing was invalid.
    Unreadable(String),
}

/// Reads the whole body, refusing it before buffering when Content-Length is over `limit`,
/// and as soon as more than `limit` bytes arrive when there is no Content-Length.
pub(crate) async fn read_limited(
    body: Incoming,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    // hyper has parsed Content-Length already: its size hint is that length exactly (and 0
    // as the lower bound of a chunked body), so the header need not be looked up again.
    if body.size_hint().lower() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit_usize).collect()).await;
    match collected {
        Err(_) => Err(BodyError::TimedOut { after: timeout }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge { limit })
        }
        Ok(Err(err)) => Err(BodyError::Unreadable(err.to_string())),
    }
}
