//! The byte encoding of an event's headers, shared by every backend.
//!
//! Header values need not be UTF-8 and their order and duplicates matter (signature
//! schemes and replays must see what arrived), so they are kept as one blob of
//! length-prefixed pairs: for each header, a big-endian `u32` name length, the name, a
//! `u32` value length and the value. It is smaller and faster than a table of rows, and an
//! event is never queried by header.

use super::{Header, StoreError};

/// Encodes the headers as one blob.
pub fn encode(headers: &[Header]) -> Vec<u8> {
    let size = headers
        .iter()
        .map(|(name, value)| 8 + name.len() + value.len())
        .sum();
    let mut out = Vec::with_capacity(size);
    for (name, value) in headers {
        put(&mut out, name);
        put(&mut out, value);
    }
    out
}

/// Decodes a blob made by [`encode`]; anything else is reported as corrupt.
pub fn decode(mut blob: &[u8]) -> Result<Vec<Header>, StoreError> {
    let mut headers = Vec::new();
    while !blob.is_empty() {
        let name = take(&mut blob)?;
        let value = take(&mut blob)?;
        headers.push((name, value));
    }
    Ok(headers)
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    // A header longer than 4 GiB cannot arrive: the HTTP layer limits header size far below.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
}

fn take(blob: &mut &[u8]) -> Result<Vec<u8>, StoreError> {
    let truncated = || StoreError::corrupt("event headers are truncated");
    let (len, rest) = blob.split_first_chunk::<4>().ok_or_else(truncated)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(truncated());
    }
    let (bytes, rest) = rest.split_at(len);
    *blob = rest;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_duplicates_and_bytes() {
        let headers = vec![
            (b"X-A".to_vec(), b"1".to_vec()),
            (b"x-a".to_vec(), vec![0xff, 0x00, 0x80]),
            (b"Empty".to_vec(), Vec::new()),
            (b"X-A".to_vec(), b"2".to_vec()),
        ];
        assert_eq!(decode(&encode(&headers)).unwrap(), headers);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::new());
    }

    #[test]
    fn truncated_blob_is_corrupt() {
        let blob = encode(&[(b"Name".to_vec(), b"value".to_vec())]);
        for cut in 1..blob.len() {
            assert!(
                matches!(decode(&blob[..cut]), Err(StoreError::Corrupt { .. })),
                "cut at {cut}"
            );
        }
    }
}
