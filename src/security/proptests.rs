//! Property tests: every parser that reads network input, fed arbitrary input, returns an
//! error or a value, never panics; and no preset accepts a request nobody signed.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::config::{Preset, PresetConfig};
use super::engine::header::{self, Layout};
use super::engine::{KeyFormat, TimeFormat, url};
use super::presets::{Incoming, PresetCheck, tests::test_secret};
use crate::config::expand::Secret;

/// Every header any preset reads.
const HEADERS: &[&str] = &[
    "x-hub-signature-256",
    "x-hub-signature",
    "x-gitlab-token",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-twilio-signature",
    "x-square-hmacsha256-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "paddle-signature",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp",
    "x-pagerduty-signature",
    "linear-signature",
    "calendly-webhook-signature",
    "twitch-eventsub-message-signature",
    "twitch-eventsub-message-id",
    "twitch-eventsub-message-timestamp",
    "twitch-eventsub-message-type",
    "x-zm-signature",
    "x-zm-request-timestamp",
    "typeform-signature",
    "authorization",
    "x-okta-verification-challenge",
];

/// Header values: arbitrary text, and text shaped like real signature headers.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,120}",
        "(t|ts|v1|v1a|h1|sha256|sha1|v0|Basic)[=, ][0-9a-zA-Z+/=]{0,90}([,; ](t|ts|v1|v1a|h1|x)[=,][0-9a-zA-Z+/=.-]{0,90}){0,20}",
        "[0-9]{0,20}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?",
    ]
}

/// Bodies: arbitrary bytes, and JSON/XML shaped like the ones presets read.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        ("[ -~]{0,40}", "[ -~]{0,40}", "[ -~]{0,40}").prop_map(|(a, b, c)| {
            format!(r#"{{"signature":{{"timestamp":"{a}","token":"{b}","signature":"{c}"}},"webhookTimestamp":{a:?},"value":[{{"clientState":"{b}"}}],"type":1,"event":"endpoint.url_validation","payload":{{"plainToken":"{c}"}}}}"#).into_bytes()
        }),
        "[ -~]{0,60}".prop_map(|id| format!("<a:Envelope><a:Body><OrganizationId>{id}</OrganizationId></a:Body></a:Envelope>").into_bytes()),
    ]
}

fn headers_strategy() -> impl Strategy<Value = Vec<(usize, String)>> {
    proptest::collection::vec((0..HEADERS.len(), header_value()), 0..12)
}

fn checks() -> Vec<PresetCheck> {
    Preset::ALL
        .iter()
        .map(|&preset| {
            let secret = super::sign::verifying_secret(preset, &test_secret(preset, 0)).unwrap();
            let config = PresetConfig {
                secrets: vec![Secret::new(secret)],
                tolerance: None,
                url: None,
                cidrs: Vec::new(),
                replay_cache: None,
            };
            PresetCheck::build(preset, &config).unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn no_preset_accepts_or_panics_on_unsigned_input(
        headers in headers_strategy(),
        body in body(),
        method in prop_oneof![Just("POST"), Just("GET")],
        now_s in 0i64..4_000_000_000,
    ) {
        let mut map = HeaderMap::new();
        for (index, value) in &headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.append(HeaderName::from_static(HEADERS[*index]), value);
            }
        }
        for check in checks() {
            let result = check.check(
                &Incoming {
                    method,
                    url: Some("https://example.com/hook?a=1"),
                    query: "a=1",
                    headers: &map,
                    body: &body,
                    peer: None,
                },
                now_s * 1000,
            );
            prop_assert!(result.is_err(), "{} accepted unsigned input", check.preset().name());
        }
    }

    #[test]
    fn signature_header_parsers_never_panic(value in header_value(), raw in "\\PC{0,200}") {
        let layouts = [
            Layout::Single { prefix: "sha256=".to_string() },
            Layout::List { separator: ',', pair: '=', timestamp_key: Some("t".to_string()) },
            Layout::List { separator: ' ', pair: ',', timestamp_key: None },
            Layout::List { separator: ';', pair: '=', timestamp_key: Some("ts".to_string()) },
        ];
        for layout in &layouts {
            if let Ok(parsed) = header::parse(layout, &value) {
                prop_assert!(parsed.entries.len() <= header::MAX_ENTRIES);
            }
            let _ = header::parse(layout, &raw);
        }
    }

    #[test]
    fn timestamp_parsers_never_panic(value in header_value(), raw in "\\PC{0,60}") {
        for format in [TimeFormat::Seconds, TimeFormat::Milliseconds, TimeFormat::Rfc3339, TimeFormat::Iso8601] {
            let _ = format.parse(&value);
            let _ = format.parse(&raw);
        }
    }

    #[test]
    fn date_times_round_trip(ms in -62_000_000_000_000i64..250_000_000_000_000) {
        let text = TimeFormat::Rfc3339.format(ms);
        prop_assert_eq!(TimeFormat::Rfc3339.parse(&text), Some(ms));
    }

    #[test]
    fn key_and_body_parsers_never_panic(text in "\\PC{0,120}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for format in [KeyFormat::Utf8, KeyFormat::Whsec, KeyFormat::StandardWebhooks, KeyFormat::Ed25519Hex, KeyFormat::P256Der] {
            let _ = format.decode(&text);
        }
        let _ = url::sorted_form_params(&bytes);
        let _ = url::query_param(&text, "bodySHA256");
        let _ = url::UrlForms::WithAndWithoutPort.variants(&text);
        let _ = super::engine::Template::parse(&text);
        let _ = super::presets::handshake::msgraph(&text);
    }
}
