use std::time::Duration;

use super::*;
use crate::telemetry::capture::Buffer;

#[test]
fn dates_and_times_are_utc_calendar_dates() {
    for (seconds, expected) in [
        (0, "1970-01-01T00:00:00"),
        (951_782_400, "2000-02-29T00:00:00"),
        (1_795_000_000, "2026-11-18T11:06:40"),
        (1_798_761_599, "2026-12-31T23:59:59"),
        (4_102_444_800, "2100-01-01T00:00:00"),
    ] {
        assert_eq!(std::str::from_utf8(&date_time(seconds)).unwrap(), expected);
    }
}

#[test]
fn timestamps_carry_microseconds_and_a_trailing_space() {
    let mut text = String::new();
    let moment = UNIX_EPOCH + Duration::new(1_795_000_000, 7_000);
    write_timestamp(&mut text, moment).unwrap();
    assert_eq!(text, "2026-11-18T11:06:40.000007Z ");
    // The same second again comes from the cache, with its own fraction.
    text.clear();
    write_timestamp(&mut text, moment + Duration::from_micros(123_456)).unwrap();
    assert_eq!(text, "2026-11-18T11:06:40.123463Z ");
}

/// The lines written, each without its timestamp (the first word).
fn lines(buffer: &Buffer) -> Vec<String> {
    buffer
        .text()
        .lines()
        .map(|line| line.split_once(' ').unwrap().1.to_string())
        .collect()
}

/// Logs a representative mix of events: nested spans, every kind of field, every level.
fn log_samples() {
    let cid = "0193abcd";
    let span = tracing::info_span!("request", cid = %cid, channel = "jira");
    let _entered = span.enter();
    tracing::info!(
        target: "inlet::access",
        method = "POST",
        path = "/webhooks/jira",
        status = 200u16,
        elapsed_us = 42u64,
        "request"
    );
    let inner = tracing::info_span!("job", attempt = 3u32);
    let _inner = inner.enter();
    tracing::warn!(offset = -5i64, ok = true, reason = %"no signature matched", "security check failed");
    tracing::error!(error = ?Some("x"), "service {} failed", "webhooks.jira.receive");
    tracing::info!(
        path = "with \"quotes\" and ünïcode",
        "New issue created: PROJ-123"
    );
    // The access line's own form (the message as a field), the integer extremes, and values
    // longer than the formatter's stack buffer, in the span and in the event.
    let long = "x".repeat(300);
    let wide = tracing::info_span!("wide", long = %long, after = 1u64);
    let _wide = wide.enter();
    tracing::info!(
        target: "inlet::access",
        message = "request",
        zero = 0u64,
        max = u64::MAX,
        min = i64::MIN,
        long = long.as_str(),
        "then" = "more",
    );
}

fn capture(install: impl FnOnce(Buffer) -> tracing::subscriber::DefaultGuard) -> Vec<String> {
    let buffer = Buffer::default();
    let guard = install(buffer.clone());
    log_samples();
    drop(guard);
    lines(&buffer)
}

#[test]
fn lines_match_the_default_format_after_the_timestamp() {
    let ours = capture(|buffer| {
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .event_format(TextFormat)
                .fmt_fields(TextFields)
                .with_writer(buffer)
                .finish(),
        )
    });
    let default = capture(|buffer| {
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_target(false)
                .with_writer(buffer)
                .finish(),
        )
    });
    assert_eq!(ours.len(), 5);
    assert_eq!(ours, default);
    assert_eq!(
        ours[0],
        r#" INFO request{cid=0193abcd channel="jira"}: request method="POST" path="/webhooks/jira" status=200 elapsed_us=42"#
    );
}

#[test]
fn control_characters_cannot_forge_a_line_or_drive_a_terminal() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .event_format(TextFormat)
        .fmt_fields(TextFields)
        .with_writer(buffer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            header = "a\nFAKE b",
            reason = %"bad\r\nINFO forged \u{1b}[31mred",
            "message\nWARN forged \u{9b}"
        );
    });
    let lines = lines(&buffer);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        r#" INFO message\nWARN forged \u{9b} header="a\nFAKE b" reason=bad\r\nINFO forged \u{1b}[31mred"#
    );
}
