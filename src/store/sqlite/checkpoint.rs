//! Checkpoints off the writer's path.
//!
//! In WAL mode, commits append to the `-wal` file and a checkpoint later copies those
//! pages into the database file (and, with `synchronous = FULL`, fsyncs it). SQLite's
//! default runs that checkpoint inside whichever commit crosses 1000 pages, so every few
//! thousand events one caller's batch waits for the copy. Here the writer turns automatic
//! checkpoints off and nudges this thread after its commits instead; the thread runs
//! PASSIVE checkpoints on its own connection, which never block the writer.
//!
//! A passive checkpoint copies pages but cannot rewind the WAL: SQLite starts the log over
//! only when a write transaction begins with every frame already copied, which a writer
//! that never pauses does not do. So once the WAL holds more than [`REWIND_FRAMES`], this
//! thread raises a flag, and the writer, between two transactions, runs one more passive
//! checkpoint itself (only the few frames written since this thread's pass are left to
//! copy), so that its next transaction writes from the start of the file. A RESTART
//! checkpoint would do the same from here, but it blocks the writer while any reader (a
//! long CLI query) is active; this way nothing ever waits, and at worst, while such a
//! reader holds an old snapshot, the WAL grows until the reader is done.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::conn::{self, Role};
use crate::store::{StoreError, StoreOptions};

/// Checkpoint at most this often: each pass has a fixed cost (syncs), so under load it is
/// better to copy a bigger run of pages at once.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// WAL frames (pages) past which the WAL is rewound: 16 Ki pages of 4 KiB, 64 MiB.
const REWIND_FRAMES: i64 = 16 * 1024;

/// The writer's side of the checkpoint thread.
pub(super) struct Nudge {
    wake: SyncSender<()>,
    rewind: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Nudge {
    /// Called by the writer after each commit, outside any transaction.
    pub fn committed(&self, conn: &Connection) {
        if self.rewind.swap(false, Ordering::Relaxed) {
            // See the module doc: this lets the next transaction start the WAL over.
            if let Err(error) = checkpoint(conn) {
                tracing::warn!(message = "WAL rewind checkpoint failed.", %error);
            }
        }
        // A nudge already waiting is as good as two.
        if let Err(TrySendError::Disconnected(())) = self.wake.try_send(()) {
            tracing::debug!(message = "The store's checkpoint thread has stopped.");
        }
    }

    /// Stops the thread and waits for it, so that the writer's connection is the last to
    /// close (SQLite then folds the WAL into the database and removes it).
    pub fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

/// Starts the thread. It stops when the [`Nudge`] is dropped (the writer stopped).
pub(super) fn start(path: PathBuf, options: &StoreOptions) -> Result<Nudge, StoreError> {
    let conn = conn::open(&path, options, Role::Checkpointer)?;
    let (wake, woken) = sync_channel(1);
    let rewind = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&rewind);
    let thread = std::thread::Builder::new()
        .name("inlet-store-checkpoint".into())
        .spawn(move || run(&conn, &woken, &flag))
        .map_err(|err| StoreError::Backend {
            message: format!("cannot start the store checkpoint thread: {err}"),
            source: Some(Arc::new(err)),
        })?;
    Ok(Nudge {
        wake,
        rewind,
        thread,
    })
}

fn run(conn: &Connection, woken: &Receiver<()>, rewind: &AtomicBool) {
    let mut last = Instant::now();
    loop {
        match woken.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let since = last.elapsed();
        if since < MIN_INTERVAL {
            std::thread::sleep(MIN_INTERVAL - since);
        }
        last = Instant::now();
        match checkpoint(conn) {
            Ok(frames) if frames > REWIND_FRAMES => rewind.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(error) => tracing::warn!(message = "WAL checkpoint failed; will retry.", %error),
        }
    }
}

/// Runs one passive checkpoint; returns how many frames the WAL holds.
fn checkpoint(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
        .map_err(conn::classify)
}
