//! The storage boundary: events, jobs and attempts, durable before anyone is told "ok".
//!
//! [`Store`] is a closed enum over backends rather than a trait object: there will only
//! ever be a few backends, all known to this crate, and an enum needs no `async_trait`,
//! no boxing of every future and no `dyn` in callers' types. Adding PostgreSQL means one
//! more variant and one more arm per method; the method signatures (plain data in, plain
//! data out, [`StoreError`] sorted into "unavailable" and the rest) were chosen so that a
//! backend with `FOR UPDATE SKIP LOCKED`, `LISTEN/NOTIFY` and a unique index can
//! implement them unchanged:
//!
//! - `accept` and `enqueue` are single statements per row; dedup is one upsert against a
//!   unique key (see [`Store::accept`]).
//! - `claim` hands out due jobs under a lease (owner + expiry) and re-queues jobs whose
//!   lease ran out; `complete` writes only while the caller still holds the lease.
//! - [`Store::notify`] is the in-process wake-up for idle workers; Postgres would also
//!   trigger it from `LISTEN`.
//! - The store never reads a clock: every time is passed in, in unix milliseconds.
//!
//! Every backend must pass the contract suite in `contract.rs`.

mod error;
mod headers;
mod model;
mod options;
mod query;
pub mod sqlite;

#[cfg(test)]
pub(crate) mod contract;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Notify;

pub use self::error::{Cause, StoreError};
pub use self::model::{
    Accepted, Attempt, ClaimRequest, Claimed, ClaimedJob, Completed, Completion,
    DEFAULT_DEDUP_WINDOW, Dedup, Event, Headers, Job, JobInput, JobState, NewJob, Next, Outcome,
    UnixMs, new_job_id,
};
pub use self::options::{StoreOptions, Synchronous};
pub use self::query::{
    EventFilter, EventSummary, JobCounts, JobRecord, MAX_LIST_LIMIT, Purged, ReplaySelector, Stats,
    Trace,
};
use self::sqlite::SqliteStore;

