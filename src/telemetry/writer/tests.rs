use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// A sink that keeps what it is given, and counts the writes.
#[derive(Clone, Default)]
struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    writes: Arc<Mutex<usize>>,
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes.lock().unwrap().extend_from_slice(bytes);
        *self.writes.lock().unwrap() += 1;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
    }
}

fn log(writer: &LogWriter, line: &str) {
    writer.make_writer().write_all(line.as_bytes()).unwrap();
}

#[test]
fn a_line_is_written_within_the_linger_time_without_a_flush() {
    let sink = Sink::default();
    let (writer, _guard) = LogWriter::new(sink.clone()).unwrap();
    log(&writer, "first\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.text().is_empty() {
        assert!(Instant::now() < deadline, "the line was never written");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(sink.text(), "first\n");
}

#[test]
fn lines_of_a_burst_go_out_together_and_in_order() {
    let sink = Sink::default();
    let (writer, guard) = LogWriter::new(sink.clone()).unwrap();
    let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    for i in 0..1000 {
        log(&writer, &format!("line {i}\n"));
    }
    drop(guard);
    assert_eq!(sink.text(), expected);
    // 1000 lines logged faster than the linger time take a handful of writes, not 1000.
    assert!(*sink.writes.lock().unwrap() < 100);
}

#[test]
fn no_line_is_lost_when_threads_log_more_than_the_buffer_holds() {
    let sink = Sink::default();
    let (writer, guard) = LogWriter::new(sink.clone()).unwrap();
    let line = format!("{}\n", "x".repeat(999));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                // Four times the capacity in all.
                for _ in 0..CAPACITY / line.len() {
                    log(&writer, &line);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    drop(guard);
    let text = sink.text();
    assert_eq!(text.len(), 4 * (CAPACITY / line.len()) * line.len());
    assert!(text.lines().all(|l| l.len() == 999));
}

#[test]
fn lines_after_the_guard_is_dropped_are_dropped_without_blocking() {
    let sink = Sink::default();
    let (writer, guard) = LogWriter::new(sink.clone()).unwrap();
    log(&writer, "kept\n");
    drop(guard);
    for _ in 0..3 * CAPACITY / 1000 {
        log(&writer, &"y".repeat(1000));
    }
    assert_eq!(sink.text(), "kept\n");
}
