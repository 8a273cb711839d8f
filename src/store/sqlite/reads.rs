//! The SQL of every read: event lists, one cid's trace, and counts. These run on reader
//! connections (WAL snapshots), never on the writer thread, so the CLI and the admin API
//! cannot slow down ingest.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params_from_iter, types::Value};

use super::conn::classify;
use crate::store::{
    Attempt, Dedup, Event, EventFilter, EventSummary, Headers, Job, JobCounts, JobRecord, JobState,
    MAX_LIST_LIMIT, Outcome, Stats, StoreError, Trace,
};

/// One event by cid, in the column order [`event_from_row`] expects.
pub(super) const EVENT_COLUMNS_BY_CID: &str =
    "SELECT cid, channel, method, path, query, headers, body, peer,
            received_at, dedup_key, dedup_window_ms
     FROM events WHERE cid = ?1";

/// The status of event `e`: its most active head job (see `EventSummary::status`).
const STATUS: &str = "(SELECT CASE MAX(CASE j.state WHEN 'done' THEN 1 WHEN 'dead' THEN 2
                                          WHEN 'pending' THEN 3 WHEN 'running' THEN 4 END)
             WHEN 1 THEN 'done' WHEN 2 THEN 'dead' WHEN 3 THEN 'pending' WHEN 4 THEN 'running' END
      FROM jobs j WHERE j.cid = e.cid AND j.input = 'event' AND j.replaced_by IS NULL)";

pub(super) fn event_from_row(row: &Row<'_>) -> Result<Event, StoreError> {
    let blob: Vec<u8> = row.get(5).map_err(classify)?;
    let body: Vec<u8> = row.get(6).map_err(classify)?;
    let dedup_key: Option<String> = row.get(9).map_err(classify)?;
    let window: Option<i64> = row.get(10).map_err(classify)?;
    Ok(Event {
        cid: row.get(0).map_err(classify)?,
        channel: row.get(1).map_err(classify)?,
        method: row.get(2).map_err(classify)?,
        path: row.get(3).map_err(classify)?,
        query: row.get(4).map_err(classify)?,
        headers: Headers::from_blob(blob)?,
        body: body.into(),
        peer: row.get(7).map_err(classify)?,
        received_at: row.get(8).map_err(classify)?,
        dedup: dedup_key.map(|key| Dedup {
            key,
            window: Duration::from_millis(window.unwrap_or(0).max(0) as u64),
        }),
    })
}

/// Lists events, newest first.
pub(super) fn list_events(
    conn: &Connection,
    filter: &EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(channel) = &filter.channel {
        values.push(Value::Text(channel.clone()));
        conditions.push(format!("channel = ?{}", values.len()));
    }
    if let Some(since) = filter.since {
        values.push(Value::Integer(since));
        conditions.push(format!("received_at >= ?{}", values.len()));
    }
    if let Some(status) = filter.status {
        values.push(Value::Text(status.as_str().into()));
        conditions.push(format!("status = ?{}", values.len()));
    }
    values.push(Value::Integer(i64::from(filter.limit.min(MAX_LIST_LIMIT))));
    let limit = values.len();
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT cid, channel, method, path, received_at, body_len, status FROM
             (SELECT e.cid, e.channel, e.method, e.path, e.received_at,
                     length(e.body) AS body_len, {STATUS} AS status
              FROM events e)
         {filter} ORDER BY received_at DESC, cid DESC LIMIT ?{limit}"
    );
    let mut stmt = conn.prepare(&sql).map_err(classify)?;
    let mut rows = stmt.query(params_from_iter(values)).map_err(classify)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(classify)? {
        let status: Option<String> = row.get(6).map_err(classify)?;
        out.push(EventSummary {
            cid: row.get(0).map_err(classify)?,
            channel: row.get(1).map_err(classify)?,
            method: row.get(2).map_err(classify)?,
            path: row.get(3).map_err(classify)?,
            received_at: row.get(4).map_err(classify)?,
            body_len: row.get::<_, i64>(5).map_err(classify)? as u64,
            status: status.as_deref().map(parse_state).transpose()?,
        });
    }
    Ok(out)
}

