//! The text log format: the same lines as `tracing-subscriber`'s default format, written
//! with a fraction of its work.
//!
//! Every request logs an access line, with the request's cid and channel (from its task's
//! [request scope](super::scope), where a span carried them before), so the formatter runs
//! once or more per request; the default one cost about as much CPU as the rest of a small
//! request's handling (`bench/README.md`). The output is the same, line for line,
//! except that control characters in messages and values are always escaped, so that no
//! logged value can forge a line or drive a terminal.
//!
//! What makes it cheaper: the timestamp's date and time are formatted once per second per
//! thread; plain string values are written without `Debug`'s per-character escaping; no ANSI
//! styling calls are made (an operator's terminal gets the default, coloured format).
//!
//! ```text
//! 2026-11-27T05:02:18.123456Z  INFO request{cid=0193… channel="jira"}: request method="POST" status=200
//! ```

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::scope::{RequestScope, with_request};

/// The event format: timestamp, level, the request, the span scope with its fields, then
/// the event.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFormat;

/// The field format, used for events and for span fields alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFields;

impl<S, N> FormatEvent<S, N> for TextFormat
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
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(level_label(event.metadata().level()))?;
        let in_request = with_request(|request| match request {
            Some(request) => write_request(&mut writer, request).map(|()| true),
            None => Ok(false),
        })?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                // The request's span, made only for subscribers that do not write the
                // scope (`telemetry::formats_write_scope`), repeats what was just written.
                if in_request && super::is_request_span(span.metadata()) {
                    continue;
                }
                writer.write_str(span.metadata().name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        } else if in_request {
            writer.write_char(' ')?;
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldWriter {
            out: Buffered {
                writer,
                buffer: [0; BUFFER_LEN],
                len: 0,
            },
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result.and_then(|()| visitor.out.flush())
    }
}

/// Writes the request a line belongs to as the request span's place in the line used to
/// read: `request{cid=… channel="…"}:`.
fn write_request(writer: &mut impl fmt::Write, request: &RequestScope) -> fmt::Result {
    writer.write_str("request{cid=")?;
    writer.write_str(request.cid())?;
    writer.write_str(" channel=")?;
    write_quoted(writer, request.channel())?;
    writer.write_str("}:")
}

/// Writes `name=value` pairs separated by spaces; the message comes bare.
struct FieldWriter<'writer> {
    out: Buffered<'writer>,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_> {
    /// Writes the separator and, except for the message, `name=`; false after an error.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() {
            return false;
        }
        if !self.first {
            self.result = self.out.write_char(' ');
        }
        self.first = false;
        if field.name() != "message" {
            let name = field.name();
            self.result = self
                .result
                .and_then(|()| self.out.write_str(name.strip_prefix("r#").unwrap_or(name)))
                .and_then(|()| self.out.write_char('='));
        }
        self.result.is_ok()
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.start(field) {
            return;
        }
        self.result = if field.name() == "message" {
            Escaping(&mut self.out).write_str(value)
        } else {
            write_quoted(&mut self.out, value)
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.result = self.out.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.result = self.out.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.out.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(Escaping(&mut self.out), "{value:?}");
        }
    }
}

/// How many bytes of fields are gathered before they go to the writer.
const BUFFER_LEN: usize = 256;

/// Gathers what the fields write in a stack buffer and hands it to the writer in one piece.
///
/// A line's fields arrive as a dozen small writes, each a dynamic call into the writer; for
/// a span the writer is a new `String`, which would grow (reallocate) two or three times.
/// One write at the end gives one dynamic call and one allocation of the right size. Text
/// longer than the buffer goes straight through.
struct Buffered<'writer> {
    writer: Writer<'writer>,
    buffer: [u8; BUFFER_LEN],
    len: usize,
}

impl Buffered<'_> {
    fn flush(&mut self) -> fmt::Result {
        if self.len == 0 {
            return Ok(());
        }
        // Only whole `str`s are ever copied in, so the buffer is always valid UTF-8.
        let text = std::str::from_utf8(&self.buffer[..self.len]).map_err(|_| fmt::Error)?;
        self.len = 0;
        self.writer.write_str(text)
    }
}

impl fmt::Write for Buffered<'_> {
    #[inline]
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.len + text.len() > BUFFER_LEN {
            self.flush()?;
            if text.len() > BUFFER_LEN {
                return self.writer.write_str(text);
            }
        }
        self.buffer[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len();
        Ok(())
    }

    #[inline]
    fn write_char(&mut self, ch: char) -> fmt::Result {
        // The separators (' ', '=', '"') are ASCII: one byte, no UTF-8 encoding.
        if ch.is_ascii() && self.len < BUFFER_LEN {
            self.buffer[self.len] = ch as u8;
            self.len += 1;
            Ok(())
        } else {
            self.write_str(ch.encode_utf8(&mut [0; 4]))
        }
    }
}

/// Writes `value` as `Debug` would, in quotes, skipping its per-character escape checks
/// when no character needs one.
fn write_quoted(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.write_char('"')?;
        out.write_str(value)?;
        out.write_char('"')
    } else {
        write!(out, "{value:?}")
    }
}

/// Passes text through, escaping the characters that could end a log line early or drive
/// a terminal: C0 controls, DEL and C1 controls.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.0.write_str(text);
        }
        for ch in text.chars() {
            match ch {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                ch if ch.is_control() => write!(self.0, "\\u{{{:x}}}", ch as u32)?,
                ch => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

fn level_label(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    }
}

/// `2026-11-27T05:02:18.123456Z ` (UTC, microseconds, then a space), as the default format
/// writes it. The part up to the seconds changes once a second, so each thread keeps the
/// last one it formatted, and the whole stamp is written in one call.
fn write_timestamp(writer: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    thread_local! {
        /// The second, and the stamp whose first 19 bytes are that second's date and time.
        static STAMP: RefCell<(u64, String)> = RefCell::new((u64::MAX, String::with_capacity(28)));
    }
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since_epoch.as_secs();
    STAMP.with(|stamp| {
        let Ok(mut stamp) = stamp.try_borrow_mut() else {
            // Only a formatter that logs from inside itself gets here.
            return Err(fmt::Error);
        };
        let (cached, text) = &mut *stamp;
        if *cached != second {
            let date = date_time(second);
            text.clear();
            text.push_str(std::str::from_utf8(&date).map_err(|_| fmt::Error)?);
            *cached = second;
        }
        text.truncate(DATE_TIME_LEN);
        text.push('.');
        let micros = since_epoch.subsec_micros();
        for power in [100_000, 10_000, 1_000, 100, 10, 1] {
            text.push(char::from(b'0' + (micros / power % 10) as u8));
        }
        text.push_str("Z ");
        writer.write_str(text)
    })
}

/// The length of `YYYY-MM-DDTHH:MM:SS`.
const DATE_TIME_LEN: usize = 19;

/// `YYYY-MM-DDTHH:MM:SS` for a count of seconds since the Unix epoch, in UTC.
fn date_time(seconds: u64) -> [u8; DATE_TIME_LEN] {
    let days = (seconds / 86_400) as i64;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = [0u8; DATE_TIME_LEN];
    let mut cursor = std::io::Cursor::new(&mut text[..]);
    // 19 bytes hold any date until the year 9999; later ones are cut short, not wrong.
    let _ = std::io::Write::write_fmt(
        &mut cursor,
        format_args!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        ),
    );
    text
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
