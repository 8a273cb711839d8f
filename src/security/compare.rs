//! Constant-time comparison of secrets whose lengths may differ.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// True when `given` equals `expected`, in time that depends on neither value.
///
/// Both sides are hashed first so that a length difference does not show in the timing either.
pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    given.as_slice().ct_eq(expected.as_slice()).into()
}

/// True when `given` equals any of `candidates`. Every candidate is compared, so the timing
/// does not reveal which one matched.
pub fn equals_any<'a>(given: &[u8], candidates: impl IntoIterator<Item = &'a [u8]>) -> bool {
    candidates.into_iter().fold(false, |matched, candidate| {
        matched | secrets_equal(given, candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_and_unequal() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert!(!secrets_equal(b"", b"a"));
    }

    #[test]
    fn any_of_several() {
        let keys: [&[u8]; 2] = [b"old", b"new"];
        assert!(equals_any(b"new", keys));
        assert!(!equals_any(b"other", keys));
    }
}
