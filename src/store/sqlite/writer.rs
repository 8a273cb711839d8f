//! The single writer: one OS thread owns the write connection and turns concurrent writes
//! into group commits.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` every commit costs an
//! fsync. Rather than let callers take turns (one fsync each), callers send their write as a
//! closure over a bounded channel; the thread takes everything waiting (up to a count and a
//! byte budget), runs it in one `BEGIN IMMEDIATE … COMMIT`, and only then answers each
//! caller through its oneshot. A caller therefore never hears "ok" before its data is on
//! disk, and one fsync covers the whole batch.
//!
//! A write that fails for its own reasons (a conflicting id) must not take the rest of the
//! batch with it. Writes run without a savepoint each (two more statements per write, on
//! the hottest path); when one fails, the whole transaction is rolled back and the batch
//! runs again without it. A write is a pure function of the database state, so running it
//! again gives the same result, and its caller hears only the final run's answer. Own
//! failures are rare (they are bugs or operator mistakes), so the rerun costs nothing in
//! practice.
//!
//! Some writes need no fsync: a claim only takes a lease, and if a power failure loses it
//! the job is simply pending again and runs (at least once, as always). A batch made only
//! of such writes commits with `synchronous = NORMAL`, which in WAL mode still writes the
//! commit to the operating system (a crash of this process loses nothing) but skips the
//! fsync; the next synced commit makes it durable along with its own, since the WAL is
//! append-only. This takes one fsync off every claim, half of a busy worker pool's.
//!
//! A failure of the store itself (full disk, lock timeout, I/O) rolls back the
//! whole batch and every caller in it hears "unavailable"; the thread then waits for the
//! next write and tries again, so the store recovers by itself once the condition clears.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, mpsc, oneshot};

use super::checkpoint::Nudge;
use super::conn::classify;
use super::tx::Tx;
use crate::store::{StoreError, StoreOptions};

/// Reopens the write connection when the old one is stuck (see [`Writer::start`]).
pub(super) type Reopen = Box<dyn Fn() -> Result<Connection, StoreError> + Send>;

