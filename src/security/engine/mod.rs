//! The one verification engine under every signed kind: the generic `hmac` kind and each
//! provider preset are a [`Scheme`] (data) run by [`verify`] (code).
//!
//! A scheme says where the signature is and how it is laid out, which algorithm made it,
//! which bytes were signed (a [`Template`]), where the timestamp and the message id are, and
//! how far the timestamp may drift. [`verify`] is pure: it takes `now` as a parameter and
//! keeps no state; the replay cache lives one level up, in [`super::replay`].
//!
//! Order of checks, on purpose: headers are read and split, the signature is checked over
//! the raw bytes, and only then is the timestamp's window checked, so an unverified
//! timestamp is never trusted. Failing either gives the client the same 401.

pub mod header;
pub mod keys;
pub mod template;
pub mod time;
pub mod url;

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};
use p256::ecdsa::signature::Verifier as _;
use sha2::{Digest, Sha256};

pub use self::header::Layout;
pub use self::keys::{Key, KeyFormat};
pub use self::template::{Part, Template};
pub use self::time::TimeFormat;
pub use self::url::UrlForms;
use super::Failure;
use super::compare::bytes_equal;
use super::hmac::{Algorithm, Encoding};

/// The algorithm that made a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    Hmac(Algorithm),
    Ed25519,
    /// ECDSA over P-256 with SHA-256; the signature is ASN.1 DER.
    EcdsaP256,
}

/// Where a value is found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The first of these headers that is present.
    Header(Vec<HeaderName>),
    /// A JSON pointer into the body (Mailgun signs inside the body; Linear's timestamp is
    /// there). A number is read as its decimal text.
    Json(String),
    /// The timestamp entry of a signature list (`t=` for Stripe).
    SignatureKey,
}

impl Field {
    pub fn header(name: &'static str) -> Field {
        Field::Header(vec![HeaderName::from_static(name)])
    }

    /// How the field is named in a failure message.
    fn describe(&self) -> String {
        match self {
            Field::Header(names) => names
                .iter()
                .map(HeaderName::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
            Field::Json(pointer) => format!("body field {pointer}"),
            Field::SignatureKey => "the signature's timestamp entry".to_string(),
        }
    }
}

/// A signing scheme, as data.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub signature: Field,
    pub layout: Layout,
    /// Which entry versions are checked, and with which algorithm; entries of any other
    /// version are ignored, so nothing downgrades to an unknown or weaker scheme. A
    /// [`Layout::Single`] signature has the version `""`.
    pub versions: Vec<(String, SigAlg)>,
    pub encoding: Encoding,
    pub content: Template,
    pub timestamp: Option<(Field, TimeFormat)>,
    pub id: Option<Field>,
    /// How far the timestamp may be from `now`, either way. `None` for schemes without one.
    pub tolerance_ms: Option<i64>,
    pub url_forms: UrlForms,
    /// A query parameter that carries the hex SHA-256 of the body (Twilio's `bodySHA256`);
    /// when it is present the body is checked against it and `{params}` is empty.
    pub body_hash_query: Option<String>,
}

/// A request as the engine sees it: everything as received.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub method: &'a str,
    /// The public URL the provider called, with its query. Never built from `Host`.
    pub url: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// A replay-cache entry: a digest of the message's id (or of its signed content, for
/// schemes without an id) and the time after which the message is stale anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayEntry {
    pub key: [u8; 32],
    pub expires_ms: i64,
}

/// What a passed check found.
#[derive(Debug, Clone)]
pub struct Matched {
    /// Which key verified the signature (Zoom's handshake answers with that key).
    pub key_index: usize,
    pub replay: Option<ReplayEntry>,
}

/// The longest message id accepted; ids are short tokens, and the id goes into logs.
const MAX_ID_LEN: usize = 256;

