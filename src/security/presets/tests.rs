//! Published vectors for each provider that publishes one, and the same negative cases for
//! every preset: tampered body, wrong secret, stale and future timestamps, malformed header,
//! a rotated secret and a replayed id.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::config::expand::Text;
use crate::security::config::{PresetConfig, SecurityConfig};
use crate::security::hmac::{Algorithm, compute};
use crate::security::sign::{self, Outgoing};
use crate::security::{SecurityDef, Unverified, verify_at};

const NOW: i64 = 1_700_000_000_000;

fn config(secrets: &[&str]) -> PresetConfig {
    PresetConfig {
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        tolerance: None,
        url: None,
        cidrs: Vec::new(),
        replay_cache: None,
    }
}

fn build(preset: Preset, secrets: &[&str]) -> PresetCheck {
    PresetCheck::build(preset, &config(secrets)).unwrap()
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
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
fn check_parts(
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

fn ok(result: Result<Outcome, Failure>) -> Outcome {
    result.unwrap_or_else(|failure| panic!("expected valid, got {}: {failure}", failure.kind()))
}

fn kind(result: Result<Outcome, Failure>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(failure) => failure.kind(),
    }
}

// ---- Published vectors -------------------------------------------------------------------

#[test]
fn github_docs_vector_and_no_sha1_downgrade() {
    let check = build(Preset::Github, &["It's a Secret to Everybody"]);
    let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    ok(check_parts(
        &check,
        "POST",
        None,
        &[("x-hub-signature-256", good)],
        b"Hello, World!",
        NOW,
    ));
    let sha1 = format!(
        "sha1={}",
        hex::encode(compute(
            Algorithm::Sha1,
            b"It's a Secret to Everybody",
            &[b"Hello, World!"]
        ))
    );
    let bad = "sha256=0000000000000000000000000000000000000000000000000000000000000000";
    // A valid SHA-1 beside an invalid SHA-256 is rejected, and SHA-1 alone is not enough.
    let both = [
        ("x-hub-signature-256", bad),
        ("x-hub-signature", sha1.as_str()),
    ];
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            None,
            &both,
            b"Hello, World!",
            NOW
        )),
        "no_match"
    );
    let only_sha1 = [("x-hub-signature", sha1.as_str())];
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            None,
            &only_sha1,
            b"Hello, World!",
            NOW
        )),
        "missing_header"
    );
}

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_TS: i64 = 1_614_265_330;

fn sw_headers(signature: &str, ts: i64) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature.to_string()),
    ]
}

fn check_owned(
    check: &PresetCheck,
    headers: &[(&str, String)],
    body: &[u8],
    now_ms: i64,
) -> Result<Outcome, Failure> {
    let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    check_parts(check, "POST", None, &borrowed, body, now_ms)
}

#[test]
fn standard_webhooks_vectors_and_boundaries() {
    let check = build(Preset::StandardWebhooks, &[SW_SECRET]);
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let headers = sw_headers(sig, SW_TS);
    ok(check_owned(&check, &headers, SW_BODY, SW_TS * 1000));
    // 300 s either way is accepted; 301 s is not.
    ok(check_owned(&check, &headers, SW_BODY, (SW_TS + 300) * 1000));
    ok(check_owned(&check, &headers, SW_BODY, (SW_TS - 300) * 1000));
    assert_eq!(
        kind(check_owned(&check, &headers, SW_BODY, (SW_TS + 301) * 1000)),
        "stale_timestamp"
    );
    assert_eq!(
        kind(check_owned(&check, &headers, SW_BODY, (SW_TS - 301) * 1000)),
        "stale_timestamp"
    );
    // Several entries, unknown versions ignored, any valid one passes.
    let listed = sw_headers(&format!("v2,abc v1,Zm9v {sig}"), SW_TS);
    ok(check_owned(&check, &listed, SW_BODY, SW_TS * 1000));
    // An empty `v1,` and a non-integer timestamp are errors, not panics.
    assert_eq!(
        kind(check_owned(
            &check,
            &sw_headers("v1,", SW_TS),
            SW_BODY,
            SW_TS * 1000
        )),
        "malformed"
    );
    let mut bad_ts = headers.clone();
    bad_ts[1].1 = "1614265330.5".to_string();
    assert_eq!(
        kind(check_owned(&check, &bad_ts, SW_BODY, SW_TS * 1000)),
        "malformed"
    );
}

