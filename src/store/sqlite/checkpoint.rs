//! Checkpoints off the writer's path.
//!
//! In WAL mode, commits append to the `-wal` file and a checkpoint later copies those
//! pages into the database file (and, with `synchronous = FULL`, fsyncs it). SQLite's
//! default runs that checkpoint inside whichever commit crosses 1000 pages, so every few
//! thousand events one caller's batch waits for the copy. Here the writer turns automatic
//! checkpoints off and nudges this thread after its commits instead; the thread runs
//! PASSIVE checkpoints on its own connection, which never block the writer.
//!
//! A passive checkpoint can fall behind a writer that never pauses. If the WAL still holds
//! more than [`RESTART_FRAMES`] after one, the thread runs a RESTART checkpoint, which
//! waits for the writer between two transactions, so the WAL cannot grow without bound.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::conn::{self, Role};
use crate::store::{StoreError, StoreOptions};

/// Checkpoint at most this often: each pass has a fixed cost (syncs), so under load it is
/// better to copy a bigger run of pages at once.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// WAL frames (pages) past which the checkpointer stops being polite.
const RESTART_FRAMES: i64 = 16 * 1024;

/// The writer's side: a nudge after each commit that changed something.
pub(super) struct Nudge(SyncSender<()>);

impl Nudge {
    pub fn send(&self) {
        // A nudge already waiting is as good as two; a gone thread is logged where it died.
        if let Err(TrySendError::Disconnected(())) = self.0.try_send(()) {
            tracing::debug!(message = "The store's checkpoint thread has stopped.");
        }
    }
}

/// Starts the thread. It stops when the [`Nudge`] is dropped (the writer stopped).
pub(super) fn start(path: PathBuf, options: &StoreOptions) -> Result<Nudge, StoreError> {
    let conn = conn::open(&path, options, Role::Checkpointer)?;
    let (nudge, nudged) = sync_channel(1);
    std::thread::Builder::new()
        .name("inlet-store-checkpoint".into())
        .spawn(move || run(&conn, &nudged))
        .map_err(|err| StoreError::Backend {
            message: format!("cannot start the store checkpoint thread: {err}"),
            source: Some(std::sync::Arc::new(err)),
        })?;
    Ok(Nudge(nudge))
}

fn run(conn: &Connection, nudged: &Receiver<()>) {
    let mut last = Instant::now();
    loop {
        match nudged.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let since = last.elapsed();
        if since < MIN_INTERVAL {
            std::thread::sleep(MIN_INTERVAL - since);
        }
        last = Instant::now();
        match checkpoint(conn, "PASSIVE") {
            Ok(left) if left > RESTART_FRAMES => {
                if let Err(error) = checkpoint(conn, "RESTART") {
                    tracing::warn!(message = "WAL restart checkpoint failed.", %error);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(message = "WAL checkpoint failed; will retry.", %error),
        }
    }
}

/// Runs one checkpoint; returns how many WAL frames it could not copy yet.
fn checkpoint(conn: &Connection, mode: &str) -> Result<i64, StoreError> {
    let (log, done): (i64, i64) = conn
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            Ok((row.get(1)?, row.get(2)?))
        })
        .map_err(conn::classify)?;
    Ok((log - done).max(0))
}
