//! The one error type of the storage boundary.
//!
//! The HTTP layer needs a single question answered: is the store *unavailable* (answer 503
//! with `Retry-After`, the provider will retry and nothing is lost) or did something else go
//! wrong? Each backend sorts its own errors into these variants, so callers never see
//! `rusqlite` or Postgres types.

use std::error::Error;
use std::sync::Arc;

/// The cause of a [`StoreError`], shared so that one failed commit can be reported to every
/// caller of its batch.
pub type Cause = Arc<dyn Error + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store cannot serve now but may later: disk full, read-only file system, database
    /// locked by another process for longer than the busy timeout, I/O error, the writer
    /// queue timed out or is closed. Nothing was committed for this call (but see
    /// [`StoreOptions::write_timeout`](super::StoreOptions::write_timeout)); retrying later
    /// is safe.
    #[error("store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The store URL could not be understood.
    #[error("bad store url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The database was migrated by a newer build; this one refuses to touch it.
    #[error("the database schema is at version {found}, newer than this build knows ({known})")]
    SchemaTooNew { found: u32, known: u32 },
    /// The call conflicts with stored data, such as an event whose cid is already stored or
    /// a job id that exists. A bug in the caller, not a state of the store.
    #[error("conflict: {message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Stored data could not be read back (a corrupt row or file).
    #[error("stored data is corrupt: {message}")]
    Corrupt { message: String },
    /// Any other backend failure.
    #[error("store error: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// True when the HTTP layer should answer 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        StoreError::Corrupt {
            message: message.into(),
        }
    }

    /// The store's writer has stopped (closed, or its thread is gone).
    pub(crate) fn closed() -> Self {
        Self::unavailable("the store is closed")
    }
}