/// Verifies `message` under `scheme` with any of `keys`, at time `now_ms`.
pub fn verify(
    scheme: &Scheme,
    keys: &[Key],
    message: &Message,
    now_ms: i64,
) -> Result<Matched, Failure> {
    let needs_json = [Some(&scheme.signature), scheme.id.as_ref()]
        .into_iter()
        .chain(std::iter::once(scheme.timestamp.as_ref().map(|(f, _)| f)))
        .any(|field| matches!(field, Some(Field::Json(_))));
    let json = if needs_json {
        Some(
            serde_json::from_slice::<serde_json::Value>(message.body)
                .map_err(|_| Failure::Malformed("the body is not JSON".to_string()))?,
        )
    } else {
        None
    };
    let read = |field: &Field| read_field(field, message.headers, json.as_ref());

    let signature_text = read(&scheme.signature)?
        .ok_or_else(|| Failure::MissingHeader(scheme.signature.describe()))?;
    // Named only when a check fails: formatting it on every request is wasted work.
    let where_ = || scheme.signature.describe();
    let parsed = header::parse(&scheme.layout, &signature_text)
        .map_err(|why| Failure::Malformed(format!("{} {why}", where_())))?;

    let timestamp = match &scheme.timestamp {
        None => None,
        Some((field, format)) => {
            let text = match field {
                Field::SignatureKey => parsed.timestamp.map(Cow::Borrowed),
                other => read(other)?,
            }
            .ok_or_else(|| Failure::MissingHeader(field.describe()))?;
            let parsed_ms = format.parse(&text).ok_or_else(|| {
                Failure::Malformed(format!(
                    "{} is not a {format:?} timestamp",
                    field.describe()
                ))
            })?;
            Some((text, parsed_ms))
        }
    };
    let id = match &scheme.id {
        None => None,
        Some(field) => {
            let text = read(field)?.ok_or_else(|| Failure::MissingHeader(field.describe()))?;
            if text.is_empty() || text.len() > MAX_ID_LEN {
                return Err(Failure::Malformed(format!(
                    "{} must be 1 to {MAX_ID_LEN} characters",
                    field.describe()
                )));
            }
            Some(text)
        }
    };

    let url = if scheme.content.uses(&Part::Url) {
        Some(message.url.ok_or_else(|| {
            Failure::MissingHeader("the public URL (set `url` on the definition)".to_string())
        })?)
    } else {
        None
    };
    let params = params(scheme, message, url)?;

    let candidates = candidates(scheme, &parsed.entries, &where_)?;
    // Without a URL in the template there is one form, the empty one; `String::new` does
    // not allocate, so this costs nothing per request.
    let no_url = [String::new()];
    let url_variants = url.map(|url| scheme.url_forms.variants(url));
    let urls = url_variants.as_deref().unwrap_or(&no_url);
    let values = template::Values {
        id: id.as_deref().unwrap_or(""),
        timestamp: timestamp.as_ref().map(|(t, _)| t.as_ref()).unwrap_or(""),
        body: message.body,
        url: "",
        method: message.method,
        params: &params,
    };
    // The signed content under a URL form, as slices fed to the MAC one after the other:
    // neither the body nor the list of slices is copied or collected.
    let content = |url| scheme.content.slices(template::Values { url, ..values });

    let mut matched = None;
    for (index, key) in keys.iter().enumerate() {
        // Every key is tried even after a match, so timing does not tell which one matched.
        let ok = urls.iter().fold(false, |ok, url| {
            ok | key_matches(key, content(url), &candidates)
        });
        if ok && matched.is_none() {
            matched = Some(index);
        }
    }
    let Some(key_index) = matched else {
        return Err(Failure::NoMatch(format!(
            "{} matched none of the {} key(s)",
            where_(),
            keys.len()
        )));
    };

    let replay = match (timestamp.as_ref().map(|(_, ms)| *ms), scheme.tolerance_ms) {
        (Some(timestamp_ms), Some(tolerance_ms)) => {
            match time::skew(timestamp_ms, now_ms, tolerance_ms) {
                time::Skew::Within => {}
                time::Skew::TooOld(by) => {
                    return Err(Failure::StaleTimestamp(format!(
                        "the timestamp is {} s old; the tolerance is {} s",
                        by / 1000,
                        tolerance_ms / 1000
                    )));
                }
                time::Skew::TooNew(by) => {
                    return Err(Failure::StaleTimestamp(format!(
                        "the timestamp is {} s in the future; the tolerance is {} s (check the clocks)",
                        by / 1000,
                        tolerance_ms / 1000
                    )));
                }
            }
            // Only a signed id can key the cache; an unsigned one could be changed at will.
            let key = match &id {
                Some(id) if scheme.content.uses(&Part::Id) => digest([&b"id:"[..], id.as_bytes()]),
                _ => digest(std::iter::once(&b"content:"[..]).chain(content(&urls[0]))),
            };
            Some(ReplayEntry {
                key,
                expires_ms: timestamp_ms.saturating_add(tolerance_ms),
            })
        }
        _ => None,
    };
    Ok(Matched { key_index, replay })
}

