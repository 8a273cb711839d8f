//! Every format writes a line logged in a request scope as it wrote the same line in the
//! `request` span the scope replaced, and a line outside of one without a request.

use std::sync::Arc;

use tracing::subscriber::DefaultGuard;

use super::capture::Buffer;
use super::*;
use crate::http::cid::Cid;

/// The lines written, without their timestamps.
fn lines(buffer: &Buffer) -> Vec<String> {
    buffer.text().lines().map(without_timestamp).collect()
}

fn without_timestamp(line: &str) -> String {
    match line.strip_prefix("{\"timestamp\":\"") {
        // JSON: the stamp is a string without quotes in it.
        Some(rest) => format!("{{{}", &rest[rest.find("\",").unwrap() + 2..]),
        // Text: the stamp is the first word (with its colour codes, if any).
        None => line.split_once(' ').unwrap().1.to_string(),
    }
}

/// The subscribers `init` installs, writing to `buffer`.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Terminal,
    TerminalPlain,
    Json,
}

const KINDS: [Kind; 4] = [Kind::Text, Kind::Terminal, Kind::TerminalPlain, Kind::Json];

/// `init`'s subscriber for `kind`; `old` is the format before the request scope, the
/// library's own where ours now wraps it.
fn install(kind: Kind, old: bool, buffer: Buffer) -> DefaultGuard {
    let builder = tracing_subscriber::fmt()
        .with_writer(buffer)
        .with_max_level(tracing::Level::DEBUG)
        .with_target(false);
    match (kind, old) {
        (Kind::Text, _) => tracing::subscriber::set_default(
            builder
                .with_ansi(false)
                .event_format(TextFormat)
                .fmt_fields(TextFields)
                .finish(),
        ),
        (Kind::Terminal | Kind::TerminalPlain, true) => tracing::subscriber::set_default(
            builder.with_ansi(matches!(kind, Kind::Terminal)).finish(),
        ),
        (Kind::Terminal | Kind::TerminalPlain, false) => tracing::subscriber::set_default(
            builder
                .with_ansi(matches!(kind, Kind::Terminal))
                .event_format(TerminalFormat::default())
                .finish(),
        ),
        (Kind::Json, true) => {
            tracing::subscriber::set_default(builder.json().flatten_event(true).finish())
        }
        (Kind::Json, false) => tracing::subscriber::set_default(
            builder
                .json()
                .flatten_event(true)
                .map_event_format(JsonFormat::new)
                .finish(),
        ),
    }
}

/// What a request logs: its access line, and lines inside a service's own spans.
fn log_request_lines() {
    tracing::info!(
        target: "inlet::access",
        message = "request",
        method = "POST",
        status = 200u16,
        elapsed_us = 42u64,
    );
    let verify = tracing::info_span!("verify", step = 2u32, who = "me");
    verify.in_scope(|| {
        tracing::warn!(reason = %"late", "stale timestamp");
        tracing::info_span!("inner").in_scope(|| tracing::error!(deep = true, "deep"));
    });
    tracing::debug!(n = -3i64, "after the spans");
}

fn run(future: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future);
}

/// The lines of `log_request_lines` in the `request` span the scope replaced, and in a
/// request scope.
fn with_span_and_with_scope(kind: Kind, channel: &str) -> (Vec<String>, Vec<String>) {
    let cid = Cid::new();
    let spanned = Buffer::default();
    {
        let _guard = install(kind, true, spanned.clone());
        let span = tracing::info_span!("request", cid = %cid, channel);
        span.in_scope(log_request_lines);
    }
    let scoped = Buffer::default();
    {
        let _guard = install(kind, false, scoped.clone());
        let scope = RequestScope::new(cid, (!channel.is_empty()).then(|| Arc::from(channel)));
        run(in_request(scope, async { log_request_lines() }));
    }
    (lines(&spanned), lines(&scoped))
}

#[test]
fn every_format_writes_a_request_as_its_span_was_written() {
    for kind in KINDS {
        for channel in ["jira", "", "odd \"name\""] {
            let (spanned, scoped) = with_span_and_with_scope(kind, channel);
            assert_eq!(spanned.len(), 4, "{kind:?}: {spanned:?}");
            assert_eq!(scoped, spanned, "{kind:?}, channel {channel:?}");
            if let Kind::Terminal = kind {
                assert!(
                    scoped[0].contains("\u{1b}[1mrequest\u{1b}[0m"),
                    "{scoped:?}"
                );
            }
        }
    }
}

#[test]
fn the_request_is_in_every_line_as_text_and_as_json_fields() {
    let (_, text) = with_span_and_with_scope(Kind::Text, "jira");
    let first = &text[0];
    assert!(
        first.starts_with(" INFO request{cid=") && first.contains(r#" channel="jira"}: request "#),
        "{first}"
    );
    assert!(text[1].contains(r#" channel="jira"}:verify{step=2 who="me"}: stale"#));

    let (_, json) = with_span_and_with_scope(Kind::Json, "jira");
    for line in &json {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let request = &line["spans"][0];
        assert_eq!(request["name"], "request", "{line}");
        assert_eq!(request["channel"], "jira", "{line}");
        assert_eq!(request["cid"].as_str().unwrap().len(), 32, "{line}");
    }
    let access: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(access["span"], access["spans"][0]);
    assert_eq!(access["status"], 200);
}

#[test]
fn a_line_outside_a_request_names_none() {
    for kind in KINDS {
        let buffer = Buffer::default();
        {
            let _guard = install(kind, false, buffer.clone());
            run(async {
                tracing::info!(n = 1u64, "outside");
                tracing::info_span!("job", cid = "c1").in_scope(|| tracing::info!("in a job"));
            });
        }
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 2);
        assert!(
            !lines[0].contains("request") && !lines[0].contains("cid"),
            "{kind:?}: {lines:?}"
        );
        assert!(
            !lines[1].contains("request") && lines[1].contains("c1"),
            "{kind:?}: {lines:?}"
        );
    }
}

#[test]
fn a_panic_in_a_request_logs_its_cid() {
    let buffer = Buffer::default();
    let cid = Cid::new();
    {
        let _guard = install(Kind::Text, false, buffer.clone());
        let previous = std::panic::take_hook();
        log_panics();
        let scope = RequestScope::new(cid, Some(Arc::from("jira")));
        run(in_request(scope, async {
            let caught = std::panic::catch_unwind(|| panic!("boom {}", 7));
            assert!(caught.is_err());
        }));
        std::panic::set_hook(previous);
    }
    let lines = lines(&buffer);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let expected = format!(r#"ERROR request{{cid={cid} channel="jira"}}: panic panic="boom 7""#);
    assert!(lines[0].starts_with(&expected), "{lines:?}");
}
