//! HMAC primitives: compute a MAC, decode a signature, and compare in constant time.
//!
//! [`signature_matches`] is public so that a service can verify a signature itself, as the
//! seed's Salesforce example does.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;

/// The hash under the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

/// How the signature is written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

impl Encoding {
    /// Decodes a signature as written in a header; `None` when it is not valid in this encoding.
    pub fn decode(self, text: &str) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let text = text.trim();
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .ok(),
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        use base64::Engine as _;
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// HMAC of the concatenation of `parts` under `key`.
pub fn compute(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts),
    }
}

/// True when `mac` is the HMAC of `parts` under `key`, compared in constant time.
pub fn mac_matches(algorithm: Algorithm, key: &[u8], parts: &[&[u8]], mac: &[u8]) -> bool {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
        }
        // `verify_slice` compares in constant time and rejects a wrong length.
        mac.verify_slice(expected).is_ok()
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts, mac),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts, mac),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts, mac),
    }
}

/// Verifies a signature of `body` as written in a header (`signature`), for use inside a service.
///
/// Returns false for a missing, malformed or wrong signature. The comparison is constant-time.
///
/// ```
/// use inlet::security::{hmac::compute, signature_matches, Algorithm, Encoding};
/// let body = br#"{"type":"opportunity.closed_won"}"#;
/// // What the sender puts in its signature header: the hex HMAC-SHA256 of the raw body.
/// let header = Encoding::Hex.encode(&compute(Algorithm::Sha256, b"secret", &[body]));
/// assert!(signature_matches(Algorithm::Sha256, Encoding::Hex, b"secret", body, &header));
/// assert!(!signature_matches(Algorithm::Sha256, Encoding::Hex, b"other", body, &header));
/// ```
pub fn signature_matches(
    algorithm: Algorithm,
    encoding: Encoding,
    secret: &[u8],
    body: &[u8],
    signature: &str,
) -> bool {
    match encoding.decode(signature) {
        Some(mac) => mac_matches(algorithm, secret, &[body], &mac),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = compute(
            Algorithm::Sha256,
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
        );
        assert_eq!(
            hex::encode(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(mac_matches(
            Algorithm::Sha256,
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &mac
        ));
    }

    #[test]
    fn signature_matches_in_both_encodings_and_rejects_tampering() {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            for encoding in [Encoding::Hex, Encoding::Base64] {
                let mac = compute(algorithm, b"key", &[b"body"]);
                let written = encoding.encode(&mac);
                assert!(signature_matches(
                    algorithm, encoding, b"key", b"body", &written
                ));
                assert!(!signature_matches(
                    algorithm, encoding, b"key", b"bodY", &written
                ));
                assert!(!signature_matches(
                    algorithm, encoding, b"kez", b"body", &written
                ));
                assert!(!signature_matches(
                    algorithm, encoding, b"key", b"body", "zz"
                ));
                assert!(!signature_matches(algorithm, encoding, b"key", b"body", ""));
            }
        }
    }

    #[test]
    fn truncated_mac_is_rejected() {
        let mac = compute(Algorithm::Sha256, b"key", &[b"body"]);
        assert!(!mac_matches(
            Algorithm::Sha256,
            b"key",
            &[b"body"],
            &mac[..16]
        ));
    }
}
