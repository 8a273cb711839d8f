//! The shapes of the operator's questions (list, show, replay, stats, purge) and answers.
//!
//! They serve the CLI and the admin API, and work from a second process while the server
//! runs, because every backend reads through its own connections.

use super::model::{Attempt, Event, Job, JobState, UnixMs};

/// Which events to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub channel: Option<String>,
    /// The event's status; see [`EventSummary::status`].
    pub status: Option<JobState>,
    /// Only events received at or after this time.
    pub since: Option<UnixMs>,
    /// At most this many; the store caps it at [`MAX_LIST_LIMIT`].
    pub limit: u32,
}

/// The most events one list call returns, so a careless `--limit` cannot exhaust memory.
pub const MAX_LIST_LIMIT: u32 = 100_000;

impl EventFilter {
    /// The newest `limit` events of every channel.
    pub fn latest(limit: u32) -> Self {
        EventFilter {
            channel: None,
            status: None,
            since: None,
            limit,
        }
    }
}

/// One line of an event list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub cid: String,
    pub channel: String,
    pub method: String,
    pub path: String,
    pub received_at: UnixMs,
    pub body_len: u64,
    /// The state of the event's job; when the event has several (say two services, or a
    /// replay in progress), the most active one among the heads of their chains:
    /// running, then pending, then dead, then done.
    pub status: Option<JobState>,
}

/// Everything stored under one cid: the event (if the cid came from an async channel) and
/// every job carrying that cid, including `invoke_async` jobs and replays, with attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub cid: String,
    pub event: Option<Event>,
    /// Oldest first.
    pub jobs: Vec<JobRecord>,
}

/// A job and its attempts, first attempt first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub job: Job,
    pub attempts: Vec<Attempt>,
}

/// Which finished jobs a replay runs again. Each selected job (a head of its chain that is
/// `done` or `dead`) gets a new pending job with the same service and input; the old one
/// keeps its attempts and points at the new one through `replaced_by`. Pending and running
/// jobs are never selected: they are going to run anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelector {
    /// The jobs of these cids. A cid with an event replays the event's jobs only (the
    /// service will `invoke_async` again as it did the first time); a cid without one
    /// replays its `invoke_async` jobs.
    Cids(Vec<String>),
    /// Every dead job.
    Dead,
    /// The event jobs of one channel's events received at or after `since`.
    Channel { channel: String, since: UnixMs },
}

/// Counts for `inlet stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub jobs: JobCounts,
}

/// Jobs by state, counting only the head of each replay chain, so that replaying a dead job
/// moves it from `dead` to `pending` rather than adding a second entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: u64,
    pub jobs: u64,
    pub dedup_keys: u64,
}

impl Purged {
    pub(crate) fn add(&mut self, other: Purged) {
        self.events += other.events;
        self.jobs += other.jobs;
        self.dedup_keys += other.dedup_keys;
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}
