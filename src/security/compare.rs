//! Constant-time comparison of secrets whose lengths may differ.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// True when `given` equals `expected`, in time that depends on neither value.
///
/// Both sides are hashed first so that a length difference does not show in the timing either.
pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    bytes_equal(&given, &expected).into()
}

/// `a == b`, in time that depends only on the lengths, as `subtle`'s comparison of slices,
/// but eight bytes at a time: `subtle` compares byte by byte, with an optimisation barrier on
/// each, ~15 instructions a byte (0.5k for every SHA-256 MAC a request checks); a barrier
/// per word does the same job.
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> Choice {
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut equal = a_rest.ct_eq(b_rest);
    for (x, y) in a_words.iter().zip(b_words) {
        equal &= u64::from_ne_bytes(*x).ct_eq(&u64::from_ne_bytes(*y));
    }
    equal
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
    fn bytes_equal_agrees_with_subtle_whatever_byte_differs() {
        for len in [0, 1, 7, 8, 9, 20, 32, 64, 65] {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(bool::from(bytes_equal(&a, &a)), "{len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!bool::from(bytes_equal(&a, &b)), "{len} at {at}");
                assert!(!bool::from(a.as_slice().ct_eq(b.as_slice())));
            }
            if len > 0 {
                assert!(
                    !bool::from(bytes_equal(&a, &a[..len - 1])),
                    "{len} and shorter"
                );
            }
        }
    }

    #[test]
    fn any_of_several() {
        let keys: [&[u8]; 2] = [b"old", b"new"];
        assert!(equals_any(b"new", keys));
        assert!(!equals_any(b"other", keys));
    }
}
