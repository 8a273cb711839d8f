//! The SQL of every write. Each function runs on the writer thread inside the current
//! group-commit transaction (see `writer`), so it may assume it is alone. A function that
//! fails for its own reasons may leave rows half-written: the writer rolls the transaction
//! back and runs the batch again without it.

use rusqlite::{Connection, OptionalExtension, params};

use super::conn::classify;
use super::reads::event_from_row;
use super::tx::Tx;
use crate::store::{
    Accepted, ClaimRequest, Claimed, ClaimedJob, Completed, Completion, Event, JobInput, NewJob,
    Next, StoreError, UnixMs,
};

/// Error text kept per attempt, at most: enough to diagnose, bounded so that a service
/// returning a huge error cannot bloat the database.
const MAX_ERROR_BYTES: usize = 4096;

/// The message recorded on an attempt whose worker vanished.
pub(super) const LEASE_LOST: &str = "lease expired: the worker was lost before it finished";

/// Stores the event and its job, unless the dedup key is taken.
pub(super) fn accept(tx: &Tx<'_>, event: &Event, job: &NewJob) -> Result<Accepted, StoreError> {
    if let Some(dedup) = &event.dedup {
        let window = i64::try_from(dedup.window.as_millis()).unwrap_or(i64::MAX);
        let expires_at = event.received_at.saturating_add(window);
        // Race-free claim of the key: insert it, or take it over only if it has expired.
        // When the key is live, the upsert changes nothing and returns no row. PostgreSQL
        // runs the same statement atomically under its unique index.
        let won: Option<String> = tx
            .prepare_cached(
                "INSERT INTO dedup (channel, key, cid, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (channel, key) DO UPDATE
                     SET cid = excluded.cid, expires_at = excluded.expires_at
                     WHERE dedup.expires_at <= ?5
                 RETURNING cid",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![
                        event.channel,
                        dedup.key,
                        event.cid,
                        expires_at,
                        event.received_at
                    ],
                    |row| row.get(0),
                )
                .optional()
            })
            .map_err(classify)?;
        if won.is_none() {
            let first_cid = tx
                .prepare_cached("SELECT cid FROM dedup WHERE channel = ?1 AND key = ?2")
                .and_then(|mut stmt| {
                    stmt.query_row(params![event.channel, dedup.key], |row| row.get(0))
                })
                .map_err(classify)?;
            return Ok(Accepted::Duplicate { first_cid });
        }
    }
    tx.with(
        "INSERT INTO events (cid, channel, method, path, query, headers, body, peer, received_at,
                             dedup_key, dedup_window_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        |stmt| {
            stmt.execute(params![
                event.cid,
                event.channel,
                event.method,
                event.path,
                event.query,
                event.headers.as_blob(),
                &event.body[..],
                event.peer,
                event.received_at,
                event.dedup.as_ref().map(|d| &d.key),
                event
                    .dedup
                    .as_ref()
                    .map(|d| i64::try_from(d.window.as_millis()).unwrap_or(i64::MAX)),
            ])
        },
    )
    .map_err(classify)?;
    insert_job(tx, &event.cid, None, job)?;
    Ok(Accepted::Stored)
}

/// Stores a job whose input is an inline payload.
pub(super) fn enqueue(
    tx: &Tx<'_>,
    cid: &str,
    payload: &[u8],
    job: &NewJob,
) -> Result<(), StoreError> {
    insert_job(tx, cid, Some(payload), job)
}

fn insert_job(
    tx: &Tx<'_>,
    cid: &str,
    payload: Option<&[u8]>,
    job: &NewJob,
) -> Result<(), StoreError> {
    tx.with(
        "INSERT INTO jobs (id, cid, service, input, payload, state, attempts, max_attempts,
                           next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7, ?8, ?8)",
        |stmt| {
            stmt.execute(params![
                job.id,
                cid,
                job.service,
                if payload.is_some() {
                    "payload"
                } else {
                    "event"
                },
                payload,
                job.max_attempts,
                job.run_at,
                job.created_at,
            ])
        },
    )
    .map(drop)
    .map_err(classify)
}

