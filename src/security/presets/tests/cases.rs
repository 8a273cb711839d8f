//! The same cases for every preset: tampered body, wrong secret, rotated secret, stale and
//! future timestamps, malformed or missing credential, and a replayed message.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::config::expand::Text;
use crate::security::config::{PresetConfig, SecurityConfig};
use crate::security::{SecurityDef, Unverified, verify_at};

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
    Unverified::new(Box::new(head), bytes::Bytes::from(out.body.clone()), peer)
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
