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
            Encoding::Hex => decode_hex(text),
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

/// Hex digits (either case) to bytes; `None` for an odd length or a non-hex character.
///
/// A signature is decoded on every request, so this is a table lookup per digit into a
/// buffer of the right size: `hex::decode` collects through an iterator that grows its
/// `Vec` a byte at a time, and `hex::decode_to_slice` still cost ~16 instructions a digit
/// (~1k for a SHA-256 signature; this, ~4).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut bytes = vec![0; text.len() / 2];
    // Digits are 0..=15, so any high bit here means some character was not one.
    let mut invalid = 0;
    for (pair, byte) in text.as_bytes().chunks_exact(2).zip(&mut bytes) {
        let high = HEX_VALUE[usize::from(pair[0])];
        let low = HEX_VALUE[usize::from(pair[1])];
        invalid |= high | low;
        *byte = (high << 4) | low;
    }
    (invalid & 0xf0 == 0).then_some(bytes)
}

/// Each byte's value as a hex digit, either case; 0xff for a byte that is not one.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut digit = 0;
    while digit < 16 {
        let value = digit as u8;
        table[b"0123456789abcdef"[digit] as usize] = value;
        table[b"0123456789ABCDEF"[digit] as usize] = value;
        digit += 1;
    }
    table
};

/// HMAC of the concatenation of `parts` under `key`.
pub fn compute(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    compute_on_stack(algorithm, key, parts).as_slice().to_vec()
}

/// The longest MAC of the algorithms here: SHA-512's, in bytes.
const MAX_MAC_LEN: usize = 64;

/// A MAC held on the stack: the verification engine computes one per request and only
/// compares it, so it needs no `Vec`.
pub(crate) struct MacBytes {
    bytes: [u8; MAX_MAC_LEN],
    len: usize,
}

impl MacBytes {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// [`compute`], without an allocation.
fn compute_on_stack(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> MacBytes {
    match algorithm {
        Algorithm::Sha1 => finish(keyed::<Hmac<sha1::Sha1>>(key), parts.iter().copied()),
        Algorithm::Sha256 => finish(keyed::<Hmac<sha2::Sha256>>(key), parts.iter().copied()),
        Algorithm::Sha512 => finish(keyed::<Hmac<sha2::Sha512>>(key), parts.iter().copied()),
    }
}

/// An HMAC state that has absorbed `key` and no message yet.
fn keyed<M: Mac + KeyInit>(key: &[u8]) -> M {
    // HMAC accepts keys of any length, so this cannot fail.
    <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Feeds `parts` to a keyed state and returns the MAC.
fn finish<'p, M: Mac>(mut mac: M, parts: impl IntoIterator<Item = &'p [u8]>) -> MacBytes {
    for part in parts {
        mac.update(part);
    }
    let output = mac.finalize().into_bytes();
    let mut bytes = [0; MAX_MAC_LEN];
    bytes[..output.len()].copy_from_slice(&output);
    MacBytes {
        bytes,
        len: output.len(),
    }
}

/// A secret HMAC key, with the state of each algorithm after it absorbed the key.
///
/// HMAC hashes the padded key into its inner and its outer hash before it reads the
/// message: for SHA-256 two of the five blocks a small webhook costs. That work depends on
/// the key alone, so it is done once, when the config is built, and each request starts
/// from a copy of the state. `Debug` never shows the key.
#[derive(Clone)]
pub struct HmacKey {
    bytes: Vec<u8>,
    /// Boxed: the three states take about 600 bytes, which would size every `Key`.
    states: Box<KeyedStates>,
}

#[derive(Clone)]
struct KeyedStates {
    sha1: Hmac<sha1::Sha1>,
    sha256: Hmac<sha2::Sha256>,
    sha512: Hmac<sha2::Sha512>,
}

impl HmacKey {
    pub fn new(bytes: Vec<u8>) -> HmacKey {
        HmacKey {
            states: Box::new(KeyedStates {
                sha1: keyed(&bytes),
                sha256: keyed(&bytes),
                sha512: keyed(&bytes),
            }),
            bytes,
        }
    }

    /// The HMAC of the concatenation of `parts`, as [`compute`] would give it.
    pub(crate) fn mac<'p>(
        &self,
        algorithm: Algorithm,
        parts: impl IntoIterator<Item = &'p [u8]>,
    ) -> MacBytes {
        let states = &*self.states;
        match algorithm {
            Algorithm::Sha1 => finish(states.sha1.clone(), parts),
            Algorithm::Sha256 => finish(states.sha256.clone(), parts),
            Algorithm::Sha512 => finish(states.sha512.clone(), parts),
        }
    }
}

/// The key's bytes, for signing and for the handshakes that answer with a MAC.
impl std::ops::Deref for HmacKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
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
    fn a_keyed_state_gives_the_same_mac_as_computing_from_the_key() {
        // One key shorter than a block, one longer (hashed first, as HMAC specifies).
        for key in [b"key".to_vec(), vec![7; 200]] {
            let keyed = HmacKey::new(key.clone());
            for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                let parts: [&[u8]; 2] = [b"t=1.", b"{\"a\":1}"];
                // Twice: each call starts again from the keyed state.
                for _ in 0..2 {
                    assert_eq!(
                        keyed.mac(algorithm, parts).as_slice(),
                        compute(algorithm, &key, &parts)
                    );
                }
            }
        }
        assert_eq!(
            format!("{:?}", HmacKey::new(b"hunter2".to_vec())),
            "HmacKey(<redacted>)"
        );
    }

    #[test]
    fn hex_decodes_like_the_hex_crate() {
        for text in [
            "", "00ff", "DEADbeef", "0", "abc", "zz", "0g", " 00", "00 ", "ÿÿ",
        ] {
            assert_eq!(decode_hex(text), hex::decode(text).ok(), "{text:?}");
        }
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                let pair = [first, second];
                if let Ok(text) = std::str::from_utf8(&pair) {
                    assert_eq!(decode_hex(text), hex::decode(text).ok(), "{text:?}");
                }
            }
        }
        let every_byte: Vec<u8> = (0..=255).collect();
        assert_eq!(
            decode_hex(&hex::encode(&every_byte)),
            Some(every_byte.clone())
        );
        assert_eq!(
            decode_hex(&hex::encode_upper(&every_byte)),
            Some(every_byte)
        );
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
