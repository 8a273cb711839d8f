//! Tests of the presets: published vectors in [`vectors`], the same negative cases for every
//! preset in [`cases`], handshakes and delivery ids in [`handshakes`]. This module holds the
//! helpers and fixtures they share.

mod cases;
mod handshakes;
mod vectors;

use http::{HeaderMap, HeaderName, HeaderValue};

use self::vectors::{SW_SECRET, TWILIO_FORM};
use super::*;
use crate::security::sign::{self, Outgoing};

pub(super) const NOW: i64 = 1_700_000_000_000;

pub(super) fn config(secrets: &[&str]) -> PresetConfig {
    PresetConfig {
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        tolerance: None,
        url: None,
        cidrs: Vec::new(),
        replay_cache: None,
    }
}

pub(super) fn build(preset: Preset, secrets: &[&str]) -> PresetCheck {
    PresetCheck::build(preset, &config(secrets)).unwrap()
}

pub(super) fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

/// Checks a request given as parts, at `now_ms`.
pub(super) fn check_parts(
    check: &PresetCheck,
    method: &str,
    url: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: i64,
) -> Result<Outcome, Failure> {
    let headers = header_map(headers);
    let query = url.and_then(|u| u.split_once('?')).map_or("", |(_, q)| q);
    check.check(
        &Incoming {
            method,
            url,
            query,
            headers: &headers,
            body,
            peer: None,
        },
        now_ms,
    )
}

pub(super) fn ok(result: Result<Outcome, Failure>) -> Outcome {
    result.unwrap_or_else(|failure| panic!("expected valid, got {}: {failure}", failure.kind()))
}

pub(super) fn kind(result: Result<Outcome, Failure>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(failure) => failure.kind(),
    }
}

// ---- The same cases for every preset -----------------------------------------------------

/// A preset's test fixture: the secret to sign with, the one to verify with, and a request.
pub(super) struct Fixture {
    preset: Preset,
    signing: String,
    verifying: String,
    other_signing: String,
    method: &'static str,
    url: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

pub(super) const ORG_ID: &str = "00D000000000062EAA";

/// The signing secret used for `preset` in tests (a second one with `variant` 1).
pub(crate) fn test_secret(preset: Preset, variant: u8) -> String {
    match preset {
        Preset::Discord => hex::encode([7 + variant; 32]),
        Preset::Sendgrid => hex::encode([9 + variant; 32]),
        Preset::StandardWebhooks | Preset::Svix => {
            if variant == 0 {
                SW_SECRET.to_string()
            } else {
                "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=".to_string()
            }
        }
        Preset::Servicenow => format!("inlet:password-{variant}"),
        Preset::Salesforce => {
            if variant == 0 {
                ORG_ID.to_string()
            } else {
                "00D000000000099EAA".to_string()
            }
        }
        Preset::Okta => format!("Bearer okta-token-{variant}"),
        other => format!("{}-secret-{variant}", other.name()),
    }
}

/// A request body that `preset` accepts (and that is not a handshake).
pub(crate) fn test_body(preset: Preset) -> (&'static str, Vec<u8>) {
    match preset {
        Preset::Salesforce => (
            "text/xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG_ID}</OrganizationId><ActionId>04k000000000001</ActionId></notifications></soapenv:Body></soapenv:Envelope>"#
            )
            .into_bytes(),
        ),
        Preset::Twilio => ("application/x-www-form-urlencoded", TWILIO_FORM.to_vec()),
        Preset::Msgraph => ("application/json", br#"{"value":[{"subscriptionId":"s1","changeType":"created","resource":"me/messages","n":1}]}"#.to_vec()),
        _ => ("application/json", br#"{"id":"evt_1","event_id":"evt_1","type":2,"event":{"id":"evt_1"},"data":{"n":1}}"#.to_vec()),
    }
}

pub(super) fn fixture(preset: Preset) -> Fixture {
    let signing = test_secret(preset, 0);
    let (content_type, body) = test_body(preset);
    Fixture {
        preset,
        verifying: sign::verifying_secret(preset, &signing).unwrap(),
        signing,
        other_signing: test_secret(preset, 1),
        method: "POST",
        url: "https://example.com/webhooks/test?q=1",
        content_type,
        body,
    }
}

impl Fixture {
    fn signed(&self, secret: &str, now_ms: i64) -> Outgoing {
        let mut out = Outgoing {
            method: self.method.to_string(),
            url: self.url.to_string(),
            headers: vec![("content-type".to_string(), self.content_type.to_string())],
            body: self.body.clone(),
        };
        sign::sign(self.preset, secret, &mut out, now_ms).unwrap();
        out
    }

    fn check(&self, check: &PresetCheck, out: &Outgoing, now_ms: i64) -> Result<Outcome, Failure> {
        let headers: Vec<(&str, &str)> = out
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        check_parts(
            check,
            &out.method,
            Some(&out.url),
            &headers,
            &out.body,
            now_ms,
        )
    }

    fn timestamped(&self) -> bool {
        build(self.preset, &[&self.verifying]).is_timestamped()
    }
}

/// Presets whose body is not covered by anything they check.
pub(super) fn body_is_unprotected(preset: Preset) -> bool {
    matches!(
        preset,
        Preset::Mailgun | Preset::GitlabToken | Preset::Okta | Preset::Servicenow | Preset::Msgraph
    )
}