/// A handle to the writer thread; cheap to share behind an `Arc`.
pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
    write_timeout: Option<Duration>,
    /// See [`StoreOptions::for_paused_clock`].
    paused_clock: bool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread. `notify` is woken after every commit that made jobs due, so
    /// idle workers claim them at once instead of at their next poll; `checkpoint` is
    /// nudged after every commit.
    pub fn start(
        conn: Connection,
        reopen: Reopen,
        options: &StoreOptions,
        notify: Arc<Notify>,
        checkpoint: Nudge,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let limits = Limits {
            max_batch: options.max_batch.max(1),
            max_batch_bytes: options.max_batch_bytes.max(1),
            full_sync: options.synchronous == crate::store::Synchronous::Full,
        };
        let thread = std::thread::Builder::new()
            .name("inlet-store-writer".into())
            .spawn(move || {
                let mut conn = conn;
                run(&mut conn, reopen, rx, limits, &notify, &checkpoint);
                // The checkpoint thread's connection closes first, so the writer's is the
                // last and SQLite folds the WAL into the database file.
                checkpoint.stop();
                drop(conn);
            })
            .map_err(|err| StoreError::Backend {
                message: format!("cannot start the store writer thread: {err}"),
                source: Some(Arc::new(err)),
            })?;
        Ok(Writer {
            tx,
            write_timeout: options.write_timeout,
            paused_clock: options.paused_clock,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` inside the next group-commit transaction and returns its result once
    /// that transaction has committed. `weight` is the approximate number of bytes the
    /// write adds; `wakes` says whether it makes jobs due. `work` may run more than once
    /// (see the module doc), each time from the same database state, so it must not keep
    /// state of its own between runs.
    pub async fn write<T, F>(&self, weight: usize, wakes: bool, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_op(weight, wakes, true, work).await
    }

    /// Like [`Writer::write`], for a write whose loss in a power failure is harmless (see
    /// the module doc): its batch skips the fsync unless another write in it needs one.
    /// A crash of the process alone never loses it.
    pub async fn write_unsynced<T, F>(&self, weight: usize, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_op(weight, false, false, work).await
    }

    async fn send_op<T, F>(
        &self,
        weight: usize,
        wakes: bool,
        sync: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let op = Op {
            work,
            result: None,
            reply,
            weight,
            wakes,
            sync,
        };
        self.send_and_wait(Msg::Op(Box::new(op)), answer).await
    }

    /// Runs `work` alone, outside any batch, with the connection to itself; for migrations,
    /// which manage their own transaction.
    pub async fn exclusive<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.alone(work, true).await
    }

    /// Like [`Writer::exclusive`], but on the connection exactly as the last batch left it
    /// (its `synchronous` setting included): for tests that look at that state.
    #[cfg(test)]
    pub async fn inspect<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.alone(work, false).await
    }

    async fn alone<T, F>(&self, work: F, configured_sync: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = move |conn: &mut Connection| {
            // The caller may have timed out and gone; nothing more to do then.
            let _ = reply.send(work(conn));
        };
        let msg = Msg::Exclusive {
            job: Box::new(job),
            configured_sync,
        };
        self.send_and_wait(msg, answer).await
    }

    /// Lets the writes already queued commit, stops the thread and waits for it.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
        let thread = self.thread.lock().ok().and_then(|mut slot| slot.take());
        if let Some(thread) = thread {
            // Joining blocks, so do it off the async threads; the thread is already done.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    async fn send_and_wait<T: Send + 'static>(
        &self,
        msg: Msg,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let wait = async {
            self.tx.send(msg).await.map_err(|_| StoreError::closed())?;
            if self.paused_clock {
                return tokio::task::spawn_blocking(move || answer.blocking_recv())
                    .await
                    .map_err(|_| StoreError::closed())?
                    .map_err(|_| StoreError::closed())?;
            }
            answer.await.map_err(|_| StoreError::closed())?
        };
        match self.write_timeout {
            Some(limit) => tokio::time::timeout(limit, wait).await.map_err(|_| {
                StoreError::unavailable("timed out waiting for the store to commit")
            })?,
            None => wait.await,
        }
    }
}

/// What the writer thread is asked to do.
enum Msg {
    Op(Box<dyn WriteOp>),
    Exclusive {
        job: Box<dyn FnOnce(&mut Connection) + Send>,
        /// Run at the configured `synchronous`, not the one the last batch left.
        configured_sync: bool,
    },
    Close(oneshot::Sender<()>),
}

/// How one run of a write went.
enum Applied {
    Done,
    /// The write failed for its own reasons; its error is kept for [`WriteOp::finish`], and
    /// the transaction must be rolled back, since the write may have changed some rows.
    Failed,
}

/// One caller's write, as the batch loop sees it.
trait WriteOp: Send {
    /// Runs the write. An `Err` means the store itself failed and the whole batch must
    /// roll back.
    fn apply(&mut self, tx: &Tx<'_>) -> Result<Applied, StoreError>;
    /// The write failed for its own reasons in an earlier run of this batch; it is left
    /// out of the next run.
    fn failed(&self) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, batch: &Result<(), StoreError>);
    fn weight(&self) -> usize;
    fn wakes(&self) -> bool;
    /// Whether the batch must be fsynced before this write is acknowledged.
    fn sync(&self) -> bool;
}

struct Op<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    weight: usize,
    wakes: bool,
    sync: bool,
}

impl<T, F> WriteOp for Op<T, F>
where
    T: Send,
    F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, tx: &Tx<'_>) -> Result<Applied, StoreError> {
        // A panic here is a bug in a query function; it must not take the writer thread
        // (and with it every later write) down.
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.work)(tx))).unwrap_or_else(|_| {
            Err(StoreError::Backend {
                message: "a store write panicked".into(),
                source: None,
            })
        });
        match outcome {
            Ok(value) => {
                self.result = Some(Ok(value));
                Ok(Applied::Done)
            }
            Err(err) if err.is_unavailable() => Err(err),
            Err(err) => {
                self.result = Some(Err(err));
                Ok(Applied::Failed)
            }
        }
    }

    fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }

    fn finish(self: Box<Self>, batch: &Result<(), StoreError>) {
        let answer = match batch {
            Ok(()) => self.result.unwrap_or_else(|| Err(StoreError::closed())),
            Err(err) => Err(err.clone()),
        };
        // The caller may have timed out and gone; its write's fate is still as reported.
        let _ = self.reply.send(answer);
    }

    fn weight(&self) -> usize {
        self.weight
    }

    fn wakes(&self) -> bool {
        self.wakes && matches!(self.result, Some(Ok(_)))
    }

    fn sync(&self) -> bool {
        self.sync
    }
}

#[derive(Clone, Copy)]
struct Limits {
    max_batch: usize,
    max_batch_bytes: usize,
    /// The configured `synchronous = FULL`; with NORMAL no batch is fsynced anyway.
    full_sync: bool,
}

/// The writer thread's loop; returns when the store is closed or every handle dropped.
fn run(
    conn: &mut Connection,
    reopen: Reopen,
    mut rx: mpsc::Receiver<Msg>,
    limits: Limits,
    notify: &Notify,
    checkpoint: &Nudge,
) {
    let mut next = None;
    // The connection's `synchronous` setting right now: FULL as opened, when configured so.
    let mut synced = limits.full_sync;
    loop {
        let msg = match next.take() {
            Some(msg) => msg,
            None => match rx.blocking_recv() {
                Some(msg) => msg,
                None => return,
            },
        };
        let mut batch = match msg {
            Msg::Op(op) => vec![op],
            Msg::Exclusive {
                job,
                configured_sync,
            } => {
                // Migrations commit on their own; they get the configured fsync, never the
                // setting left behind by a batch of claims. If it cannot be restored, the job
                // is dropped unrun and its caller hears that the store is closed.
                if configured_sync && synced != limits.full_sync {
                    if set_synchronous(conn, limits.full_sync).is_err() {
                        continue;
                    }
                    synced = limits.full_sync;
                }
                job(conn);
                continue;
            }
            Msg::Close(ack) => {
                rx.close();
                let _ = ack.send(());
                return;
            }
        };
        // Take whatever else is already waiting: these callers arrived while the previous
        // batch was committing, and share this batch's fsync.
        let mut bytes = batch[0].weight();
        while batch.len() < limits.max_batch && bytes < limits.max_batch_bytes {
            match rx.try_recv() {
                Ok(Msg::Op(op)) => {
                    bytes += op.weight();
                    batch.push(op);
                }
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        if limits.full_sync {
            let wanted = batch.iter().any(|op| op.sync());
            if wanted != synced {
                if let Err(err) = set_synchronous(conn, wanted) {
                    // The setting did not change; nothing may be acknowledged without the
                    // fsync it needs, so this batch fails like any other store failure.
                    let failed = Err(classify(err));
                    for op in batch {
                        op.finish(&failed);
                    }
                    continue;
                }
                synced = wanted;
            }
        }
        let committed = commit(conn, &mut batch);
        match committed {
            Ok(()) => checkpoint.committed(conn),
            Err(_) => recover(conn, &reopen),
        }
        let wake = committed.is_ok() && batch.iter().any(|op| op.wakes());
        for op in batch {
            op.finish(&committed);
        }
        if wake {
            notify.notify_waiters();
        }
    }
}

/// Runs one batch in one transaction; see the module doc for a write that fails.
fn commit(conn: &Connection, batch: &mut [Box<dyn WriteOp>]) -> Result<(), StoreError> {
    // Each rerun leaves out at least one more failed write, so this ends.
    let tx = Tx::new(conn);
    'run: loop {
        // IMMEDIATE takes the write lock up front, so a busy database is detected here
        // (after the busy timeout) and not half-way through the batch.
        exec(conn, "BEGIN IMMEDIATE")?;
        for op in batch.iter_mut().filter(|op| !op.failed()) {
            if let Applied::Failed = op.apply(&tx)? {
                exec(conn, "ROLLBACK")?;
                continue 'run;
            }
        }
        return exec(conn, "COMMIT");
    }
}

/// Leaves the connection outside any transaction after a failed batch. SQLite rolls back
/// by itself on some errors (a full disk), so a "no transaction" error is expected; if the
/// connection is still inside a transaction after that, it is replaced by a new one.
fn recover(conn: &mut Connection, reopen: &Reopen) {
    if conn.is_autocommit() {
        return;
    }
    let _ = conn.execute_batch("ROLLBACK");
    if conn.is_autocommit() {
        return;
    }
    match reopen() {
        Ok(fresh) => {
            tracing::warn!(
                message = "Replaced the store's write connection after a failed rollback."
            );
            *conn = fresh;
        }
        Err(error) => {
            tracing::error!(message = "Cannot reopen the store's write connection.", %error);
        }
    }
}

/// Switches the connection between `synchronous = FULL` and `NORMAL` (see the module doc).
fn set_synchronous(conn: &Connection, full: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(classify)
}