#[test]
fn standard_webhooks_asymmetric_vector() {
    let seed = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let public = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    assert_eq!(
        sign::verifying_secret(Preset::StandardWebhooks, seed).unwrap(),
        public
    );
    let check = build(Preset::StandardWebhooks, &[public]);
    let sig = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
    ok(check_owned(
        &check,
        &sw_headers(sig, SW_TS),
        SW_BODY,
        SW_TS * 1000,
    ));
    // An HMAC `v1` entry cannot be checked with a public key, so it is no match.
    let hmac = sw_headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_TS);
    assert_eq!(
        kind(check_owned(&check, &hmac, SW_BODY, SW_TS * 1000)),
        "no_match"
    );
}

#[test]
fn slack_docs_vector() {
    let check = build(Preset::Slack, &["8f742231b10e8888abcd99yyyzzz85a5"]);
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let headers = [
        (
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
        ("x-slack-request-timestamp", "1531420618"),
    ];
    ok(check_parts(
        &check,
        "POST",
        None,
        &headers,
        body,
        1_531_420_618_000,
    ));
    assert_eq!(
        kind(check_parts(&check, "POST", None, &headers, body, NOW)),
        "stale_timestamp"
    );
}

const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TWILIO_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";

#[test]
fn twilio_vectors_with_ports_duplicates_and_json() {
    let check = build(Preset::Twilio, &["12345"]);
    let twilio = |url: &str, body: &[u8], sig: &str| {
        check_parts(
            &check,
            "POST",
            Some(url),
            &[("x-twilio-signature", sig)],
            body,
            NOW,
        )
    };
    ok(twilio(
        TWILIO_URL,
        TWILIO_FORM,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    ));
    // Signed with the port, received without it, and the other way round.
    ok(twilio(
        TWILIO_URL,
        TWILIO_FORM,
        "kvajT1Ptam85bY51eRf/AJRuM3w=",
    ));
    ok(twilio(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        TWILIO_FORM,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    ));
    ok(twilio(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        TWILIO_FORM,
        "0ZXoZLH/DfblKGATFgpif+LLRf4=",
    ));
    ok(twilio(
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        TWILIO_FORM,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
    ));
    // A non-default port is part of the URL and is never dropped.
    assert_eq!(
        kind(twilio(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            TWILIO_FORM,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        )),
        "no_match"
    );
    let duplicates = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
    ok(twilio(
        TWILIO_URL,
        duplicates,
        "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
    ));
    let json_url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let json = br#"{"property": "value", "boolean": true}"#;
    ok(twilio(json_url, json, "a9nBmqA0ju/hNViExpshrM61xv4="));
    assert_eq!(
        kind(twilio(
            json_url,
            br#"{"property": "value", "boolean": false}"#,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        )),
        "no_match"
    );
}

#[test]
fn square_vector_and_url_mismatch() {
    let check = build(Preset::Square, &["Ibxx_5AKakO-3qeNVR61Dw"]);
    let body = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    let headers = [(
        "x-square-hmacsha256-signature",
        "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
    )];
    let url = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    ok(check_parts(&check, "POST", Some(url), &headers, body, NOW));
    let other = "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            Some(other),
            &headers,
            body,
            NOW
        )),
        "no_match"
    );
    assert_eq!(
        check.delivery_id(&HeaderMap::new(), body).as_deref(),
        Some("ac3ac95b-f97d-458c-a6e6-18981597e05f")
    );
}

#[test]
fn hubspot_v3_vector_in_milliseconds() {
    let check = build(Preset::Hubspot, &["yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"]);
    let headers = [
        (
            "x-hubspot-signature-v3",
            "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
        ),
        ("x-hubspot-request-timestamp", "15000000"),
    ];
    let body = b"{'example_field':'example_value'}";
    let url = Some("https://www.example.com/webhook_uri");
    ok(check_parts(&check, "POST", url, &headers, body, 15_000_000));
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            url,
            &headers,
            body,
            15_000_000 + 300_001
        )),
        "stale_timestamp"
    );
    assert_eq!(
        kind(check_parts(&check, "GET", url, &headers, body, 15_000_000)),
        "no_match"
    );
}

