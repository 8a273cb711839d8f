//! Key material: what a secret from the config or the command line means for a scheme.
//!
//! The same `whsec_` prefix means different things to different providers: Stripe uses the
//! whole string as the HMAC key, Standard Webhooks base64-decodes what follows it. A
//! [`KeyFormat`] names the rule, and [`Key`] is the decoded result. Keys are decoded once,
//! when the config is built, so a bad key is a config error and never a request failure.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;

use super::SigAlg;
use crate::security::hmac::HmacKey;

/// How a secret's text becomes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// The text's UTF-8 bytes are the HMAC key (Stripe, GitHub, Slack, Zendesk…).
    Utf8,
    /// `whsec_<base64>` (or bare base64): the decoded bytes are the HMAC key (Svix).
    Whsec,
    /// Standard Webhooks: `whsec_<base64>` is an HMAC key, `whpk_<base64>` an Ed25519
    /// public key.
    StandardWebhooks,
    /// An Ed25519 public key in hex (Discord's "Public Key").
    Ed25519Hex,
    /// A P-256 public key as base64 DER SubjectPublicKeyInfo (SendGrid).
    P256Der,
}

/// A decoded key. `Debug` never shows HMAC key bytes.
#[derive(Clone)]
pub enum Key {
    Hmac(HmacKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Hmac(_) => f.write_str("Key::Hmac(<redacted>)"),
            Key::Ed25519(_) => f.write_str("Key::Ed25519(<public>)"),
            Key::P256(_) => f.write_str("Key::P256(<public>)"),
        }
    }
}

impl Key {
    /// An HMAC key of these bytes.
    pub fn hmac(bytes: Vec<u8>) -> Key {
        Key::Hmac(HmacKey::new(bytes))
    }

    /// True when this key can check a signature made with `alg`.
    pub fn fits(&self, alg: SigAlg) -> bool {
        matches!(
            (self, alg),
            (Key::Hmac(_), SigAlg::Hmac(_))
                | (Key::Ed25519(_), SigAlg::Ed25519)
                | (Key::P256(_), SigAlg::EcdsaP256)
        )
    }
}

/// Base64 as the Standard Webhooks libraries read it: padding optional.
pub fn lenient_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text.trim_end_matches('=')))
        .ok()
}

impl KeyFormat {
    /// Decodes `secret`; the error says what the text should look like, without echoing it.
    pub fn decode(self, secret: &str) -> Result<Key, String> {
        match self {
            KeyFormat::Utf8 => Ok(Key::hmac(secret.as_bytes().to_vec())),
            KeyFormat::Whsec => whsec(secret),
            KeyFormat::StandardWebhooks => match secret.strip_prefix("whpk_") {
                Some(public) => ed25519_from_bytes(
                    &lenient_base64(public)
                        .ok_or("a `whpk_` key must be followed by base64 (32 bytes)")?,
                ),
                None if secret.starts_with("whsk_") => Err(
                    "`whsk_` is a private signing key; give the public `whpk_` key to verify"
                        .to_string(),
                ),
                None => whsec(secret),
            },
            KeyFormat::Ed25519Hex => ed25519_from_bytes(
                &hex::decode(secret.trim())
                    .map_err(|_| "an Ed25519 public key must be 64 hex digits")?,
            ),
            KeyFormat::P256Der => {
                let der = lenient_base64(secret.trim())
                    .ok_or("a P-256 public key must be base64 DER (as SendGrid shows it)")?;
                p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                    .map(Key::P256)
                    .map_err(|_| {
                        "not a P-256 public key in DER SubjectPublicKeyInfo form".to_string()
                    })
            }
        }
    }
}

fn whsec(secret: &str) -> Result<Key, String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match lenient_base64(encoded) {
        Some(bytes) if !bytes.is_empty() => Ok(Key::hmac(bytes)),
        _ => Err("a `whsec_` secret must be `whsec_` followed by base64".to_string()),
    }
}

fn ed25519_from_bytes(bytes: &[u8]) -> Result<Key, String> {
    let array: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| "an Ed25519 public key is 32 bytes")?;
    ed25519_dalek::VerifyingKey::from_bytes(array)
        .map(Key::Ed25519)
        .map_err(|_| "not a valid Ed25519 public key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_keeps_whsec_verbatim_but_svix_decodes_it() {
        let Key::Hmac(stripe) = KeyFormat::Utf8.decode("whsec_test_secret").unwrap() else {
            panic!()
        };
        assert_eq!(&stripe[..], b"whsec_test_secret");
        let Key::Hmac(svix) = KeyFormat::Whsec
            .decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(svix.len(), 24);
    }

    #[test]
    fn bad_keys_are_described_not_echoed() {
        let err = KeyFormat::Ed25519Hex.decode("zz-secret-zz").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(KeyFormat::P256Der.decode("AAAA").is_err());
        assert!(KeyFormat::StandardWebhooks.decode("whsk_AAAA").is_err());
        assert!(KeyFormat::Whsec.decode("whsec_!!!").is_err());
        assert!(format!("{:?}", KeyFormat::Utf8.decode("hunter2").unwrap()).contains("redacted"));
    }
}
