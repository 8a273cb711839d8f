//! `inlet verify`: checks a captured request offline and says why it passes or fails, for
//! anyone debugging "why does my signature fail".
//!
//! It runs exactly the check a channel runs (the same preset, the same engine), at a pinned
//! or current time. Output: `valid` (and the handshake reply, if the request is one) with
//! exit 0, or `invalid: <kind>: <reason>` with exit 1; usage errors exit 2. The delivery id,
//! when there is one, goes to stderr. The offline
//! check has no replay cache, so it never says `replayed`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use http::HeaderMap;

use super::send::parse_header;
use crate::config::expand::{Secret, Text};
use crate::config::units::HumanDuration;
use crate::security::config::PresetConfig;
use crate::security::presets::{Incoming, PresetCheck};
use crate::security::{Preset, Reply, unix_millis};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["body", "body_file"])))]
pub(crate) struct VerifyArgs {
    /// The provider preset, as in `github` or `stripe`.
    #[arg(long, value_name = "NAME", value_parser = preset_parser())]
    scheme: Preset,

    /// The key material as the provider's dashboard shows it: the signing secret; the public
    /// key for SendGrid (base64 DER), Discord (hex) and Standard Webhooks v1a (`whpk_…`); the
    /// expected Authorization value for Okta; the clientState for Microsoft Graph; the org id
    /// for Salesforce; `user:password` for ServiceNow.
    #[arg(long, value_name = "S")]
    secret: String,

    /// The request's method.
    #[arg(long, value_name = "M", default_value = "POST")]
    method: String,

    /// The URL the provider called, with its query (Twilio, Square and HubSpot sign it).
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// A request header, as in 'Stripe-Signature: t=…,v1=…'. May be repeated.
    #[arg(long = "header", short = 'H', value_name = "'Name: value'")]
    headers: Vec<String>,

    /// The body, exactly as received.
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,

    /// A file holding the body's exact bytes.
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,

    /// The time to check timestamps against, in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    now: Option<i64>,

    /// How far the timestamp may be from now, either way (default: the preset's).
    #[arg(long, value_name = "SECONDS")]
    tolerance: Option<u64>,
}

/// Accepts exactly the preset names, and lists them in `--help` and in errors.
pub(crate) fn preset_parser() -> impl clap::builder::TypedValueParser<Value = Preset> {
    PossibleValuesParser::new(Preset::ALL.iter().map(|p| p.name()))
        .map(|name| Preset::from_name(&name).expect("clap only passes listed names"))
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let body = match (&args.body, &args.body_file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                return Ok(usage(format!(
                    "cannot read --body-file {}: {err}",
                    path.display()
                )));
            }
        },
        (None, None) => unreachable!("clap requires --body or --body-file"),
    };
    let mut headers = HeaderMap::new();
    for header in &args.headers {
        match parse_header(header) {
            Ok((name, value)) => {
                headers.append(name, value);
            }
            Err(err) => return Ok(usage(format!("{err:#}"))),
        }
    }
    let config = PresetConfig {
        secrets: vec![Secret::new(args.secret.clone())],
        tolerance: args
            .tolerance
            .map(|s| HumanDuration(Duration::from_secs(s))),
        url: None,
        cidrs: Vec::<Text>::new(),
        replay_cache: None,
    };
    let check = match PresetCheck::build(args.scheme, &config) {
        Ok(check) => check,
        Err(why) => {
            let why = why.replace("`secrets`: secret #1: ", "--secret: ");
            return Ok(usage(format!("--scheme {}: {why}", args.scheme.name())));
        }
    };
    if check.needs_url() && args.url.is_none() {
        return Ok(usage(format!(
            "{} signs the URL it called: give it with --url",
            args.scheme.name()
        )));
    }
    let now_ms = match args.now {
        Some(seconds) => seconds.saturating_mul(1000),
        None => unix_millis(SystemTime::now()),
    };
    let query = args
        .url
        .as_deref()
        .and_then(|url| url.split_once('?'))
        .map_or("", |(_, query)| query.split('#').next().unwrap_or(""));
    let method = args.method.to_ascii_uppercase();
    let incoming = Incoming {
        method: &method,
        url: args.url.as_deref(),
        query,
        headers: &headers,
        body: &body,
        peer: None,
    };
    match check.check(&incoming, now_ms) {
        Ok(outcome) => {
            println!("valid");
            if let Some(reply) = &outcome.handshake {
                print_reply("handshake reply", reply);
            }
            if let Some(reply) = &outcome.acknowledgement {
                print_reply("reply after the service succeeds", reply);
            }
            // On stderr, so stdout stays exactly `valid` plus any reply.
            if let Some(id) = check.delivery_id(&headers, &body) {
                eprintln!("delivery id: {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            println!("invalid: {}: {failure}", failure.kind());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_reply(label: &str, reply: &Reply) {
    println!("{label}: {} {}", reply.status.as_u16(), reply.content_type);
    println!("{}", String::from_utf8_lossy(&reply.body));
}