/// A handle to the store; cheap to clone, all clones share one backend.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens the store at `url` with default options. See [`Store::open_with`].
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// Opens the store at `url` and applies pending migrations.
    ///
    /// `sqlite://PATH` opens or creates the file at PATH (`sqlite://inlet.db` is relative to
    /// the working directory, `sqlite:///var/lib/inlet.db` absolute). Its directory must
    /// exist.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        match parse_url(url)? {
            Location::Sqlite(path) => Ok(Store::Sqlite(SqliteStore::open(path, options).await?)),
        }
    }

    /// Applies the migrations this build has and the database lacks; returns how many ran.
    /// `open` already does this; `inlet migrate` calls it to migrate without serving.
    pub async fn migrate(&self) -> Result<u32, StoreError> {
        match self {
            Store::Sqlite(store) => store.migrate().await,
        }
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        match self {
            Store::Sqlite(store) => store.schema_version().await,
        }
    }

    /// Commits an event and its job in one transaction, or reports a duplicate.
    ///
    /// With `event.dedup` set, the key `(channel, key)` is claimed first. The dedup table
    /// holds one row per key with its expiry; an insert that hits a live key changes
    /// nothing and the event is a duplicate (neither stored nor given a job), while an
    /// expired key is taken over in the same statement. That makes it race-free without a
    /// check-then-insert, and expired keys never block. `received_at` is the "now" of the
    /// window.
    ///
    /// Returns only after the commit. The job's input is the event; its cid is the event's.
    pub async fn accept(&self, event: Event, job: NewJob) -> Result<Accepted, StoreError> {
        match self {
            Store::Sqlite(store) => store.accept(event, job).await,
        }
    }

    /// Commits a job whose input is an inline JSON `payload` (`invoke_async`); `cid` is the
    /// caller's. Returns only after the commit.
    pub async fn enqueue(
        &self,
        cid: String,
        payload: Bytes,
        job: NewJob,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.enqueue(cid, payload, job).await,
        }
    }

    /// Takes up to `limit` due jobs under a lease held by `owner` until `lease_until`. Jobs
    /// whose lease ran out are first recorded as a failed attempt and made due again (or
    /// dead, if that was their last attempt).
    pub async fn claim(&self, req: ClaimRequest) -> Result<Claimed, StoreError> {
        match self {
            Store::Sqlite(store) => store.claim(req).await,
        }
    }

    /// Records an attempt and moves its job to done, pending (retry) or dead.
    pub async fn complete(&self, done: Completion) -> Result<Completed, StoreError> {
        match self {
            Store::Sqlite(store) => store.complete(done).await,
        }
    }

    /// Records several attempts in one write, each as [`Store::complete`] would; the answers
    /// are in the same order. Workers record their finished jobs this way, so a busy pool
    /// costs the writer one write per batch of jobs rather than one per job.
    pub async fn complete_all(&self, done: Vec<Completion>) -> Result<Vec<Completed>, StoreError> {
        match self {
            Store::Sqlite(store) => store.complete_all(done).await,
        }
    }

    /// Graceful shutdown: puts the jobs `owner` still runs back to pending, due at `now`,
    /// without counting the interrupted attempt. Returns how many.
    pub async fn release(&self, owner: &str, now: UnixMs) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.release(owner.to_string(), now).await,
        }
    }

    /// Startup after a crash: treats every job `owner` holds as abandoned now, as if its
    /// lease had expired (the lost try counts as a failed attempt). Returns how many.
    pub async fn recover(&self, owner: &str, now: UnixMs) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.recover(owner.to_string(), now).await,
        }
    }

    /// Lists events, newest first.
    pub async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        match self {
            Store::Sqlite(store) => store.list_events(filter).await,
        }
    }

    /// Everything stored under one cid; `None` if nothing is.
    pub async fn trace(&self, cid: &str) -> Result<Option<Trace>, StoreError> {
        match self {
            Store::Sqlite(store) => store.trace(cid.to_string()).await,
        }
    }

    /// How many jobs [`Store::replay`] would create now; for a progress bar's total.
    pub async fn replay_count(&self, selector: ReplaySelector) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.replay_count(selector).await,
        }
    }

    /// Creates a new pending job, due at `now`, for each selected finished job (see
    /// [`ReplaySelector`]); returns how many. Bulk replays commit in chunks and call
    /// `progress` with the running total after each.
    pub async fn replay(
        &self,
        selector: ReplaySelector,
        now: UnixMs,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.replay(selector, now, progress).await,
        }
    }

    /// Counts events and jobs by state.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        match self {
            Store::Sqlite(store) => store.stats().await,
        }
    }

    /// Retention: removes finished events received before `before` with their jobs and
    /// attempts, finished `invoke_async` jobs last changed before `before`, and dedup keys
    /// expired at `now`. Events with a pending, running or dead job stay.
    pub async fn purge(&self, before: UnixMs, now: UnixMs) -> Result<Purged, StoreError> {
        match self {
            Store::Sqlite(store) => store.purge(before, now).await,
        }
    }

    /// Removes dead jobs last changed before `before` (pass `i64::MAX` for all), with the
    /// jobs they replayed, and their events once no job refers to them.
    pub async fn purge_dead(&self, before: UnixMs) -> Result<Purged, StoreError> {
        match self {
            Store::Sqlite(store) => store.purge_dead(before).await,
        }
    }

    /// Woken (`notify_waiters`) after each commit that made jobs due: accepts, enqueues,
    /// replays, releases. Workers wait on it instead of polling.
    pub fn notify(&self) -> Arc<Notify> {
        match self {
            Store::Sqlite(store) => store.notify(),
        }
    }

    /// Commits what is queued, then stops the writer; later writes fail as unavailable.
    /// Reads keep working. Dropping every handle has the same effect, without waiting.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => store.close().await,
        }
    }
}

/// Where a store lives, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Sqlite(PathBuf),
}

fn parse_url(url: &str) -> Result<Location, StoreError> {
    let bad = |reason: &str| StoreError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad("expected SCHEME://…, such as sqlite://inlet.db"));
    };
    match scheme {
        "sqlite" if rest.is_empty() => Err(bad("the path is empty")),
        "sqlite" => Ok(Location::Sqlite(PathBuf::from(rest))),
        "postgres" | "postgresql" => Err(bad("PostgreSQL is not supported by this build yet")),
        _ => Err(bad("unknown scheme; expected sqlite")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("sqlite://inlet.db").unwrap(),
            Location::Sqlite("inlet.db".into())
        );
        assert_eq!(
            parse_url("sqlite:///var/lib/inlet/inlet.db").unwrap(),
            Location::Sqlite("/var/lib/inlet/inlet.db".into())
        );
        for bad in [
            "inlet.db",
            "sqlite://",
            "mysql://x",
            "postgres://localhost/inlet",
        ] {
            assert!(
                matches!(parse_url(bad), Err(StoreError::BadUrl { .. })),
                "{bad}"
            );
        }
    }
}
