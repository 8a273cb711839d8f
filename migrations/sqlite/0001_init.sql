-- The first schema: events, their jobs, the attempts of each job, and dedup keys.
-- Times are unix milliseconds. Text states keep the file readable with the sqlite3 shell.

-- One accepted inbound request, stored exactly as received. Never updated.
-- Keyed by arrival time: every time-ordered read (lists newest first, retention, replays
-- since a time) walks the table itself, so an insert writes the table and one index (by
-- cid) rather than the four b-trees a rowid table with time indexes would.
CREATE TABLE events (
    cid             TEXT NOT NULL,
    channel         TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    query           TEXT NOT NULL,
    -- Name/value byte pairs in arrival order, encoded by store::headers.
    headers         BLOB NOT NULL,
    body            BLOB NOT NULL,
    peer            TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    dedup_key       TEXT,
    dedup_window_ms INTEGER,
    PRIMARY KEY (received_at, cid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_cid ON events (cid);

-- Dedup keys live apart from events so that a key can expire (and be taken over by a
-- new event) without touching the event it first pointed at, and so that purging an
-- event does not reopen its key before the window ends.
CREATE TABLE dedup (
    channel    TEXT NOT NULL,
    key        TEXT NOT NULL,
    cid        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (channel, key)
) WITHOUT ROWID;
CREATE INDEX dedup_expires ON dedup (expires_at);

-- One invocation of a service. `input` says where its input is: the event with the
-- same cid, or the inline `payload`. A replay makes a new job and links the two through
-- `replay_of` / `replaced_by`; the job with `replaced_by IS NULL` is the head of a chain.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    cid              TEXT NOT NULL,
    service          TEXT NOT NULL,
    input            TEXT NOT NULL CHECK (input IN ('event', 'payload')),
    payload          BLOB,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_error       TEXT,
    replay_of        TEXT,
    replaced_by      TEXT,
    CHECK ((input = 'payload') = (payload IS NOT NULL))
);
-- Partial indexes keep the claim queries O(log n) however many finished jobs there are.
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE state = 'pending';
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_cid ON jobs (cid);
CREATE INDEX jobs_dead ON jobs (updated_at) WHERE state = 'dead' AND replaced_by IS NULL;

-- One finished try of a job. A try that is still running has no row yet.
CREATE TABLE attempts (
    job_id      TEXT NOT NULL,
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'permanent')),
    error       TEXT,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;
