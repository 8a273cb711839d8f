//! Handshakes: requests a provider sends to check the endpoint, answered by the channel
//! itself instead of the service.
//!
//! Each function runs only after the preset's check passed, so a provider that signs its
//! handshake (Zoom, Twitch, Slack, Discord) gets an answer only for a genuine one. Replies
//! echo provider values only as JSON or `text/plain`, never into HTML.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::security::Reply;
use crate::security::engine::Key;
use crate::security::hmac::{Algorithm, Encoding, compute};

/// The longest challenge echoed back; real ones are well under this.
const MAX_CHALLENGE_LEN: usize = 1024;

fn parse(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn challenge(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty() && text.len() <= MAX_CHALLENGE_LEN)
}

pub(crate) fn json_reply(value: &Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "application/json",
        body: Bytes::from(value.to_string()),
    }
}

pub(crate) fn text_reply(text: &str) -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "text/plain; charset=utf-8",
        body: Bytes::from(text.to_string()),
    }
}

/// Zoom `endpoint.url_validation`: `{"plainToken": p, "encryptedToken": hex(HMAC(key, p))}`,
/// keyed with the secret that verified the request.
pub fn zoom(body: &[u8], key: &Key) -> Option<Reply> {
    let value = parse(body)?;
    if value.get("event")?.as_str()? != "endpoint.url_validation" {
        return None;
    }
    let plain = challenge(value.pointer("/payload/plainToken"))?;
    let Key::Hmac(secret) = key else {
        return None;
    };
    let encrypted = Encoding::Hex.encode(&compute(Algorithm::Sha256, secret, &[plain.as_bytes()]));
    Some(json_reply(
        &json!({ "plainToken": plain, "encryptedToken": encrypted }),
    ))
}

/// Twitch `webhook_callback_verification`: the `challenge`, as text/plain.
pub fn twitch(headers: &HeaderMap, body: &[u8]) -> Option<Reply> {
    let kind = headers.get("twitch-eventsub-message-type")?.to_str().ok()?;
    if kind != "webhook_callback_verification" {
        return None;
    }
    let value = parse(body)?;
    challenge(value.get("challenge")).map(text_reply)
}

/// Discord PING (`type` 1): `{"type":1}`.
pub fn discord(body: &[u8]) -> Option<Reply> {
    let value = parse(body)?;
    (value.get("type")?.as_u64()? == 1).then(|| json_reply(&json!({ "type": 1 })))
}

/// Slack `url_verification`: the `challenge`, as text/plain.
pub fn slack(body: &[u8]) -> Option<Reply> {
    let value = parse(body)?;
    if value.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    challenge(value.get("challenge")).map(text_reply)
}

/// Okta's one-time verification: a GET with `X-Okta-Verification-Challenge`.
pub fn okta(method: &str, headers: &HeaderMap) -> Option<Reply> {
    if !method.eq_ignore_ascii_case("GET") {
        return None;
    }
    let value = headers
        .get("x-okta-verification-challenge")?
        .to_str()
        .ok()?;
    challenge(Some(&Value::String(value.to_string())))
        .map(|v| json_reply(&json!({ "verification": v })))
}

/// Microsoft Graph subscription validation: `?validationToken=…`, echoed decoded as text/plain.
pub fn msgraph(query: &str) -> Option<Reply> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let (_, token) = pairs.into_iter().find(|(k, _)| k == "validationToken")?;
    challenge(Some(&Value::String(token))).map(text_reply)
}

/// The SOAP acknowledgement Salesforce needs for an outbound message, sent once the service
/// succeeded; without it Salesforce retries the message.
pub fn salesforce_ack() -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "text/xml; charset=utf-8",
        body: Bytes::from_static(
            br#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_answers_with_the_hmac_of_the_plain_token() {
        let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#;
        let reply = zoom(body, &Key::hmac(b"secret".to_vec())).unwrap();
        let value: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(value["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        let expected = hex::encode(compute(
            Algorithm::Sha256,
            b"secret",
            &[b"qgg8vlvZRS6UYooatFL8Aw"],
        ));
        assert_eq!(value["encryptedToken"], expected);
        assert!(zoom(br#"{"event":"meeting.started"}"#, &Key::hmac(vec![1])).is_none());
    }

    #[test]
    fn echoes_are_bounded_and_typed() {
        assert_eq!(msgraph("validationToken=a%20b").unwrap().body, "a b");
        assert_eq!(
            msgraph("validationToken=x").unwrap().content_type,
            "text/plain; charset=utf-8"
        );
        let long = format!("validationToken={}", "a".repeat(MAX_CHALLENGE_LEN + 1));
        assert!(msgraph(&long).is_none());
        assert!(slack(br#"{"type":"event_callback"}"#).is_none());
        assert_eq!(discord(br#"{"type":1}"#).unwrap().body, r#"{"type":1}"#);
        assert!(discord(br#"{"type":2}"#).is_none());
    }
}
