//! Published vectors from each provider's docs or official SDK tests.

use http::HeaderMap;

use super::*;
use crate::security::hmac::{Algorithm, compute};

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

pub(super) const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(super) const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
pub(super) const SW_TS: i64 = 1_614_265_330;

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

pub(super) const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
pub(super) const TWILIO_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";

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
