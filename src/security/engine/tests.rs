//! Engine behaviour that no single preset shows: written against a small custom scheme.

use http::{HeaderMap, HeaderValue};

use super::*;
use crate::security::hmac::{Algorithm, Encoding, compute};

const NOW: i64 = 1_700_000_000_000;

fn scheme() -> Scheme {
    Scheme {
        signature: Field::header("x-sig"),
        layout: Layout::List {
            separator: ',',
            pair: '=',
            timestamp_key: Some("t".to_string()),
        },
        versions: vec![("v1".to_string(), SigAlg::Hmac(Algorithm::Sha256))],
        encoding: Encoding::Hex,
        content: Template::parse("{timestamp}.{body}").unwrap(),
        timestamp: Some((Field::SignatureKey, TimeFormat::Seconds)),
        id: None,
        tolerance_ms: Some(300_000),
        url_forms: UrlForms::Exact,
        body_hash_query: None,
    }
}

fn headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-sig", HeaderValue::from_str(value).unwrap());
    headers
}

fn run(value: &str, keys: &[&[u8]]) -> Result<Matched, Failure> {
    let keys: Vec<Key> = keys.iter().map(|k| Key::hmac(k.to_vec())).collect();
    let headers = headers(value);
    let message = Message {
        method: "POST",
        url: None,
        headers: &headers,
        body: b"{}",
    };
    verify(&scheme(), &keys, &message, NOW)
}

fn mac(key: &[u8], ts: i64) -> String {
    hex::encode(compute(
        Algorithm::Sha256,
        key,
        &[format!("{ts}.{{}}").as_bytes()],
    ))
}

#[test]
fn any_known_entry_and_any_key_may_match_and_the_key_is_reported() {
    let ts = NOW / 1000;
    let value = format!("t={ts},v0={},v1=00,v1={}", mac(b"new", ts), mac(b"new", ts));
    let matched = run(&value, &[b"old", b"new"]).unwrap();
    assert_eq!(matched.key_index, 1);
    assert!(matched.replay.is_some());
}

#[test]
fn unknown_versions_never_match() {
    let ts = NOW / 1000;
    // A valid MAC under an unknown version is not a signature this scheme accepts.
    let value = format!("t={ts},v2={}", mac(b"k", ts));
    assert!(matches!(run(&value, &[b"k"]), Err(Failure::Malformed(_))));
}

#[test]
fn the_window_is_checked_only_after_the_signature() {
    let old = NOW / 1000 - 301;
    let forged = format!("t={old},v1={}", mac(b"other", old));
    assert!(matches!(run(&forged, &[b"k"]), Err(Failure::NoMatch(_))));
    let genuine = format!("t={old},v1={}", mac(b"k", old));
    assert!(matches!(
        run(&genuine, &[b"k"]),
        Err(Failure::StaleTimestamp(_))
    ));
    let future = NOW / 1000 + 301;
    let ahead = format!("t={future},v1={}", mac(b"k", future));
    assert!(matches!(
        run(&ahead, &[b"k"]),
        Err(Failure::StaleTimestamp(_))
    ));
}

#[test]
fn replay_key_is_the_signed_content_without_an_id() {
    let ts = NOW / 1000;
    let value = format!("t={ts},v1={}", mac(b"k", ts));
    let first = run(&value, &[b"k"]).unwrap().replay.unwrap();
    let second = run(&value, &[b"k"]).unwrap().replay.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.expires_ms, ts * 1000 + 300_000);
}

#[test]
fn missing_and_malformed_are_told_apart() {
    let empty = HeaderMap::new();
    let message = Message {
        method: "POST",
        url: None,
        headers: &empty,
        body: b"",
    };
    assert!(matches!(
        verify(&scheme(), &[Key::hmac(b"k".to_vec())], &message, NOW),
        Err(Failure::MissingHeader(_))
    ));
    assert!(matches!(
        run("v1=00", &[b"k"]),
        Err(Failure::MissingHeader(_))
    ));
    assert!(matches!(
        run("t=abc,v1=00", &[b"k"]),
        Err(Failure::Malformed(_))
    ));
    assert!(matches!(
        run(&format!("t={},v1=zz", NOW / 1000), &[b"k"]),
        Err(Failure::Malformed(_))
    ));
}