#[test]
fn paddle_vector_variance_and_unknown_keys() {
    let check = build(Preset::Paddle, &["VALID_SECRET"]);
    let body = br#"{"data": ["1", "2"]}"#;
    let h1 = "h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9";
    let value = format!("ts=1698796800;{h1}");
    let at = |now_s: i64, value: &str| {
        check_parts(
            &check,
            "POST",
            None,
            &[("paddle-signature", value)],
            body,
            now_s * 1000,
        )
    };
    ok(at(1_698_796_800, &value));
    ok(at(1_698_796_805, &value));
    assert_eq!(kind(at(1_698_796_806, &value)), "stale_timestamp");
    ok(at(1_698_796_800, &format!("ts=1698796800;h2=abcd;{h1}")));
    assert_eq!(
        kind(at(
            1_698_796_800,
            &format!("ts=1698796800;h1=00;{}", "h1=11")
        )),
        "no_match"
    );
}

#[test]
fn sendgrid_published_ecdsa_vector() {
    let key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    let check = build(Preset::Sendgrid, &[key]);
    let body = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";
    let headers = [
        (
            "x-twilio-email-event-webhook-signature",
            "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
        ),
        ("x-twilio-email-event-webhook-timestamp", "1600112502"),
    ];
    ok(check_parts(
        &check,
        "POST",
        None,
        &headers,
        body,
        1_600_112_502_000,
    ));
    // Without the trailing CRLF the signature no longer matches.
    let trimmed = &body[..body.len() - 2];
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            None,
            &headers,
            trimmed,
            1_600_112_502_000
        )),
        "no_match"
    );
}

#[test]
fn zendesk_signs_timestamp_then_body() {
    let check = build(
        Preset::Zendesk,
        &["HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="],
    );
    let body = br#"{"say": "hello"}"#;
    let at = |sig: &str| {
        let headers = [
            ("x-zendesk-webhook-signature", sig),
            (
                "x-zendesk-webhook-signature-timestamp",
                "2021-07-25T10:00:00Z",
            ),
        ];
        check_parts(&check, "POST", None, &headers, body, 1_627_207_200_000)
    };
    ok(at("Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="));
    assert_eq!(
        kind(at("tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=")),
        "no_match"
    );
}

#[test]
fn stripe_key_is_not_base64_decoded() {
    let secret = "whsec_test_secret";
    let check = build(Preset::Stripe, &[secret]);
    let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    let ts = NOW / 1000;
    let content = [format!("{ts}.").as_bytes(), body].concat();
    let good = hex::encode(compute(Algorithm::Sha256, secret.as_bytes(), &[&content]));
    let decoded = crate::security::engine::keys::lenient_base64("test_secret").unwrap_or_default();
    let wrong = hex::encode(compute(Algorithm::Sha256, &decoded, &[&content]));
    let header = |sig: &str| {
        format!(
            "t={ts},v1={sig},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
        )
    };
    ok(check_parts(
        &check,
        "POST",
        None,
        &[("stripe-signature", &header(&good))],
        body,
        NOW,
    ));
    assert_eq!(
        kind(check_parts(
            &check,
            "POST",
            None,
            &[("stripe-signature", &header(&wrong))],
            body,
            NOW
        )),
        "no_match"
    );
    assert_eq!(
        check.delivery_id(&HeaderMap::new(), body).as_deref(),
        Some("evt_test_webhook")
    );
}

// ---- The same cases for every preset -----------------------------------------------------

