//! Parsers for signature headers: one signature after a prefix, or a list of versioned
//! entries (Stripe `t=..,v1=..`, Standard Webhooks `v1,<b64> v1a,<b64>`, PagerDuty
//! `v1=..,v1=..`, Paddle `ts=..;h1=..`).
//!
//! Parsers only split text; they never decode or compare. Input comes from the network, so
//! every path returns an error instead of panicking, and the number of entries is bounded.

/// How the signature header is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One signature, after a fixed prefix such as `sha256=` (which must be present).
    Single { prefix: String },
    /// Entries `version<pair>value` separated by `separator`. `timestamp_key` names the entry
    /// that carries the timestamp (`t` for Stripe, `ts` for Paddle).
    List {
        separator: char,
        pair: char,
        timestamp_key: Option<String>,
    },
}

/// The most entries a list may hold; real providers send one per active secret.
pub const MAX_ENTRIES: usize = 16;

/// What a header holds, still as text.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub timestamp: Option<&'a str>,
    /// `(version, signature)`; for a single signature the version is empty.
    pub entries: Vec<(&'a str, &'a str)>,
}

/// Splits `value` by `layout`; the error says what is wrong, for the operator's log.
pub fn parse<'a>(layout: &Layout, value: &'a str) -> Result<Parsed<'a>, String> {
    let value = value.trim();
    match layout {
        Layout::Single { prefix } => {
            let signature = value
                .strip_prefix(prefix.as_str())
                .ok_or_else(|| format!("does not start with {prefix:?}"))?;
            if signature.is_empty() {
                return Err("holds no signature".to_string());
            }
            Ok(Parsed {
                timestamp: None,
                entries: vec![("", signature)],
            })
        }
        Layout::List {
            separator,
            pair,
            timestamp_key,
        } => {
            let mut parsed = Parsed {
                timestamp: None,
                entries: Vec::new(),
            };
            for (count, element) in value.split(*separator).enumerate() {
                if count >= MAX_ENTRIES {
                    return Err(format!("has more than {MAX_ENTRIES} entries"));
                }
                let element = element.trim();
                // Unknown shapes are skipped, as the providers' own libraries do, so that a
                // provider can add entry kinds without breaking receivers.
                let Some((key, text)) = element.split_once(*pair) else {
                    continue;
                };
                if timestamp_key.as_deref() == Some(key) {
                    if parsed.timestamp.replace(text).is_some() {
                        return Err(format!("gives `{key}` twice"));
                    }
                } else if !text.is_empty() {
                    parsed.entries.push((key, text));
                }
            }
            Ok(parsed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe() -> Layout {
        Layout::List {
            separator: ',',
            pair: '=',
            timestamp_key: Some("t".to_string()),
        }
    }

    #[test]
    fn stripe_keeps_every_entry_and_the_timestamp() {
        let parsed = parse(&stripe(), "t=12,v1=aa,v0=bb,v1=cc,junk").unwrap();
        assert_eq!(parsed.timestamp, Some("12"));
        assert_eq!(
            parsed.entries,
            vec![("v1", "aa"), ("v0", "bb"), ("v1", "cc")]
        );
        assert!(parse(&stripe(), "t=1,t=2,v1=aa").is_err());
    }

    #[test]
    fn standard_webhooks_space_list() {
        let layout = Layout::List {
            separator: ' ',
            pair: ',',
            timestamp_key: None,
        };
        let parsed = parse(&layout, "v1,abc= v1a,def v2,x v1,").unwrap();
        assert_eq!(
            parsed.entries,
            vec![("v1", "abc="), ("v1a", "def"), ("v2", "x")]
        );
    }

    #[test]
    fn single_needs_its_prefix() {
        let layout = Layout::Single {
            prefix: "sha256=".to_string(),
        };
        assert_eq!(
            parse(&layout, "sha256=ab").unwrap().entries,
            vec![("", "ab")]
        );
        assert!(parse(&layout, "sha1=ab").is_err());
        assert!(parse(&layout, "sha256=").is_err());
    }

    #[test]
    fn too_many_entries_is_an_error() {
        let long = vec!["v1=aa"; MAX_ENTRIES + 1].join(",");
        assert!(parse(&stripe(), &long).is_err());
    }
}