fn digest<'p>(parts: impl IntoIterator<Item = &'p [u8]>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Reads a field as text; `Ok(None)` when it is absent. Header values and JSON strings are
/// borrowed, not copied.
fn read_field<'a>(
    field: &Field,
    headers: &'a HeaderMap,
    json: Option<&'a serde_json::Value>,
) -> Result<Option<Cow<'a, str>>, Failure> {
    match field {
        Field::Header(names) => match names.iter().find_map(|name| headers.get(name)) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .map(|s| Some(Cow::Borrowed(s.trim())))
                .map_err(|_| {
                    Failure::Malformed(format!("{} is not visible ASCII", field.describe()))
                }),
        },
        Field::Json(pointer) => match json.and_then(|value| value.pointer(pointer)) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(Cow::Borrowed(text))),
            Some(serde_json::Value::Number(number)) => Ok(Some(Cow::Owned(number.to_string()))),
            Some(_) => Err(Failure::Malformed(format!(
                "{} is neither a string nor a number",
                field.describe()
            ))),
        },
        // Read from the parsed signature header by the caller.
        Field::SignatureKey => Ok(None),
    }
}

/// Twilio's `{params}`: empty when the URL carries a body hash (checked here), else the
/// sorted form fields of a POST body.
fn params(scheme: &Scheme, message: &Message, url: Option<&str>) -> Result<Vec<u8>, Failure> {
    if !scheme.content.uses(&Part::Params) {
        return Ok(Vec::new());
    }
    if let (Some(name), Some(url)) = (&scheme.body_hash_query, url)
        && let Some(expected) = url::query_param(url, name)
    {
        return if url::body_hash_matches(message.body, expected) {
            Ok(Vec::new())
        } else {
            Err(Failure::NoMatch(format!(
                "the body does not match the URL's {name}"
            )))
        };
    }
    if !message.method.eq_ignore_ascii_case("POST") || message.body.is_empty() {
        return Ok(Vec::new());
    }
    url::sorted_form_params(message.body)
        .ok_or_else(|| Failure::Malformed("the body is not a form".to_string()))
}

/// A decoded signature and the algorithm it claims.
struct Candidate {
    alg: SigAlg,
    bytes: Vec<u8>,
}

fn candidates(
    scheme: &Scheme,
    entries: &[(&str, &str)],
    where_: &dyn Fn() -> String,
) -> Result<Vec<Candidate>, Failure> {
    let mut out = Vec::new();
    let mut known = 0;
    for (version, text) in entries {
        let Some((_, alg)) = scheme.versions.iter().find(|(v, _)| v == version) else {
            continue;
        };
        known += 1;
        if let Some(bytes) = scheme.encoding.decode(text) {
            out.push(Candidate { alg: *alg, bytes });
        }
    }
    if known == 0 {
        let versions: Vec<&str> = scheme.versions.iter().map(|(v, _)| v.as_str()).collect();
        return Err(Failure::Malformed(format!(
            "{} holds no signature of version {}",
            where_(),
            versions.join(" or ")
        )));
    }
    if out.is_empty() {
        return Err(Failure::Malformed(format!(
            "{} is not valid {:?}",
            where_(),
            scheme.encoding
        )));
    }
    Ok(out)
}

fn key_matches<'c>(
    key: &Key,
    content: impl Iterator<Item = &'c [u8]> + Clone,
    candidates: &[Candidate],
) -> bool {
    match key {
        Key::Hmac(secret) => {
            // One MAC per algorithm, compared with every candidate in constant time.
            let mut ok = false;
            for alg in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                let wanted = |c: &&Candidate| c.alg == SigAlg::Hmac(alg);
                if !candidates.iter().any(|c| wanted(&c)) {
                    continue;
                }
                let mac = secret.mac(alg, content.clone());
                for candidate in candidates.iter().filter(wanted) {
                    ok |= bool::from(bytes_equal(mac.as_slice(), &candidate.bytes));
                }
            }
            ok
        }
        // Asymmetric signatures need the message in one piece.
        Key::Ed25519(public) => candidates
            .iter()
            .filter(|c| c.alg == SigAlg::Ed25519)
            .any(|c| {
                ed25519_dalek::Signature::from_slice(&c.bytes)
                    .is_ok_and(|sig| public.verify_strict(&concat(content.clone()), &sig).is_ok())
            }),
        Key::P256(public) => candidates
            .iter()
            .filter(|c| c.alg == SigAlg::EcdsaP256)
            .any(|c| {
                p256::ecdsa::DerSignature::try_from(c.bytes.as_slice())
                    .is_ok_and(|sig| public.verify(&concat(content.clone()), &sig).is_ok())
            }),
    }
}

/// The signed content in one buffer, for the signatures that need the message at once.
fn concat<'c>(content: impl Iterator<Item = &'c [u8]>) -> Vec<u8> {
    content.collect::<Vec<_>>().concat()
}

#[cfg(test)]
mod tests;