/// Takes due jobs under a lease, after returning jobs whose lease ran out to the queue.
///
/// A plain indexed SELECT and then one UPDATE by rowid per job, rather than one
/// `UPDATE … WHERE rowid IN (SELECT …) RETURNING …`: SQLite runs the latter through three
/// temporary b-trees (the IN set, the rows to change, the returned rows), each built and
/// freed on every claim. The writer thread is alone in its transaction, so nothing can take
/// a row between the SELECT and its UPDATE.
pub(super) fn claim(conn: &Connection, req: &ClaimRequest) -> Result<Claimed, StoreError> {
    if leases_ran_out(conn, req.now)? {
        expire_leases(conn, req.now, None)?;
    }
    let mut rows = Vec::new();
    {
        let mut due = conn
            .prepare_cached(
                "SELECT rowid, id, cid, service, input, payload, attempts, max_attempts
                 FROM jobs
                 WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at LIMIT ?2",
            )
            .map_err(classify)?;
        let mut found = due.query(params![req.now, req.limit]).map_err(classify)?;
        while let Some(row) = found.next().map_err(classify)? {
            let input: String = row.get(4).map_err(classify)?;
            let payload: Option<Vec<u8>> = row.get(5).map_err(classify)?;
            rows.push((
                row.get::<_, i64>(0).map_err(classify)?,
                row.get::<_, String>(1).map_err(classify)?,
                row.get::<_, String>(2).map_err(classify)?,
                row.get::<_, String>(3).map_err(classify)?,
                (input == "payload").then(|| payload.unwrap_or_default()),
                row.get::<_, u32>(6).map_err(classify)?.saturating_add(1),
                row.get::<_, u32>(7).map_err(classify)?,
            ));
        }
    }
    let mut take = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = 'running', attempts = ?2, lease_owner = ?3, lease_expires_at = ?4,
                 updated_at = ?5
             WHERE rowid = ?1",
        )
        .map_err(classify)?;
    let mut jobs = Vec::with_capacity(rows.len());
    for (rowid, id, cid, service, payload, attempt, max_attempts) in rows {
        take.execute(params![rowid, attempt, req.owner, req.lease_until, req.now])
            .map_err(classify)?;
        let input = match payload {
            Some(payload) => JobInput::Payload(payload.into()),
            None => match load_event(conn, &cid)? {
                Some(event) => JobInput::Event(Box::new(event)),
                None => {
                    // Purges never remove an event with unfinished jobs, so this is damage
                    // from outside; the job cannot run, and retrying will not help.
                    kill(
                        conn,
                        &id,
                        req.now,
                        "the job's event is missing from the store",
                    )?;
                    continue;
                }
            },
        };
        jobs.push(ClaimedJob {
            id,
            cid,
            service,
            attempt,
            max_attempts,
            input,
        });
    }
    let next_due = conn
        .prepare_cached(
            "SELECT MIN(t) FROM (
                 SELECT MIN(next_attempt_at) AS t FROM jobs WHERE state = 'pending'
                 UNION ALL
                 SELECT MIN(lease_expires_at) FROM jobs WHERE state = 'running')",
        )
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(classify)?;
    Ok(Claimed { jobs, next_due })
}

fn load_event(conn: &Connection, cid: &str) -> Result<Option<Event>, StoreError> {
    conn.prepare_cached(super::reads::EVENT_COLUMNS_BY_CID)
        .and_then(|mut stmt| {
            stmt.query_row([cid], |row| Ok(event_from_row(row)))
                .optional()
        })
        .map_err(classify)?
        .transpose()
}

fn kill(conn: &Connection, id: &str, now: UnixMs, error: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,
                         updated_at = ?2, last_error = ?3
         WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![id, now, error]))
    .map(drop)
    .map_err(classify)
}

/// Whether any running job's lease ran out by `now`: one probe of the lease index, so
/// that a claim pays for the two statements of [`expire_leases`] only when there is
/// something to expire.
fn leases_ran_out(conn: &Connection, now: UnixMs) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at <= ?1)",
    )
    .and_then(|mut stmt| stmt.query_row([now], |row| row.get(0)))
    .map_err(classify)
}

