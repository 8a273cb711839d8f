//! `tracing-subscriber`'s own formats, the coloured one for a terminal and JSON, with the
//! request each line belongs to added where the request's span used to put it.
//!
//! Neither is on the hot path (files and pipes get `text.rs`), so they reuse the library's
//! formatters: the terminal format writes the timestamp, the level and the request, then
//! lets the default format write the rest; the JSON format lets the library's write the
//! line into a buffer and splices the request in, as a span object named `request`.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::scope::{RequestScope, with_request};

/// The default format, coloured when the writer allows it, with the request of the line.
///
/// ```text
/// 2026-11-27T05:02:18.123456Z  INFO request{cid=0193… channel="jira"}: request method="POST"
/// ```
#[derive(Debug)]
pub struct TerminalFormat {
    /// The default format without what comes before the spans, which this one writes.
    rest: Format<Full, ()>,
}

impl Default for TerminalFormat {
    fn default() -> Self {
        TerminalFormat {
            rest: format::format()
                .without_time()
                .with_level(false)
                .with_target(false),
        }
    }
}

// The styles `tracing-subscriber` writes (through `nu-ansi-term`) when the writer takes them.
const BOLD: &str = "\x1b[1m";
const DIMMED: &str = "\x1b[2m";
const ITALIC: &str = "\x1b[3m";
const RESET: &str = "\x1b[0m";

impl<S, N> FormatEvent<S, N> for TerminalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let style = |style: &'static str| if ansi { style } else { "" };
        writer.write_str(style(DIMMED))?;
        if SystemTime.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_str(style(RESET))?;
        writer.write_char(' ')?;
        let level = event.metadata().level();
        if ansi {
            let colour = match *level {
                Level::TRACE => "\x1b[35m",
                Level::DEBUG => "\x1b[34m",
                Level::INFO => "\x1b[32m",
                Level::WARN => "\x1b[33m",
                Level::ERROR => "\x1b[31m",
            };
            write!(writer, "{colour}{}{RESET} ", level_name(level))?;
        } else {
            write!(writer, "{} ", level_name(level))?;
        }
        with_request(|request| -> fmt::Result {
            let Some(request) = request else {
                return Ok(());
            };
            let name = |writer: &mut Writer<'_>, name: &str| {
                write!(
                    writer,
                    "{}{name}{}{}={}",
                    style(ITALIC),
                    style(RESET),
                    style(DIMMED),
                    style(RESET)
                )
            };
            write!(
                writer,
                "{}request{}{}{{{}",
                style(BOLD),
                style(RESET),
                style(BOLD),
                style(RESET)
            )?;
            name(&mut writer, "cid")?;
            writer.write_str(request.cid())?;
            writer.write_char(' ')?;
            name(&mut writer, "channel")?;
            write!(writer, "{:?}", request.channel())?;
            write!(
                writer,
                "{}}}{}{}:{}",
                style(BOLD),
                style(RESET),
                style(DIMMED),
                style(RESET)
            )?;
            // The default format puts a space after the last span; with none of its own,
            // that space is ours to write.
            let spans = ctx
                .event_scope()
                .is_some_and(|mut scope| scope.next().is_some());
            if !spans {
                writer.write_char(' ')?;
            }
            Ok(())
        })?;
        self.rest.format_event(ctx, writer, event)
    }
}

/// The level as the default format writes it, five characters wide.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// A JSON format (`tracing-subscriber`'s) with the request of the line added as the span
/// that used to carry it: the outermost of `spans`, and `span` when there is no inner one.
///
/// ```text
/// {"timestamp":"…","level":"INFO","message":"request","status":200,"span":{"channel":"jira","cid":"0193…","name":"request"},"spans":[{"channel":"jira","cid":"0193…","name":"request"}]}
/// ```
#[derive(Debug)]
pub struct JsonFormat<F> {
    inner: F,
}

impl<F> JsonFormat<F> {
    pub fn new(inner: F) -> Self {
        JsonFormat { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for JsonFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_request(|request| {
            let Some(request) = request else {
                return self.inner.format_event(ctx, writer, event);
            };
            let mut line = String::with_capacity(256);
            self.inner
                .format_event(ctx, Writer::new(&mut line), event)?;
            splice_request(&mut line, request)?;
            writer.write_str(&line)
        })
    }
}

/// Adds `request` to a JSON line as its outermost span.
///
/// `"spans":[` can only be the span list: inside a string its quotes would be escaped, and
/// no field of an event or a span is an array. The span list is the line's last entry.
fn splice_request(line: &mut String, request: &RequestScope) -> fmt::Result {
    let mut object = String::with_capacity(96);
    object.push_str("{\"channel\":");
    object.push_str(&serde_json::to_string(request.channel()).map_err(|_| fmt::Error)?);
    object.push_str(",\"cid\":\"");
    object.push_str(request.cid());
    object.push_str("\",\"name\":\"request\"}");
    const SPANS: &str = "\"spans\":[";
    if let Some(at) = line.rfind(SPANS) {
        object.push(',');
        line.insert_str(at + SPANS.len(), &object);
        return Ok(());
    }
    let Some(end) = line.trim_end().strip_suffix('}').map(str::len) else {
        return Err(fmt::Error);
    };
    line.insert_str(end, &format!(",\"span\":{object},\"spans\":[{object}]"));
    Ok(())
}
