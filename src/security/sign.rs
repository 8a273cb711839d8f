//! Signing a request exactly as a provider would: used by `inlet send --provider` and by the
//! round-trip tests, so both exercise the same code.
//!
//! Signed presets are signed from their [`Scheme`] data, the same data the engine verifies
//! with, so a preset cannot sign one way and verify another without a test noticing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use serde_json::Value;

use super::config::Preset;
use super::engine::keys::lenient_base64;
use super::engine::{Field, KeyFormat, Layout, Part, Scheme, SigAlg, TimeFormat};
use super::hmac::compute;
use super::presets::table;

/// A request about to be sent. Signing may add headers, change the URL (Twilio's
/// `bodySHA256`) or write into a JSON body (Mailgun, Linear, Graph).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    /// Lower-case names; a header set here before signing (an id) is kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Outgoing {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }
}

/// A private key, as needed to sign.
enum SigningKey {
    Hmac(Vec<u8>),
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// Signs `request` as `preset` would at `now_ms`, with `secret` in the provider's form:
/// the shared secret for HMAC presets; for Discord a hex Ed25519 seed, for Standard Webhooks
/// `whsk_<b64 seed>` (v1a) or `whsec_…` (v1), for SendGrid a base64 PKCS#8 DER or hex P-256
/// private key. For presets without a signature it adds the credential they check.
pub fn sign(
    preset: Preset,
    secret: &str,
    request: &mut Outgoing,
    now_ms: i64,
) -> Result<(), String> {
    match table::signed(preset) {
        Some(signed) => {
            let key = signing_key(signed.key_format, secret)?;
            sign_scheme(&signed.scheme, &key, request, now_ms)
        }
        None => sign_static(preset, secret, request),
    }
}

/// The secret a receiver configures to verify what [`sign`] signs with `signing_secret`:
/// the same text for shared secrets, the public key for Ed25519 and ECDSA presets.
pub fn verifying_secret(preset: Preset, signing_secret: &str) -> Result<String, String> {
    let Some(signed) = table::signed(preset) else {
        return Ok(signing_secret.to_string());
    };
    Ok(match signing_key(signed.key_format, signing_secret)? {
        SigningKey::Hmac(_) => signing_secret.to_string(),
        SigningKey::Ed25519(key) => {
            let public = key.verifying_key().to_bytes();
            match signed.key_format {
                KeyFormat::StandardWebhooks => format!("whpk_{}", STANDARD.encode(public)),
                _ => hex::encode(public),
            }
        }
        SigningKey::P256(key) => {
            let der = key
                .verifying_key()
                .to_public_key_der()
                .map_err(|_| "cannot encode the public key".to_string())?;
            STANDARD.encode(der.as_bytes())
        }
    })
}

fn ed25519_seed(bytes: &[u8]) -> Result<SigningKey, String> {
    // A 64-byte key is seed followed by public key, as libsodium writes it.
    let seed: &[u8; 32] = bytes
        .get(..32)
        .filter(|_| bytes.len() == 32 || bytes.len() == 64)
        .and_then(|s| s.try_into().ok())
        .ok_or("an Ed25519 private key is a 32-byte seed")?;
    Ok(SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
        seed,
    )))
}

fn signing_key(format: KeyFormat, secret: &str) -> Result<SigningKey, String> {
    match format {
        KeyFormat::Utf8 => Ok(SigningKey::Hmac(secret.as_bytes().to_vec())),
        KeyFormat::Whsec => match super::engine::keys::KeyFormat::Whsec.decode(secret)? {
            super::engine::Key::Hmac(key) => Ok(SigningKey::Hmac(key.to_vec())),
            _ => unreachable!("whsec decodes to an HMAC key"),
        },
        KeyFormat::StandardWebhooks => match secret.strip_prefix("whsk_") {
            Some(seed) => {
                ed25519_seed(&lenient_base64(seed).ok_or("`whsk_` must be followed by base64")?)
            }
            None => signing_key(KeyFormat::Whsec, secret),
        },
        KeyFormat::Ed25519Hex => ed25519_seed(
            &hex::decode(secret.trim())
                .map_err(|_| "give the Ed25519 private key (seed) in hex")?,
        ),
        KeyFormat::P256Der => {
            let secret = secret.trim();
            let key = match hex::decode(secret) {
                Ok(scalar) => p256::ecdsa::SigningKey::from_slice(&scalar).ok(),
                Err(_) => lenient_base64(secret)
                    .and_then(|der| p256::ecdsa::SigningKey::from_pkcs8_der(&der).ok()),
            };
            key.map(SigningKey::P256).ok_or_else(|| {
                "give the P-256 private key as base64 PKCS#8 DER or 64 hex digits".to_string()
            })
        }
    }
}

