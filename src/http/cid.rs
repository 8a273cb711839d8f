//! The correlation id of a request: a UUIDv7 in lowercase hex, without dashes.
//!
//! Every request gets one, so it lives on the stack: 32 bytes, no allocation; the request's
//! log scope (`telemetry::scope`) holds a copy. Its `Display` writes the text in one call,
//! without the padding logic `str`'s `Display` runs.

use std::fmt;

/// A cid: 32 lowercase hex digits, time-ordered, so ids sort by arrival.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cid([u8; 32]);

impl Cid {
    /// A new cid for the current time.
    pub(crate) fn new() -> Cid {
        let mut text = [0u8; 32];
        uuid::Uuid::now_v7().simple().encode_lower(&mut text);
        Cid(text)
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a cid is hex digits, so ASCII")
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cid_is_32_lowercase_hex_digits_and_later_ones_sort_after() {
        let first = Cid::new();
        let second = Cid::new();
        assert_eq!(first.as_str().len(), 32);
        assert!(
            first
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(first.as_str() < second.as_str());
        assert_eq!(first.to_string(), first.as_str());
        assert_eq!(
            uuid::Uuid::parse_str(first.as_str())
                .unwrap()
                .get_version_num(),
            7
        );
    }
}