/// A preset's test fixture: the secret to sign with, the one to verify with, and a request.
struct Fixture {
    preset: Preset,
    signing: String,
    verifying: String,
    other_signing: String,
    method: &'static str,
    url: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

const ORG_ID: &str = "00D000000000062EAA";

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

fn fixture(preset: Preset) -> Fixture {
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
fn body_is_unprotected(preset: Preset) -> bool {
    matches!(
        preset,
        Preset::Mailgun | Preset::GitlabToken | Preset::Okta | Preset::Servicenow | Preset::Msgraph
    )
}

#[test]
fn every_preset_accepts_what_it_signs_and_rejects_a_tampered_body() {
    for preset in Preset::ALL.iter().copied() {
        let fixture = fixture(preset);
        let check = build(preset, &[&fixture.verifying]);
        let out = fixture.signed(&fixture.signing, NOW);
        let outcome = fixture.check(&check, &out, NOW);
        assert!(outcome.is_ok(), "{}: {:?}", preset.name(), outcome.err());
        let mut tampered = out.clone();
        // Change one byte that the provider's scheme covers.
        let at = match preset {
            Preset::Salesforce => tampered.body.windows(3).position(|w| w == b"62E").unwrap(),
            Preset::Twilio => tampered.body.iter().rposition(|&b| b == b'1').unwrap(),
            // The event data, which every JSON preset but Mailgun covers.
            _ => {
                tampered
                    .body
                    .windows(5)
                    .position(|w| w == b"\"n\":1")
                    .unwrap()
                    + 4
            }
        };
        tampered.body[at] ^= 0x01;
        let result = kind(fixture.check(&check, &tampered, NOW));
        if body_is_unprotected(preset) {
            assert_eq!(
                result,
                "valid",
                "{}: documented as not covering the body",
                preset.name()
            );
        } else {
            assert!(
                ["no_match", "malformed"].contains(&result),
                "{}: {result}",
                preset.name()
            );
        }
    }
}

#[test]
fn every_preset_rejects_a_wrong_secret_and_accepts_a_rotated_one() {
    for preset in Preset::ALL.iter().copied() {
        let fixture = fixture(preset);
        let other_verifying = sign::verifying_secret(preset, &fixture.other_signing).unwrap();
        let out = fixture.signed(&fixture.other_signing, NOW);
        let only_old = build(preset, &[&fixture.verifying]);
        assert_eq!(
            kind(fixture.check(&only_old, &out, NOW)),
            "no_match",
            "{}",
            preset.name()
        );
        let rotated = build(preset, &[&fixture.verifying, &other_verifying]);
        ok(fixture.check(&rotated, &out, NOW));
        ok(fixture.check(&rotated, &fixture.signed(&fixture.signing, NOW), NOW));
    }
}

#[test]
fn every_timestamped_preset_rejects_stale_and_future_timestamps() {
    let mut timestamped = 0;
    for preset in Preset::ALL.iter().copied() {
        let fixture = fixture(preset);
        if !fixture.timestamped() {
            continue;
        }
        timestamped += 1;
        let check = build(preset, &[&fixture.verifying]);
        let hour = 3_600_000;
        let stale = fixture.signed(&fixture.signing, NOW - hour);
        assert_eq!(
            kind(fixture.check(&check, &stale, NOW)),
            "stale_timestamp",
            "{}",
            preset.name()
        );
        let future = fixture.signed(&fixture.signing, NOW + hour);
        assert_eq!(
            kind(fixture.check(&check, &future, NOW)),
            "stale_timestamp",
            "{}",
            preset.name()
        );
    }
    assert_eq!(timestamped, 14);
}

#[test]
fn every_preset_rejects_a_malformed_or_missing_credential() {
    for preset in Preset::ALL.iter().copied() {
        let fixture = fixture(preset);
        let check = build(preset, &[&fixture.verifying]);
        let mut out = fixture.signed(&fixture.signing, NOW);
        let original = out.clone();
        // Garble every header that signing added, and any signature inside the body.
        for (name, value) in out.headers.iter_mut() {
            if name != "content-type" {
                *value = "%%not a signature%%".to_string();
            }
        }
        if preset == Preset::Mailgun {
            sign_json_garbage(&mut out.body, "/signature/signature");
        }
        if preset == Preset::Salesforce {
            out.body = b"<soapenv:Envelope><soapenv:Body>".to_vec();
        }
        if preset == Preset::Msgraph {
            out.body = br#"{"value":"x"}"#.to_vec();
        }
        let result = kind(fixture.check(&check, &out, NOW));
        assert!(
            ["malformed", "missing_header", "no_match"].contains(&result),
            "{}: {result}",
            preset.name()
        );
        // And with the credential removed altogether.
        let mut bare = original;
        bare.headers.retain(|(name, _)| name == "content-type");
        if !matches!(
            preset,
            Preset::Mailgun | Preset::Salesforce | Preset::Msgraph | Preset::Linear
        ) {
            assert_eq!(
                kind(fixture.check(&check, &bare, NOW)),
                "missing_header",
                "{}",
                preset.name()
            );
        }
    }
}

fn sign_json_garbage(body: &mut Vec<u8>, pointer: &str) {
    let mut value: serde_json::Value = serde_json::from_slice(body).unwrap();
    *value.pointer_mut(pointer).unwrap() = serde_json::Value::String("zz".to_string());
    *body = serde_json::to_vec(&value).unwrap();
}

/// A definition as the server builds it, for the replay cache.
fn definition(preset: Preset, secret: &str) -> Arc<SecurityDef> {
    let mut c = config(&[secret]);
    if table::signed(preset)
        .is_some_and(|s| s.scheme.content.uses(&crate::security::engine::Part::Url))
    {
        c.url = Some(Text("https://example.com/webhooks/test".to_string()));
    }
    let table = to_security_config(preset, c);
    Arc::new(SecurityDef::build("test", &table).unwrap())
}

fn to_security_config(preset: Preset, config: PresetConfig) -> SecurityConfig {
    // Round-trip through TOML, as a user would write it.
    let mut text = format!(
        "type = {:?}\nsecrets = [{:?}]\n",
        preset.name(),
        config.secrets[0].expose()
    );
    if let Some(url) = &config.url {
        text.push_str(&format!("url = {:?}\n", url.as_str()));
    }
    toml::from_str(&text).unwrap()
}

fn unverified(out: &Outgoing) -> Unverified {
    let uri: http::Uri = out.url.parse().unwrap();
    let mut builder = http::Request::builder()
        .method(out.method.as_str())
        .uri(uri);
    for (name, value) in &out.headers {
        builder = builder.header(name, value);
    }
    let (head, ()) = builder.body(()).unwrap().into_parts();
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    Unverified::new(head, bytes::Bytes::from(out.body.clone()), peer)
}

#[test]
fn every_timestamped_preset_refuses_a_replayed_message() {
    for preset in Preset::ALL.iter().copied() {
        let fixture = fixture(preset);
        if !fixture.timestamped() {
            continue;
        }
        let definitions = [definition(preset, &fixture.verifying)];
        let out = fixture.signed(&fixture.signing, NOW);
        let first = verify_at(&definitions, unverified(&out), NOW).unwrap();
        // Not yet acknowledged: a concurrent duplicate is refused while the first runs.
        let (.., settlement) = first.into_parts();
        let again = verify_at(&definitions, unverified(&out), NOW + 1000).unwrap_err();
        assert_eq!(again.failure.kind(), "replayed", "{}", preset.name());
        // A failed delivery releases its id, so the provider's retry is processed...
        settlement.settle(false);
        let retry = verify_at(&definitions, unverified(&out), NOW + 2000).unwrap();
        let (.., settlement) = retry.into_parts();
        settlement.settle(true);
        // ...and once acknowledged, the same message is a replay.
        let replay = verify_at(&definitions, unverified(&out), NOW + 3000).unwrap_err();
        assert_eq!(replay.failure.kind(), "replayed", "{}", preset.name());
        assert_eq!(replay.status, http::StatusCode::OK);
    }
}

// ---- Handshakes and delivery ids ---------------------------------------------------------

#[test]
fn handshakes_are_answered_only_when_verified() {
    // Twitch: a signed verification request gets its challenge back as text/plain.
    let fixture = fixture(Preset::Twitch);
    let check = build(Preset::Twitch, &[&fixture.verifying]);
    let mut out = Outgoing {
        method: "POST".to_string(),
        url: fixture.url.to_string(),
        headers: vec![(
            "twitch-eventsub-message-type".to_string(),
            "webhook_callback_verification".to_string(),
        )],
        body: br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}"#.to_vec(),
    };
    sign::sign(Preset::Twitch, &fixture.signing, &mut out, NOW).unwrap();
    let reply = ok(fixture.check(&check, &out, NOW)).handshake.unwrap();
    assert_eq!(reply.body, "pogchamp-kappa-360noscope-vohiyo");
    assert!(reply.content_type.starts_with("text/plain"));
    let forged = fixture.signed(&fixture.other_signing, NOW);
    assert!(fixture.check(&check, &forged, NOW).is_err());

    // Okta: a GET with the challenge, and the right Authorization.
    let okta = build(Preset::Okta, &["Bearer t"]);
    let headers = [
        ("authorization", "Bearer t"),
        ("x-okta-verification-challenge", "abc"),
    ];
    let reply = ok(check_parts(&okta, "GET", None, &headers, b"", NOW))
        .handshake
        .unwrap();
    assert_eq!(reply.body, r#"{"verification":"abc"}"#);
    let wrong = [
        ("authorization", "Bearer x"),
        ("x-okta-verification-challenge", "abc"),
    ];
    assert_eq!(
        kind(check_parts(&okta, "GET", None, &wrong, b"", NOW)),
        "no_match"
    );

    // Graph: validation carries no clientState; the token is echoed as text/plain.
    let graph = build(Preset::Msgraph, &["state"]);
    let reply = ok(check_parts(
        &graph,
        "POST",
        Some("https://x/y?validationToken=Validation%3A%20Testing"),
        &[],
        b"",
        NOW,
    ))
    .handshake
    .unwrap();
    assert_eq!(reply.body, "Validation: Testing");

    // Salesforce: no handshake, but an acknowledgement for after the service.
    let sf = build(Preset::Salesforce, &[ORG_ID]);
    let (_, body) = test_body(Preset::Salesforce);
    let outcome = ok(check_parts(&sf, "POST", None, &[], &body, NOW));
    assert!(outcome.handshake.is_none());
    assert!(
        std::str::from_utf8(&outcome.acknowledgement.unwrap().body)
            .unwrap()
            .contains("<Ack>true</Ack>")
    );
}

#[test]
fn delivery_ids_come_from_each_providers_header_or_body() {
    let headers = header_map(&[("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")]);
    assert_eq!(
        delivery_id(Preset::Github, &headers, b"").as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    let headers = header_map(&[("webhook-id", "msg_1")]);
    assert_eq!(
        delivery_id(Preset::Svix, &headers, b"").as_deref(),
        Some("msg_1")
    );
    assert_eq!(
        delivery_id(Preset::Github, &HeaderMap::new(), b"").as_deref(),
        None
    );
    assert_eq!(
        delivery_id(
            Preset::Pagerduty,
            &HeaderMap::new(),
            br#"{"event":{"id":"01"}}"#
        )
        .as_deref(),
        Some("01")
    );
    let long = format!("{{\"id\":\"{}\"}}", "x".repeat(300));
    assert_eq!(
        delivery_id(Preset::Stripe, &HeaderMap::new(), long.as_bytes()),
        None
    );
}

#[test]
fn zoom_validation_is_answered_with_the_matching_secret() {
    let check = build(Preset::Zoom, &["old-secret", "new-secret"]);
    let mut out = Outgoing {
        method: "POST".to_string(),
        url: "https://example.com/zoom".to_string(),
        headers: Vec::new(),
        body: br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#.to_vec(),
    };
    sign::sign(Preset::Zoom, "new-secret", &mut out, NOW).unwrap();
    let headers: Vec<(&str, &str)> = out
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = ok(check_parts(&check, "POST", None, &headers, &out.body, NOW))
        .handshake
        .unwrap();
    let expected = hex::encode(compute(
        Algorithm::Sha256,
        b"new-secret",
        &[b"qgg8vlvZRS6UYooatFL8Aw"],
    ));
    assert!(
        std::str::from_utf8(&reply.body)
            .unwrap()
            .contains(&expected)
    );
}

#[test]
fn config_errors_name_the_key() {
    let err = PresetCheck::build(Preset::Discord, &config(&["not hex"])).unwrap_err();
    assert!(err.contains("secret #1"), "{err}");
    let mut c = config(&["x"]);
    c.tolerance = Some(crate::config::units::HumanDuration(
        std::time::Duration::from_secs(1),
    ));
    assert!(
        PresetCheck::build(Preset::Github, &c)
            .unwrap_err()
            .contains("tolerance")
    );
    let err = PresetCheck::build(Preset::Servicenow, &config(&["nopassword"])).unwrap_err();
    assert!(err.contains("user:password"), "{err}");
}