fn sign_scheme(
    scheme: &Scheme,
    key: &SigningKey,
    request: &mut Outgoing,
    now_ms: i64,
) -> Result<(), String> {
    let (version, alg) = scheme
        .versions
        .iter()
        .find(|(_, alg)| {
            matches!(
                (key, alg),
                (SigningKey::Hmac(_), SigAlg::Hmac(_))
                    | (SigningKey::Ed25519(_), SigAlg::Ed25519)
                    | (SigningKey::P256(_), SigAlg::EcdsaP256)
            )
        })
        .cloned()
        .ok_or("this key cannot sign for this provider")?;

    let timestamp = scheme
        .timestamp
        .as_ref()
        .map(|(field, format)| (field, *format, format.format(now_ms)));
    if let Some((field, format, text)) = &timestamp {
        match field {
            Field::Header(names) => request.set_header(names[0].as_str(), text.clone()),
            Field::Json(pointer) => {
                let value = match format {
                    TimeFormat::Milliseconds => Value::from(now_ms),
                    _ => Value::String(text.clone()),
                };
                set_json(&mut request.body, pointer, value)?;
            }
            Field::SignatureKey => {}
        }
    }
    let id = match &scheme.id {
        None => String::new(),
        Some(Field::Header(names)) => match request.header(names[0].as_str()) {
            Some(existing) => existing.to_string(),
            None => {
                let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
                request.set_header(names[0].as_str(), id.clone());
                id
            }
        },
        Some(Field::Json(pointer)) => {
            let id = uuid::Uuid::now_v7().simple().to_string();
            set_json(&mut request.body, pointer, Value::String(id.clone()))?;
            id
        }
        Some(Field::SignatureKey) => String::new(),
    };

    let mut params = Vec::new();
    if scheme.content.uses(&Part::Params) {
        let is_form = request
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        match (&scheme.body_hash_query, is_form) {
            (_, true) if request.method.eq_ignore_ascii_case("POST") => {
                params = super::engine::url::sorted_form_params(&request.body)
                    .ok_or("the body is not a form")?;
            }
            (Some(name), false) if !request.body.is_empty() => {
                use sha2::Digest as _;
                let hash = hex::encode(sha2::Sha256::digest(&request.body));
                let joiner = if request.url.contains('?') { '&' } else { '?' };
                request.url = format!("{}{joiner}{name}={hash}", request.url);
            }
            _ => {}
        }
    }

    let content = scheme.content.render(&super::engine::template::Values {
        id: &id,
        timestamp: timestamp.as_ref().map(|(_, _, t)| t.as_str()).unwrap_or(""),
        body: &request.body,
        url: &request.url,
        method: &request.method,
        params: &params,
    });
    let signature = match (key, alg) {
        (SigningKey::Hmac(secret), SigAlg::Hmac(alg)) => compute(alg, secret, &[&content]),
        (SigningKey::Ed25519(key), _) => {
            use ed25519_dalek::Signer as _;
            key.sign(&content).to_bytes().to_vec()
        }
        (SigningKey::P256(key), _) => {
            use p256::ecdsa::signature::Signer as _;
            let signature: p256::ecdsa::DerSignature = key.sign(&content);
            signature.as_bytes().to_vec()
        }
        _ => unreachable!("the version was chosen to fit the key"),
    };
    let encoded = scheme.encoding.encode(&signature);
    let value = match &scheme.layout {
        Layout::Single { prefix } => format!("{prefix}{encoded}"),
        Layout::List {
            separator,
            pair,
            timestamp_key,
        } => match (timestamp_key, &timestamp) {
            (Some(key), Some((_, _, ts))) => {
                format!("{key}{pair}{ts}{separator}{version}{pair}{encoded}")
            }
            _ => format!("{version}{pair}{encoded}"),
        },
    };
    match &scheme.signature {
        Field::Header(names) => request.set_header(names[0].as_str(), value),
        Field::Json(pointer) => set_json(&mut request.body, pointer, Value::String(value))?,
        Field::SignatureKey => unreachable!("a signature is never inside itself"),
    }
    Ok(())
}

fn sign_static(preset: Preset, secret: &str, request: &mut Outgoing) -> Result<(), String> {
    match preset {
        Preset::GitlabToken => request.set_header("x-gitlab-token", secret.to_string()),
        Preset::Okta => request.set_header("authorization", secret.to_string()),
        Preset::Servicenow => {
            request.set_header(
                "authorization",
                format!("Basic {}", STANDARD.encode(secret)),
            );
        }
        Preset::Msgraph => {
            let mut value: Value = serde_json::from_slice(&request.body)
                .map_err(|_| "a Graph notification body must be JSON with a `value` array")?;
            let items = value
                .get_mut("value")
                .and_then(Value::as_array_mut)
                .ok_or("a Graph notification body needs a `value` array")?;
            for item in items {
                if let Some(object) = item.as_object_mut() {
                    object.insert("clientState".to_string(), Value::String(secret.to_string()));
                }
            }
            request.body = serde_json::to_vec(&value).expect("a JSON value always serialises");
        }
        // Salesforce sends its org id inside the SOAP body: write the secret there.
        Preset::Salesforce => set_organization_id(&mut request.body, secret),
        other => unreachable!("{} is a signed preset", other.name()),
    }
    Ok(())
}

/// Replaces the text of the first `OrganizationId` element (any namespace prefix).
fn set_organization_id(body: &mut Vec<u8>, id: &str) {
    let text = String::from_utf8_lossy(body).into_owned();
    let Some(open_end) = text
        .match_indices("OrganizationId>")
        .find(|(at, _)| {
            text[..*at]
                .rfind('<')
                .is_some_and(|lt| !text[lt..*at].contains('/'))
        })
        .map(|(at, found)| at + found.len())
    else {
        return;
    };
    let Some(close) = text[open_end..].find('<') else {
        return;
    };
    *body = format!("{}{id}{}", &text[..open_end], &text[open_end + close..]).into_bytes();
}

/// Writes `value` at `pointer` in a JSON object body, creating objects on the way.
fn set_json(body: &mut Vec<u8>, pointer: &str, value: Value) -> Result<(), String> {
    let mut root: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|_| "this provider signs inside a JSON body; --data must be a JSON object")?
    };
    let mut node = &mut root;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (index, part) in parts.iter().enumerate() {
        let object = node
            .as_object_mut()
            .ok_or("the JSON body must be an object")?;
        if index + 1 == parts.len() {
            object.insert((*part).to_string(), value);
            break;
        }
        node = object
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    *body = serde_json::to_vec(&root).expect("a JSON value always serialises");
    Ok(())
}
