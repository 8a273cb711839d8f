//! The operator's writes: replay, retention purge and dead-job purge.
//!
//! Each works in chunks of bounded size, one chunk per group-commit transaction, so that a
//! replay of a million dead jobs or a large purge never holds the write lock for long and
//! inbound events keep committing in between.

use rusqlite::{Connection, params};

use super::conn::classify;
use crate::store::{Purged, StoreError, UnixMs, new_job_id};

/// Jobs (or events) handled per chunk.
pub(super) const CHUNK: u32 = 1000;

/// Selects replayable heads among the event jobs of given cids; a cid without event jobs
/// selects its `invoke_async` jobs instead (see `ReplaySelector::Cids`).
const BY_CID: &str = "SELECT id FROM jobs
     WHERE cid = ?1 AND replaced_by IS NULL AND state IN ('done', 'dead')
       AND (input = 'event'
            OR NOT EXISTS (SELECT 1 FROM jobs k WHERE k.cid = ?1 AND k.input = 'event'))
     ORDER BY id";

/// Dead heads with ids in (?1, ?2], by id.
const DEAD: &str = "SELECT id FROM jobs
     WHERE state = 'dead' AND replaced_by IS NULL AND id > ?1 AND id <= ?2
     ORDER BY id LIMIT ?3";

/// Finished event-job heads of one channel's events since a time, ids in (?1, ?2], by id.
const CHANNEL: &str = "SELECT j.id FROM events e JOIN jobs j ON j.cid = e.cid
     WHERE e.channel = ?4 AND e.received_at >= ?5 AND j.input = 'event'
       AND j.replaced_by IS NULL AND j.state IN ('done', 'dead')
       AND j.id > ?1 AND j.id <= ?2
     ORDER BY j.id LIMIT ?3";

/// One step of a scan-style replay (`Dead` or `Channel`).
pub(super) enum Scan {
    Dead,
    Channel { channel: String, since: UnixMs },
}

/// Where a scan has got to. Replays walk jobs by id (UUIDv7 ids sort by creation time) up to
/// the largest id seen when the replay began, so the jobs a replay creates, which could
/// themselves finish before the scan ends, are never replayed again by the same replay.
#[derive(Debug, Clone, Default)]
pub(super) struct Cursor {
    pub after: String,
    pub upto: Option<String>,
}

/// Replays the next chunk of a scan; returns how many jobs it replayed. Fewer than
/// [`CHUNK`] means the scan is complete.
pub(super) fn replay_scan(
    conn: &Connection,
    scan: &Scan,
    cursor: &mut Cursor,
    now: UnixMs,
) -> Result<u32, StoreError> {
    let upto = match &cursor.upto {
        Some(upto) => upto.clone(),
        None => {
            let upto: String = conn
                .query_row("SELECT COALESCE(MAX(id), '') FROM jobs", [], |row| {
                    row.get(0)
                })
                .map_err(classify)?;
            cursor.upto = Some(upto.clone());
            upto
        }
    };
    let ids = {
        let mut stmt = conn
            .prepare_cached(match scan {
                Scan::Dead => DEAD,
                Scan::Channel { .. } => CHANNEL,
            })
            .map_err(classify)?;
        let rows = match scan {
            Scan::Dead => stmt.query_map(params![cursor.after, upto, CHUNK], first_text),
            Scan::Channel { channel, since } => stmt.query_map(
                params![cursor.after, upto, CHUNK, channel, since],
                first_text,
            ),
        }
        .map_err(classify)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(classify)?
    };
    for id in &ids {
        replay_one(conn, id, now)?;
    }
    if let Some(last) = ids.last() {
        cursor.after = last.clone();
    }
    Ok(ids.len() as u32)
}

/// Replays the jobs of these cids.
pub(super) fn replay_cids(
    conn: &Connection,
    cids: &[String],
    now: UnixMs,
) -> Result<u64, StoreError> {
    let mut replayed = 0;
    for cid in cids {
        let ids = select_ids(conn, BY_CID, cid)?;
        for id in &ids {
            replay_one(conn, id, now)?;
        }
        replayed += ids.len() as u64;
    }
    Ok(replayed)
}

/// How many jobs a replay of these cids would create; for a progress bar.
pub(super) fn count_cids(conn: &Connection, cids: &[String]) -> Result<u64, StoreError> {
    let mut count = 0;
    for cid in cids {
        count += select_ids(conn, BY_CID, cid)?.len() as u64;
    }
    Ok(count)
}

/// How many jobs a scan-style replay would create; for a progress bar.
pub(super) fn count_scan(conn: &Connection, scan: &Scan) -> Result<u64, StoreError> {
    let count = match scan {
        Scan::Dead => conn.query_row(
            "SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND replaced_by IS NULL",
            [],
            |row| row.get(0),
        ),
        Scan::Channel { channel, since } => conn.query_row(
            "SELECT COUNT(*) FROM events e JOIN jobs j ON j.cid = e.cid
             WHERE e.channel = ?1 AND e.received_at >= ?2 AND j.input = 'event'
               AND j.replaced_by IS NULL AND j.state IN ('done', 'dead')",
            params![channel, since],
            |row| row.get(0),
        ),
    };
    count.map(|n: i64| n as u64).map_err(classify)
}

