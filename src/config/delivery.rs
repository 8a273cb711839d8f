//! How a channel delivers to its service: `mode` (now, or durably in the background) and
//! `dedup` (which deliveries count as the same event).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use super::units::HumanDuration;
use crate::security::{self, SecurityDef};

/// When a channel's service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Now: the client gets the service's answer.
    #[default]
    Sync,
    /// Later: the event and its job are committed to the store, the client gets 202, and a
    /// worker runs the service, retrying until it succeeds or the job is dead.
    Async,
}

/// Where a channel's dedup key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupSource {
    /// A request header, as in `X-GitHub-Delivery`.
    Header(http::HeaderName),
    /// A JSON pointer into the body, as in `/id`.
    Json(String),
    /// The SHA-256 of the raw body.
    BodySha256,
    /// The delivery id of the channel's provider preset, when it has one.
    Provider,
}

/// A channel's dedup rule, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupRule {
    pub source: DedupSource,
    /// How long a key keeps later deliveries out.
    pub window: Duration,
}

/// Keys longer than this are stored as their SHA-256, so a sender cannot fill the store
/// with giant keys.
const MAX_KEY_LEN: usize = 200;

impl DedupRule {
    /// The dedup key of a request; `None` when the request carries none (then it is
    /// stored without dedup).
    pub fn key(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        security: &[Arc<SecurityDef>],
    ) -> Option<String> {
        let key = match &self.source {
            DedupSource::Header(name) => headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_string()),
            DedupSource::Json(pointer) => {
                let value: serde_json::Value = serde_json::from_slice(body).ok()?;
                match value.pointer(pointer)? {
                    serde_json::Value::String(text) => Some(text.clone()),
                    serde_json::Value::Number(number) => Some(number.to_string()),
                    _ => None,
                }
            }
            DedupSource::BodySha256 => Some(hex::encode(Sha256::digest(body))),
            DedupSource::Provider => security::delivery_id(security, headers, body),
        }?;
        if key.is_empty() {
            return None;
        }
        if key.len() > MAX_KEY_LEN {
            return Some(format!(
                "sha256:{}",
                hex::encode(Sha256::digest(key.as_bytes()))
            ));
        }
        Some(key)
    }
}

/// `dedup` as written: `false`, or a table with one of `header`, `json`, `body`, and an
/// optional `window`.
#[derive(Debug, Clone)]
pub(crate) enum RawDedup {
    Off,
    Rule(DedupRule),
}

impl<'de> Deserialize<'de> for RawDedup {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawDedupVisitor)
    }
}

struct RawDedupVisitor;

const DEDUP_SHAPES: &str = "`false`, { header = \"X-GitHub-Delivery\" }, { json = \"/id\" }, { body = \"sha256\" } or { provider = true }, each with an optional window = \"72h\"";

impl<'de> Visitor<'de> for RawDedupVisitor {
    type Value = RawDedup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DEDUP_SHAPES}")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<RawDedup, E> {
        if value {
            return Err(E::custom(format!(
                "`dedup = true` is ambiguous; use {DEDUP_SHAPES}"
            )));
        }
        Ok(RawDedup::Off)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDedup, A::Error> {
        let mut source = None;
        let mut window = None;
        let set = |found: DedupSource, source: &mut Option<DedupSource>| {
            if source.replace(found).is_some() {
                return Err(de::Error::custom(format!(
                    "give only one key source: {DEDUP_SHAPES}"
                )));
            }
            Ok(())
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "header" => {
                    let name: String = map.next_value()?;
                    let header = http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| de::Error::custom(format!("{name:?} is not a header name")))?;
                    set(DedupSource::Header(header), &mut source)?;
                }
                "json" => {
                    let pointer: String = map.next_value()?;
                    if !pointer.starts_with('/') {
                        return Err(de::Error::custom(format!(
                            "{pointer:?} is not a JSON pointer; write it as \"/id\" or \"/data/object/id\""
                        )));
                    }
                    set(DedupSource::Json(pointer), &mut source)?;
                }
                "body" => {
                    let hash: String = map.next_value()?;
                    if hash != "sha256" {
                        return Err(de::Error::custom(format!(
                            "body = {hash:?}: only \"sha256\" is supported"
                        )));
                    }
                    set(DedupSource::BodySha256, &mut source)?;
                }
                "provider" => {
                    let on: bool = map.next_value()?;
                    if !on {
                        return Err(de::Error::custom("write `dedup = false` to turn dedup off"));
                    }
                    set(DedupSource::Provider, &mut source)?;
                }
                "window" => window = Some(map.next_value::<HumanDuration>()?.0),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown dedup key `{other}`; use {DEDUP_SHAPES}"
                    )));
                }
            }
        }
        let source = source.ok_or_else(|| {
            de::Error::custom(format!("dedup needs a key source: {DEDUP_SHAPES}"))
        })?;
        let window = window.unwrap_or(crate::store::DEFAULT_DEDUP_WINDOW);
        if window.is_zero() {
            return Err(de::Error::custom("dedup `window` must be longer than zero"));
        }
        Ok(RawDedup::Rule(DedupRule { source, window }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(source: DedupSource) -> DedupRule {
        DedupRule {
            source,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn keys_from_header_json_and_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-delivery", "abc-1".parse().unwrap());
        let header = rule(DedupSource::Header("x-github-delivery".parse().unwrap()));
        assert_eq!(header.key(&headers, b"", &[]).as_deref(), Some("abc-1"));
        assert_eq!(header.key(&HeaderMap::new(), b"", &[]), None);

        let json = rule(DedupSource::Json("/data/id".to_string()));
        assert_eq!(
            json.key(&headers, br#"{"data":{"id":42}}"#, &[]).as_deref(),
            Some("42")
        );
        assert_eq!(json.key(&headers, b"not json", &[]), None);

        let body = rule(DedupSource::BodySha256);
        assert_eq!(body.key(&headers, b"x", &[]), body.key(&headers, b"x", &[]));
        assert_ne!(body.key(&headers, b"x", &[]), body.key(&headers, b"y", &[]));
    }

    #[test]
    fn long_keys_are_hashed() {
        let mut headers = HeaderMap::new();
        headers.insert("x-id", "a".repeat(1000).parse().unwrap());
        let key = rule(DedupSource::Header("x-id".parse().unwrap()))
            .key(&headers, b"", &[])
            .unwrap();
        assert!(
            key.starts_with("sha256:") && key.len() < MAX_KEY_LEN,
            "{key}"
        );
    }
}
