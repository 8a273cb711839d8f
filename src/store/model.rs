//! The plain data that crosses the storage boundary.
//!
//! These types know nothing of HTTP, of the service model or of any backend: the server
//! fills them from a verified request, the workers read them back, the CLI prints them.
//! All times are unix milliseconds ([`UnixMs`]) passed in by the caller, so the store
//! never reads a clock and tests can pick any time they like.

use std::time::Duration;

use bytes::Bytes;

pub use super::headers::Headers;

/// Milliseconds since the unix epoch.
pub type UnixMs = i64;

/// How long a dedup key blocks a second event with the same key, unless the channel says.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// One accepted inbound request, exactly as received. It is never changed after insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The correlation id of the request; also the primary key of the event.
    pub cid: String,
    /// The name of the channel that accepted it.
    pub channel: String,
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`; empty when there was none.
    pub query: String,
    /// Header name/value pairs as bytes, in arrival order, duplicates kept: signature
    /// checks and replays must see what the provider sent.
    pub headers: Headers,
    /// The raw body, never re-serialised.
    pub body: Bytes,
    /// The peer address as text, such as `203.0.113.9:51234`.
    pub peer: String,
    pub received_at: UnixMs,
    /// Set when the channel deduplicates.
    pub dedup: Option<Dedup>,
}

/// A dedup key and how long it blocks a duplicate, counted from `received_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    pub key: String,
    pub window: Duration,
}

/// The answer to [`Store::accept`](super::Store::accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The event and its job are committed.
    Stored,
    /// Another event with the same dedup key is inside its window; nothing was stored.
    Duplicate { first_cid: String },
}

/// A job about to be created by `accept`, `enqueue` or a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// As in `job_0192f1c2…`; see [`new_job_id`].
    pub id: String,
    pub service: String,
    /// Fixed when the job is created, so that a config change does not rewrite the fate of
    /// jobs already queued. The backoff base and cap are read from the current policy.
    pub max_attempts: u32,
    pub created_at: UnixMs,
    /// When the first attempt is due; usually `created_at`.
    pub run_at: UnixMs,
}

impl NewJob {
    /// A job with a fresh id, due now.
    pub fn new(service: impl Into<String>, max_attempts: u32, now: UnixMs) -> Self {
        NewJob {
            id: new_job_id(),
            service: service.into(),
            max_attempts,
            created_at: now,
            run_at: now,
        }
    }
}

/// A new job id: `job_` and a UUIDv7 in simple form. Version 7 sorts by creation time,
/// which keeps the primary-key index append-mostly and lets bulk replays walk jobs in order.
pub fn new_job_id() -> String {
    // Encoded into a stack buffer: `format!` costs several times the UUID itself.
    let mut id = [0u8; 4 + uuid::fmt::Simple::LENGTH];
    id[..4].copy_from_slice(b"job_");
    uuid::Uuid::now_v7().simple().encode_lower(&mut id[4..]);
    String::from_utf8(id.to_vec()).expect("job_ and hex digits are ASCII")
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// Its service succeeded.
    Done,
    /// It failed its last attempt or failed permanently; kept until replayed or purged.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(JobState::Pending),
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "dead" => Some(JobState::Dead),
            _ => None,
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// A failure worth retrying.
    Error,
    /// The service ran past its timeout.
    Timeout,
    /// A failure that retrying cannot fix; the job goes straight to dead.
    Permanent,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Permanent => "permanent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(Outcome::Ok),
            "error" => Some(Outcome::Error),
            "timeout" => Some(Outcome::Timeout),
            "permanent" => Some(Outcome::Permanent),
            _ => None,
        }
    }
}

/// A worker's request for due jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Who holds the lease; see [`Completion::owner`].
    pub owner: String,
    pub now: UnixMs,
    /// When the lease runs out and another worker may take the job.
    pub lease_until: UnixMs,
    /// At most this many jobs.
    pub limit: u32,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub jobs: Vec<ClaimedJob>,
    /// The earliest time another job becomes due (a pending job's `next_attempt_at` or a
    /// running job's lease expiry), so an idle worker knows how long it may sleep.
    pub next_due: Option<UnixMs>,
}

/// A job a worker now holds, with everything its service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: String,
    pub cid: String,
    pub service: String,
    /// 1 for the first try.
    pub attempt: u32,
    pub max_attempts: u32,
    pub input: JobInput,
}

/// What a job's service is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// The stored event (async channels and their replays).
    Event(Box<Event>),
    /// The JSON payload given to `invoke_async`.
    Payload(Bytes),
}

/// The result of one attempt, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub job_id: String,
    /// The lease owner and attempt number from the claim. The store records the attempt only
    /// while that lease still holds, so a worker that was presumed dead cannot overwrite the
    /// work of the one that took over.
    pub owner: String,
    pub attempt: u32,
    pub started_at: UnixMs,
    pub finished_at: UnixMs,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub next: Next,
}

/// What happens to a job after an attempt; computed by `jobs::retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done,
    Retry { at: UnixMs },
    Dead,
}

/// The answer to [`Store::complete`](super::Store::complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    Recorded,
    /// The lease had been lost (expired and reclaimed); nothing was written.
    LeaseLost,
}

/// A stored job, as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub cid: String,
    pub service: String,
    /// `None` when the input is the event with the same cid.
    pub payload: Option<Bytes>,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_attempt_at: UnixMs,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<UnixMs>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
    pub last_error: Option<String>,
    /// The job this one replays.
    pub replay_of: Option<String>,
    /// The job that replays this one; a job without it is the head of its chain.
    pub replaced_by: Option<String>,
}

/// One finished try of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub job_id: String,
    /// 1 for the first try.
    pub number: u32,
    pub started_at: UnixMs,
    pub finished_at: UnixMs,
    pub outcome: Outcome,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_prefixed_simple_uuid_v7_in_creation_order() {
        let first = new_job_id();
        let second = new_job_id();
        for id in [&first, &second] {
            let hex = id.strip_prefix("job_").expect("the job_ prefix");
            let uuid = uuid::Uuid::parse_str(hex).expect("a UUID in simple form");
            assert_eq!(uuid.get_version_num(), 7);
            assert_eq!(hex, uuid.simple().to_string(), "lower-case, no dashes");
        }
        assert!(first < second, "{first} then {second}");
    }
}