fn first_text(row: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    row.get(0)
}

fn select_ids(conn: &Connection, sql: &str, key: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(classify)?;
    let rows = stmt.query_map([key], |row| row.get(0)).map_err(classify)?;
    rows.collect::<Result<Vec<String>, _>>().map_err(classify)
}

/// Creates the replay of one job and links the two.
fn replay_one(conn: &Connection, old: &str, now: UnixMs) -> Result<(), StoreError> {
    let new = new_job_id();
    conn.prepare_cached(
        "INSERT INTO jobs (id, cid, service, input, payload, state, attempts, max_attempts,
                           next_attempt_at, created_at, updated_at, replay_of)
         SELECT ?1, cid, service, input, payload, 'pending', 0, max_attempts, ?2, ?2, ?2, id
         FROM jobs WHERE id = ?3",
    )
    .and_then(|mut stmt| stmt.execute(params![new, now, old]))
    .map_err(classify)?;
    conn.prepare_cached("UPDATE jobs SET replaced_by = ?1 WHERE id = ?2")
        .and_then(|mut stmt| stmt.execute(params![new, old]))
        .map_err(classify)?;
    Ok(())
}

/// Removes up to [`CHUNK`] finished events received before `before` (with their jobs and
/// attempts), finished `invoke_async` jobs without an event, and dedup keys expired by
/// `now`. An event stays while any job under its cid is pending, running, or dead and not
/// replayed: dead jobs wait for the operator.
pub(super) fn purge_chunk(
    conn: &Connection,
    before: UnixMs,
    now: UnixMs,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    let cids = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT cid FROM events e
                 WHERE received_at < ?1
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.cid = e.cid
                                   AND (j.state IN ('pending', 'running')
                                        OR (j.state = 'dead' AND j.replaced_by IS NULL)))
                 ORDER BY received_at LIMIT ?2",
            )
            .map_err(classify)?;
        let rows = stmt
            .query_map(params![before, CHUNK], |row| row.get(0))
            .map_err(classify)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(classify)?
    };
    for cid in &cids {
        purged.jobs += delete_jobs_of_cid(conn, cid)?;
        purged.events += conn
            .prepare_cached("DELETE FROM events WHERE cid = ?1")
            .and_then(|mut stmt| stmt.execute([cid]))
            .map_err(classify)? as u64;
    }
    let ids = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM jobs j
                 WHERE input = 'payload' AND updated_at < ?1
                   AND (state = 'done' OR replaced_by IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.cid = j.cid)
                 LIMIT ?2",
            )
            .map_err(classify)?;
        let rows = stmt
            .query_map(params![before, CHUNK], |row| row.get(0))
            .map_err(classify)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(classify)?
    };
    for id in &ids {
        purged.jobs += delete_job(conn, id)?;
    }
    purged.dedup_keys = conn
        .prepare_cached(
            "DELETE FROM dedup WHERE (channel, key) IN
                 (SELECT channel, key FROM dedup WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![now, CHUNK]))
        .map_err(classify)? as u64;
    Ok(purged)
}

/// Removes up to [`CHUNK`] dead jobs (heads not replayed) last changed before `before`,
/// together with the jobs they replayed, and their events once no job refers to them.
pub(super) fn purge_dead_chunk(conn: &Connection, before: UnixMs) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    let heads = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, cid FROM jobs
                 WHERE state = 'dead' AND replaced_by IS NULL AND updated_at < ?1
                 LIMIT ?2",
            )
            .map_err(classify)?;
        let rows = stmt
            .query_map(params![before, CHUNK], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(classify)?;
        rows.collect::<Result<Vec<(String, String)>, _>>()
            .map_err(classify)?
    };
    for (head, cid) in &heads {
        // The head and every job it replays, back to the original.
        let chain = select_ids(
            conn,
            "WITH RECURSIVE chain(id) AS (
                 SELECT ?1
                 UNION
                 SELECT j.replay_of FROM jobs j JOIN chain c ON j.id = c.id
                 WHERE j.replay_of IS NOT NULL)
             SELECT id FROM chain",
            head,
        )?;
        for id in &chain {
            purged.jobs += delete_job(conn, id)?;
        }
        purged.events += conn
            .prepare_cached("DELETE FROM events WHERE cid = ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE cid = ?1)")
            .and_then(|mut stmt| stmt.execute([cid]))
            .map_err(classify)? as u64;
    }
    Ok(purged)
}

fn delete_jobs_of_cid(conn: &Connection, cid: &str) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE cid = ?1)",
    )
    .and_then(|mut stmt| stmt.execute([cid]))
    .map_err(classify)?;
    conn.prepare_cached("DELETE FROM jobs WHERE cid = ?1")
        .and_then(|mut stmt| stmt.execute([cid]))
        .map(|n| n as u64)
        .map_err(classify)
}

fn delete_job(conn: &Connection, id: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM attempts WHERE job_id = ?1")
        .and_then(|mut stmt| stmt.execute([id]))
        .map_err(classify)?;
    conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id]))
        .map(|n| n as u64)
        .map_err(classify)
}