/// Everything under one cid, read in one snapshot; `None` when nothing carries it.
pub(super) fn trace(conn: &Connection, cid: &str) -> Result<Option<Trace>, StoreError> {
    let tx = conn.unchecked_transaction().map_err(classify)?;
    let event = tx
        .query_row(EVENT_COLUMNS_BY_CID, [cid], |row| Ok(event_from_row(row)))
        .optional()
        .map_err(classify)?
        .transpose()?;
    let jobs = {
        let mut stmt = tx
            .prepare(
                "SELECT id, cid, service, payload, state, attempts, max_attempts, next_attempt_at,
                        lease_owner, lease_expires_at, created_at, updated_at, last_error,
                        replay_of, replaced_by
                 FROM jobs WHERE cid = ?1 ORDER BY created_at, id",
            )
            .map_err(classify)?;
        let mut rows = stmt.query([cid]).map_err(classify)?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next().map_err(classify)? {
            jobs.push(job_from_row(row)?);
        }
        jobs
    };
    let mut records = Vec::with_capacity(jobs.len());
    for job in jobs {
        let attempts = attempts_of(&tx, &job.id)?;
        records.push(JobRecord { job, attempts });
    }
    tx.finish().map_err(classify)?;
    if event.is_none() && records.is_empty() {
        return Ok(None);
    }
    Ok(Some(Trace {
        cid: cid.to_string(),
        event,
        jobs: records,
    }))
}

fn job_from_row(row: &Row<'_>) -> Result<Job, StoreError> {
    let payload: Option<Vec<u8>> = row.get(3).map_err(classify)?;
    let state: String = row.get(4).map_err(classify)?;
    Ok(Job {
        id: row.get(0).map_err(classify)?,
        cid: row.get(1).map_err(classify)?,
        service: row.get(2).map_err(classify)?,
        payload: payload.map(Into::into),
        state: parse_state(&state)?,
        attempts: row.get(5).map_err(classify)?,
        max_attempts: row.get(6).map_err(classify)?,
        next_attempt_at: row.get(7).map_err(classify)?,
        lease_owner: row.get(8).map_err(classify)?,
        lease_expires_at: row.get(9).map_err(classify)?,
        created_at: row.get(10).map_err(classify)?,
        updated_at: row.get(11).map_err(classify)?,
        last_error: row.get(12).map_err(classify)?,
        replay_of: row.get(13).map_err(classify)?,
        replaced_by: row.get(14).map_err(classify)?,
    })
}

fn attempts_of(conn: &Connection, job_id: &str) -> Result<Vec<Attempt>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT number, started_at, finished_at, outcome, error
             FROM attempts WHERE job_id = ?1 ORDER BY number",
        )
        .map_err(classify)?;
    let mut rows = stmt.query([job_id]).map_err(classify)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(classify)? {
        let outcome: String = row.get(3).map_err(classify)?;
        out.push(Attempt {
            job_id: job_id.to_string(),
            number: row.get(0).map_err(classify)?,
            started_at: row.get(1).map_err(classify)?,
            finished_at: row.get(2).map_err(classify)?,
            outcome: Outcome::parse(&outcome).ok_or_else(|| {
                StoreError::corrupt(format!("unknown attempt outcome {outcome:?}"))
            })?,
            error: row.get(4).map_err(classify)?,
        });
    }
    Ok(out)
}

/// Counts events, and jobs by state (heads of replay chains only).
pub(super) fn stats(conn: &Connection) -> Result<Stats, StoreError> {
    let tx = conn.unchecked_transaction().map_err(classify)?;
    let events = tx
        .query_row("SELECT COUNT(*) FROM events", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(classify)? as u64;
    let mut jobs = JobCounts::default();
    {
        let mut stmt = tx
            .prepare("SELECT state, COUNT(*) FROM jobs WHERE replaced_by IS NULL GROUP BY state")
            .map_err(classify)?;
        let mut rows = stmt.query([]).map_err(classify)?;
        while let Some(row) = rows.next().map_err(classify)? {
            let state: String = row.get(0).map_err(classify)?;
            let count = row.get::<_, i64>(1).map_err(classify)? as u64;
            match parse_state(&state)? {
                JobState::Pending => jobs.pending = count,
                JobState::Running => jobs.running = count,
                JobState::Done => jobs.done = count,
                JobState::Dead => jobs.dead = count,
            }
        }
    }
    tx.finish().map_err(classify)?;
    Ok(Stats { events, jobs })
}

fn parse_state(text: &str) -> Result<JobState, StoreError> {
    JobState::parse(text).ok_or_else(|| StoreError::corrupt(format!("unknown job state {text:?}")))
}
