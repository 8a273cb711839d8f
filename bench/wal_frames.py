#!/usr/bin/env python3
"""WAL frames (pages) written per commit by a batch of accepted events, on a model of
Inlet's schema in Python's sqlite3: the events and jobs tables as in migrations/sqlite, rows
of the benchmark's sizes (body 130 bytes, headers 178), 200 commits of warm-up, then 300
commits measured from the WAL's size. For weighing schema changes before making them.

    bench/wal_frames.py [EVENTS_LAYOUT] [BATCH]      EVENTS_LAYOUT: current | rowid
    PAGE_SIZE=8192 bench/wal_frames.py current 29
"""
import os
import sqlite3
import sys
import tempfile
import time
import uuid

EVENTS = {
    "current": """
        CREATE TABLE events (cid TEXT NOT NULL, channel TEXT NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, query TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,
            peer TEXT NOT NULL, received_at INTEGER NOT NULL, dedup_key TEXT,
            dedup_window_ms INTEGER, PRIMARY KEY (received_at, cid)) WITHOUT ROWID;
        CREATE UNIQUE INDEX events_cid ON events (cid);""",
    "rowid": """
        CREATE TABLE events (cid TEXT NOT NULL, channel TEXT NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, query TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,
            peer TEXT NOT NULL, received_at INTEGER NOT NULL, dedup_key TEXT,
            dedup_window_ms INTEGER);
        CREATE UNIQUE INDEX events_cid ON events (cid);""",
}
JOBS = """
    CREATE TABLE jobs (id TEXT PRIMARY KEY, cid TEXT NOT NULL, service TEXT NOT NULL,
        input TEXT NOT NULL, payload BLOB, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, lease_owner TEXT,
        lease_expires_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        last_error TEXT, replay_of TEXT, replaced_by TEXT);
    CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
    CREATE INDEX jobs_cid ON jobs (cid);
    CREATE INDEX jobs_dead ON jobs (updated_at) WHERE state = 'dead' AND replaced_by IS NULL;"""


def time_ordered_id():
    """32 hex digits, milliseconds first, like Inlet's UUIDv7 cids and job ids."""
    return format(int(time.time() * 1000), "012x") + uuid.uuid4().hex[12:]


def main():
    layout = sys.argv[1] if len(sys.argv) > 1 else "current"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 29
    page_size = int(os.environ.get("PAGE_SIZE", "4096"))
    if layout not in EVENTS:
        sys.exit(f"unknown layout {layout!r}; one of: {', '.join(EVENTS)}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.db")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute(f"PRAGMA page_size = {page_size}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.executescript(EVENTS[layout] + JOBS)

        def commit_batch():
            db.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                now = int(time.time() * 1000)
                cid = time_ordered_id()
                db.execute(
                    "INSERT INTO events (cid, channel, method, path, query, headers, body, peer,"
                    " received_at) VALUES (?, 'bench-async', 'POST', '/bench', '', ?, ?,"
                    " '127.0.0.1:41928', ?)",
                    (cid, os.urandom(178), os.urandom(130), now),
                )
                db.execute(
                    "INSERT INTO jobs (id, cid, service, input, state, attempts, max_attempts,"
                    " next_attempt_at, created_at, updated_at)"
                    " VALUES (?, ?, 'inlet.noop', 'event', 'pending', 0, 12, ?, ?, ?)",
                    ("job_" + time_ordered_id(), cid, now, now, now),
                )
            db.execute("COMMIT")

        for _ in range(200):
            commit_batch()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        commits = 300
        for _ in range(commits):
            commit_batch()
        frames = (os.path.getsize(path + "-wal") - 32) / (page_size + 24)
        db.close()
    per_commit = frames / commits
    print(
        f"{layout}, {page_size}-byte pages, {batch} events per commit: {per_commit:.1f} frames"
        f" per commit, {per_commit / batch:.2f} per event,"
        f" {per_commit * page_size / batch / 1024:.1f} KiB written per event"
    )


if __name__ == "__main__":
    main()
