//! `inlet send`: a curl for webhooks. It sends a body, optionally signed, and prints the
//! status, the headers and the body of the answer.
//!
//! `--provider NAME --secret S` signs exactly as that provider would, through
//! [`crate::security::sign`], the same code the round-trip tests use; `--now` pins the
//! signing time so a request can be reproduced byte for byte.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http::{HeaderName, HeaderValue};

use crate::config::units::HumanDuration;
use crate::security::hmac::{Algorithm, Encoding, compute};
use crate::security::sign::{Outgoing, sign};
use crate::security::{Preset, unix_millis};

#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    /// Where to send it, as in http://localhost:11223/webhooks/jira.
    url: String,

    /// The body: JSON text, or @FILE to send a file's bytes exactly as they are.
    #[arg(long, short = 'd', value_name = "JSON|@FILE")]
    data: String,

    /// An extra header, as in 'X-GitHub-Event: push'. May be repeated.
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    headers: Vec<String>,

    /// The HTTP method.
    #[arg(long, short = 'X', default_value = "POST")]
    method: String,

    /// Sign as this provider would (a preset name, as in `github` or `stripe`).
    #[arg(long, value_name = "NAME", requires = "secret", value_parser = super::verify::preset_parser())]
    provider: Option<Preset>,

    /// The provider's secret: the signing secret, or for Discord a hex Ed25519 seed, for
    /// Standard Webhooks v1a `whsk_<b64 seed>`, for SendGrid a P-256 private key (base64
    /// PKCS#8 DER or hex); for Okta the Authorization value, for Graph the clientState, for
    /// Salesforce the org id, for ServiceNow `user:password`.
    #[arg(long, value_name = "S", requires = "provider")]
    secret: Option<String>,

    /// Sign as of this time, in Unix seconds (default: now), to reproduce a request exactly.
    #[arg(
        long,
        value_name = "UNIX_SECONDS",
        requires = "provider",
        allow_negative_numbers = true
    )]
    now: Option<i64>,

    /// Sign the body with HMAC-SHA256 under this secret (hex digest).
    #[arg(
        long,
        value_name = "SECRET",
        requires = "signature_header",
        conflicts_with = "provider"
    )]
    hmac_sha256: Option<String>,

    /// The header that carries the signature, as in X-Salesforce-Signature.
    #[arg(long, value_name = "NAME", requires = "hmac_sha256")]
    signature_header: Option<String>,

    /// Text before the signature, as in 'sha256=' for GitHub-style headers.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "hmac_sha256",
        default_value = ""
    )]
    signature_prefix: String,

    /// How long to wait for the answer.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("{err}; write a number with a unit, as in 30s"))
        .map(|d| HumanDuration(d).0)
}

pub(crate) async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let body = read_body(&args.data)?;
    let method = http::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("{:?} is not an HTTP method", args.method))?;
    let mut headers = http::HeaderMap::new();
    for header in &args.headers {
        let (name, value) = parse_header(header)?;
        headers.append(name, value);
    }
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let (Some(secret), Some(header)) = (&args.hmac_sha256, &args.signature_header) {
        let mac = compute(Algorithm::Sha256, secret.as_bytes(), &[&body]);
        let value = format!("{}{}", args.signature_prefix, Encoding::Hex.encode(&mac));
        let name = HeaderName::from_bytes(header.as_bytes())
            .with_context(|| format!("--signature-header {header:?} is not a valid header name"))?;
        headers.insert(name, HeaderValue::from_str(&value)?);
    }

    let mut url = args.url.clone();
    let mut body = body;
    if let (Some(provider), Some(secret)) = (args.provider, &args.secret) {
        let mut outgoing = Outgoing {
            method: method.to_string(),
            url,
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        };
        let now_ms = args
            .now
            .map(|s| s.saturating_mul(1000))
            .unwrap_or_else(|| unix_millis(std::time::SystemTime::now()));
        sign(provider, secret, &mut outgoing, now_ms)
            .map_err(|why| anyhow::anyhow!("--provider {}: {why}", provider.name()))?;
        headers = http::HeaderMap::new();
        for (name, value) in &outgoing.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        url = outgoing.url;
        body = outgoing.body;
    }

    // reqwest is built without a bundled TLS provider; install ring's for https URLs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .build()
        .context("cannot build the HTTP client")?;
    let response = client
        .request(method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot send to {url}"))?;

    let status = response.status();
    println!("{:?} {}", response.version(), status);
    for (name, value) in response.headers() {
        println!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
    }
    println!();
    let text = response
        .text()
        .await
        .context("cannot read the answer's body")?;
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(if status.is_success() || status.is_redirection() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_body(data: &str) -> anyhow::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read --data file {path}"))
        }
        None => Ok(data.as_bytes().to_vec()),
    }
}

pub(crate) fn parse_header(text: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("--header {text:?} must look like 'Name: value'");
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes()).with_context(|| {
        format!(
            "--header {text:?}: {:?} is not a valid header name",
            name.trim()
        )
    })?;
    let value = HeaderValue::from_str(value.trim())
        .with_context(|| format!("--header {text:?}: the value is not valid header text"))?;
    Ok((name, value))
}