/// Treats running jobs as abandoned: those whose lease ran out by `now`, or, with an
/// `owner`, every job that owner holds (its process restarted). The lost try is recorded
/// as an attempt and counts against `max_attempts`, so a job that kills its worker every
/// time ends up dead instead of looping forever.
pub(super) fn expire_leases(
    conn: &Connection,
    now: UnixMs,
    owner: Option<&str>,
) -> Result<u64, StoreError> {
    let filter = match owner {
        None => "state = 'running' AND lease_expires_at <= ?1",
        Some(_) => "state = 'running' AND lease_owner = ?3",
    };
    let record = format!(
        "INSERT OR IGNORE INTO attempts (job_id, number, started_at, finished_at, outcome, error)
         SELECT id, attempts, updated_at, ?1, 'error', ?2 FROM jobs WHERE {filter}"
    );
    let requeue = format!(
        "UPDATE jobs
         SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
             next_attempt_at = ?1, lease_owner = NULL, lease_expires_at = NULL,
             updated_at = ?1, last_error = ?2
         WHERE {filter}"
    );
    // SQLite insists that every parameter given is used, hence two parameter lists.
    let run = |sql: &str| -> Result<usize, StoreError> {
        let mut stmt = conn.prepare_cached(sql).map_err(classify)?;
        match owner {
            None => stmt.execute(params![now, LEASE_LOST]),
            Some(owner) => stmt.execute(params![now, LEASE_LOST, owner]),
        }
        .map_err(classify)
    };
    run(&record)?;
    let changed = run(&requeue)?;
    Ok(changed as u64)
}

/// Puts an owner's running jobs back to pending, due now, without counting the interrupted
/// try: the graceful-shutdown path, where the worker stopped them, not the job.
pub(super) fn release(conn: &Connection, owner: &str, now: UnixMs) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "UPDATE jobs
         SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_at = ?2,
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
         WHERE state = 'running' AND lease_owner = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![owner, now]))
    .map(|n| n as u64)
    .map_err(classify)
}

/// Records an attempt and moves the job on, if the caller still holds its lease.
pub(super) fn complete(conn: &Connection, done: &Completion) -> Result<Completed, StoreError> {
    let error = done.error.as_deref().map(truncate);
    let (state, next_at) = match done.next {
        Next::Done => ("done", done.finished_at),
        Next::Retry { at } => ("pending", at),
        Next::Dead => ("dead", done.finished_at),
    };
    // The lease check: same owner, same attempt, still running. If the lease expired and
    // another worker took the job, this changes nothing.
    let changed = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = ?1, next_attempt_at = ?2, lease_owner = NULL, lease_expires_at = NULL,
                 updated_at = ?3, last_error = ?4
             WHERE id = ?5 AND state = 'running' AND lease_owner = ?6 AND attempts = ?7",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                state,
                next_at,
                done.finished_at,
                error,
                done.job_id,
                done.owner,
                done.attempt
            ])
        })
        .map_err(classify)?;
    if changed == 0 {
        return Ok(Completed::LeaseLost);
    }
    conn.prepare_cached(
        "INSERT INTO attempts (job_id, number, started_at, finished_at, outcome, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            done.job_id,
            done.attempt,
            done.started_at,
            done.finished_at,
            done.outcome.as_str(),
            error
        ])
    })
    .map_err(classify)?;
    Ok(Completed::Recorded)
}

/// Cuts `text` to at most [`MAX_ERROR_BYTES`], on a character boundary.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_ERROR_BYTES {
        return text;
    }
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_respects_char_boundaries() {
        let long = "é".repeat(5000);
        let cut = truncate(&long);
        assert!(cut.len() <= super::MAX_ERROR_BYTES);
        assert!(cut.len() >= super::MAX_ERROR_BYTES - 1);
        assert_eq!(truncate("short"), "short");
    }
}
