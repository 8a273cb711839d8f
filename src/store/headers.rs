//! An event's headers, and their byte encoding, shared by every backend.
//!
//! Header values need not be UTF-8 and their order and duplicates matter (signature
//! schemes and replays must see what arrived), so they are kept as one blob of
//! length-prefixed pairs: for each header, a big-endian `u32` name length, the name, a
//! `u32` value length and the value. It is smaller and faster than a table of rows, and an
//! event is never queried by header.
//!
//! [`Headers`] holds that blob from the start: an accepted event's headers are encoded
//! once, straight from the request, and written as they are, instead of being copied into
//! a vector of name/value vectors (two allocations per header) and encoded at the write.
//! Reading them back checks the blob once and then only borrows from it.

use std::fmt;

use super::StoreError;

/// An event's headers in arrival order, duplicates kept, as the encoded blob.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Always a well-formed encoding: built by [`Headers::from_pairs`] or checked by
    /// [`Headers::from_blob`].
    blob: Vec<u8>,
}

impl Headers {
    /// Encodes name/value pairs, in order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Headers {
        let pairs = pairs.into_iter();
        // A guess (a request's headers average a few dozen bytes each), to grow once or not
        // at all; `http`'s header iterator cannot be walked twice to measure first.
        let mut blob = Vec::with_capacity(pairs.size_hint().0 * 48);
        for (name, value) in pairs {
            put(&mut blob, name);
            put(&mut blob, value);
        }
        Headers { blob }
    }

    /// Takes a stored blob; anything [`Headers::from_pairs`] would not have made is
    /// reported as corrupt.
    pub fn from_blob(blob: Vec<u8>) -> Result<Headers, StoreError> {
        let mut rest = blob.as_slice();
        while !rest.is_empty() {
            take(&mut rest)?;
            take(&mut rest)?;
        }
        Ok(Headers { blob })
    }

    /// The encoding, as stored.
    pub fn as_blob(&self) -> &[u8] {
        &self.blob
    }

    /// The name/value pairs, in arrival order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { rest: &self.blob }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.blob.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(name, value)| {
                (
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value),
                )
            }))
            .finish()
    }
}

/// The pairs of a [`Headers`], borrowed from its blob.
#[derive(Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // The blob is well formed (see `Headers::blob`); a failure here would be a bug, and
        // ends the iteration rather than panicking.
        let name = take(&mut self.rest).ok()?;
        let value = take(&mut self.rest).ok()?;
        Some((name, value))
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    // A header longer than 4 GiB cannot arrive: the HTTP layer limits header size far below.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
}

fn take<'a>(blob: &mut &'a [u8]) -> Result<&'a [u8], StoreError> {
    let truncated = || StoreError::corrupt("event headers are truncated");
    let (len, rest) = blob.split_first_chunk::<4>().ok_or_else(truncated)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(truncated());
    }
    let (bytes, rest) = rest.split_at(len);
    *blob = rest;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(headers: &Headers) -> Vec<(Vec<u8>, Vec<u8>)> {
        headers
            .iter()
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect()
    }

    #[test]
    fn round_trip_keeps_order_duplicates_and_bytes() {
        let original: Vec<(&[u8], &[u8])> = vec![
            (b"X-A", b"1"),
            (b"x-a", &[0xff, 0x00, 0x80]),
            (b"Empty", b""),
            (b"X-A", b"2"),
        ];
        let headers = Headers::from_pairs(original.iter().copied());
        assert_eq!(headers.len(), 4);
        let stored = Headers::from_blob(headers.as_blob().to_vec()).unwrap();
        assert_eq!(stored, headers);
        let owned: Vec<(Vec<u8>, Vec<u8>)> = original
            .iter()
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect();
        assert_eq!(pairs(&stored), owned);
        let none = Headers::from_pairs(std::iter::empty());
        assert!(none.is_empty() && none.iter().next().is_none());
        assert_eq!(Headers::from_blob(Vec::new()).unwrap(), none);
    }

    #[test]
    fn the_encoding_is_length_prefixed_big_endian() {
        let headers = Headers::from_pairs([(&b"Ab"[..], &b"c"[..])]);
        assert_eq!(headers.as_blob(), b"\0\0\0\x02Ab\0\0\0\x01c");
    }

    #[test]
    fn truncated_blob_is_corrupt() {
        let blob = Headers::from_pairs([(&b"Name"[..], &b"value"[..])])
            .as_blob()
            .to_vec();
        for cut in 1..blob.len() {
            assert!(
                matches!(
                    Headers::from_blob(blob[..cut].to_vec()),
                    Err(StoreError::Corrupt { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn debug_shows_the_pairs() {
        let headers = Headers::from_pairs([(&b"X-Id"[..], &b"7"[..])]);
        assert_eq!(format!("{headers:?}"), r#"[("X-Id", "7")]"#);
    }
}
