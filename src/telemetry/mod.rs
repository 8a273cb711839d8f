//! Logging: `tracing` to stderr, as text or JSON, filtered by `INLET_LOG`.
//!
//! Every line logged while handling a request carries the request's cid and channel: the
//! request's task runs in a [request scope](scope), which every format writes as the
//! `request{cid=… channel="…"}` span used to be written. Background jobs run inside a `job`
//! span with their caller's cid.

#[cfg(test)]
mod capture;
mod scope;
mod text;
mod wrapped;
mod writer;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

pub(crate) use scope::{RequestScope, in_request};

pub use text::{TextFields, TextFormat};
use wrapped::{JsonFormat, TerminalFormat};
pub use writer::{LogGuard, LogWriter};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The environment variable that sets the log filter, as in `INLET_LOG=debug` or
/// `INLET_LOG=info,inlet::http=debug`.
pub const LOG_ENV: &str = "INLET_LOG";

/// Installs the global subscriber. Later calls do nothing, so tests may call it freely.
///
/// Lines are written to stderr by a dedicated thread, in batches, so a request never waits
/// for a `write` system call (see [`writer`](LogWriter)); the returned guard writes out what
/// is queued when it is dropped, so keep it until the process ends. When the queue is full,
/// logging waits rather than drops.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) =
        LogWriter::new(std::io::stderr()).expect("cannot start the log writer thread");
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(terminal)
        .with_target(false);
    let installed = match format {
        // A person watching a terminal gets colours; files and pipes, where the volume is,
        // get the same lines from the cheaper formatter.
        LogFormat::Text if terminal => builder.event_format(TerminalFormat::default()).try_init(),
        LogFormat::Text => builder
            .event_format(TextFormat)
            .fmt_fields(TextFields)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .map_event_format(JsonFormat::new)
            .try_init(),
    };
    if installed.is_ok() {
        FORMATS_WRITE_SCOPE.store(true, Ordering::Relaxed);
    }
    guard
}

/// Set once [`init`] has installed Inlet's own formats, which write a line's request from
/// its [scope](scope).
static FORMATS_WRITE_SCOPE: AtomicBool = AtomicBool::new(false);

/// Whether the installed subscriber writes the request scope. When it does not (a program
/// that embeds Inlet with its own subscriber, say one exporting to OpenTelemetry), requests
/// also run in a `request` span with the same fields, so that subscriber still sees them.
pub(crate) fn formats_write_scope() -> bool {
    FORMATS_WRITE_SCOPE.load(Ordering::Relaxed)
}

/// The name of that span; its target is the module that makes it.
pub(crate) const REQUEST_SPAN: &str = "request";
pub(crate) const REQUEST_SPAN_TARGET: &str = "inlet::http::dispatch";

/// Whether `span` is the request span, which [`TextFormat`] leaves out inside a request,
/// having written the scope: a program that installs `TextFormat` in a subscriber of its
/// own (Inlet's tests do) would otherwise see the request twice on every line.
fn is_request_span(span: &tracing::Metadata<'_>) -> bool {
    span.name() == REQUEST_SPAN && span.target() == REQUEST_SPAN_TARGET
}

/// Sends panics to the log. The hook runs on the panicking thread, inside the poll of the
/// request that panicked, so the line carries that request's cid like any other.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        tracing::error!(panic = message, location, "panic");
    }));
}

#[cfg(test)]
mod tests;
