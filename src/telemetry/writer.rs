//! The log writer: threads append their lines to one shared buffer, and a thread of its own
//! writes the buffer out in batches, so a request never waits for a `write` system call.
//!
//! Every request logs at least one line, so what a line costs the thread that logs it
//! matters. Here it is one uncontended lock and a copy: no allocation, no channel message,
//! and no wake-up of the writer thread per line (`tracing-appender`, which this replaces,
//! copies each line into a new `Vec`, sends it over a channel, and its thread wakes, or
//! spins with `sched_yield`, for each one). The writer thread is woken by the first line
//! after it went idle, lets lines gather for [`LINGER`] (or until [`BATCH`] bytes are
//! waiting), and writes them all with one `write`. So a line reaches the output at most
//! about [`LINGER`] after it was logged.
//!
//! Lines are never dropped while the writer runs: when [`CAPACITY`] bytes are waiting, a
//! logging thread waits for the writer, which also bounds the memory. Dropping the
//! [`LogGuard`] writes out everything logged before, then stops the thread; lines logged
//! after that are dropped, as they were with `tracing-appender`.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer lets lines gather after the first one arrives.
pub const LINGER: Duration = Duration::from_millis(10);

/// Waiting bytes that end the lingering early: one `write` of this size is cheap.
pub const BATCH: usize = 64 * 1024;

/// Waiting bytes at which logging threads wait for the writer.
pub const CAPACITY: usize = 1024 * 1024;

/// What `tracing` writes through: each formatted line is appended to the shared buffer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread running; dropping it writes out what is waiting and stops the
/// thread. Keep it until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread: a first line, a full batch, or the stop.
    wake_writer: Condvar,
    /// Wakes logging threads that wait for room in the buffer.
    room: Condvar,
}

struct State {
    /// The lines waiting to be written.
    buffer: Vec<u8>,
    /// The writer waits for a first line: the next line must wake it.
    writer_idle: bool,
    /// The writer lets lines gather: only a full batch need wake it early.
    writer_lingering: bool,
    /// Logging threads that wait for room.
    waiting_for_room: usize,
    /// The guard was dropped: write out what is waiting and stop.
    stopped: bool,
}

impl LogWriter {
    /// Starts the writer thread over `sink`.
    pub fn new(sink: impl Write + Send + 'static) -> io::Result<(LogWriter, LogGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: Vec::with_capacity(BATCH),
                writer_idle: false,
                writer_lingering: false,
                waiting_for_room: 0,
                stopped: false,
            }),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("inlet-log".to_string())
            .spawn({
                let shared = Arc::clone(&shared);
                move || write_batches(&shared, sink)
            })?;
        let guard = LogGuard {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        Ok((LogWriter { shared }, guard))
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        while !state.stopped
            && !state.buffer.is_empty()
            && state.buffer.len() + line.len() > CAPACITY
        {
            if state.writer_idle || state.writer_lingering {
                self.shared.wake_writer.notify_one();
            }
            state.waiting_for_room += 1;
            state = self
                .shared
                .room
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
            state.waiting_for_room -= 1;
        }
        if state.stopped {
            return;
        }
        state.buffer.extend_from_slice(line);
        // A wake-up is a system call: only the first line of a batch, and a full batch,
        // need one.
        if state.writer_idle || (state.writer_lingering && state.buffer.len() >= BATCH) {
            state.writer_idle = false;
            state.writer_lingering = false;
            self.shared.wake_writer.notify_one();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buffer inconsistent: it is only
        // appended to and swapped.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread: waits for lines, lets them gather, writes them, until stopped.
fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut state = shared.lock();
    loop {
        while state.buffer.is_empty() && !state.stopped {
            state.writer_idle = true;
            state = shared
                .wake_writer
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.writer_idle = false;
        if state.buffer.is_empty() {
            // Stopped, and everything is written.
            return;
        }
        if !state.stopped && state.buffer.len() < BATCH {
            state.writer_lingering = true;
            state = shared
                .wake_writer
                .wait_timeout(state, LINGER)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            state.writer_lingering = false;
        }
        std::mem::swap(&mut state.buffer, &mut batch);
        if state.waiting_for_room > 0 {
            shared.room.notify_all();
        }
        drop(state);
        // A failed write cannot be logged; the lines are lost, and logging goes on.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        // A burst may have grown the buffer up to `CAPACITY`; keep no more than a batch.
        batch.shrink_to(BATCH);
        state = shared.lock();
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake_writer.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer, as `tracing-subscriber` asks for one per event.
pub struct LineWriter<'a> {
    writer: &'a LogWriter,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writer.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter { writer: self }
    }
}

#[cfg(test)]
mod tests;
