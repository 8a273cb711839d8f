//! The URL-bound parts of signed content: Twilio's port variants, its sorted form
//! parameters, and its `bodySHA256` query parameter.

use sha2::{Digest, Sha256};

/// Which spellings of the URL are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlForms {
    /// The URL exactly as given (Square, HubSpot).
    #[default]
    Exact,
    /// As given, without its port, and with the scheme's default port added, because Twilio
    /// is inconsistent about ports (twilio-python checks the same three).
    WithAndWithoutPort,
}

impl UrlForms {
    pub fn variants(self, url: &str) -> Vec<String> {
        let mut out = vec![url.to_string()];
        if self == UrlForms::WithAndWithoutPort
            && let Some((scheme, authority, rest)) = split(url)
        {
            let host = match authority.rsplit_once(':') {
                // An IPv6 literal has colons inside brackets; its port comes after `]`.
                Some((host, port))
                    if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() =>
                {
                    host
                }
                _ => authority,
            };
            let default_port = match scheme {
                "https" => "443",
                "http" => "80",
                _ => "",
            };
            out.push(format!("{scheme}://{host}{rest}"));
            if !default_port.is_empty() {
                out.push(format!("{scheme}://{host}:{default_port}{rest}"));
            }
            out.dedup();
            out.sort();
            out.dedup();
        }
        out
    }
}

/// The URL a provider called: the configured public URL, plus the request's query string as
/// received unless the configured URL already carries its own (as a Square notification URL
/// may, which is then signed exactly as configured).
pub fn public_url(configured: &str, query: &str) -> String {
    if query.is_empty() || configured.contains('?') {
        configured.to_string()
    } else {
        format!("{configured}?{query}")
    }
}

/// `(scheme, authority, path-and-query)`, or `None` for a URL without `scheme://`.
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// The value of query parameter `name` in `url`, undecoded.
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// True when `expected_hex` is the SHA-256 of `body`, compared in constant time.
pub fn body_hash_matches(body: &[u8], expected_hex: &str) -> bool {
    let actual = hex::encode(Sha256::digest(body));
    crate::security::compare::secrets_equal(
        actual.as_bytes(),
        expected_hex.to_ascii_lowercase().as_bytes(),
    )
}

/// Twilio's parameter string: every distinct form field as `name + value`, sorted by name
/// and then by value, with values URL-decoded. `None` when the body is not a form.
pub fn sorted_form_params(body: &[u8]) -> Option<Vec<u8>> {
    let mut fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields.sort();
    // twilio-python signs `sorted(set(values))`: a repeated identical pair counts once.
    fields.dedup();
    let mut out = Vec::with_capacity(body.len());
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_port_variants() {
        let forms = UrlForms::WithAndWithoutPort;
        let got = forms.variants("https://example.com:443/a?b=1");
        assert!(got.contains(&"https://example.com/a?b=1".to_string()));
        assert!(got.contains(&"https://example.com:443/a?b=1".to_string()));
        let got = forms.variants("http://example.com/a");
        assert!(got.contains(&"http://example.com:80/a".to_string()));
        assert_eq!(UrlForms::Exact.variants("x"), vec!["x"]);
        assert_eq!(forms.variants("not a url"), vec!["not a url"]);
    }

    #[test]
    fn query_and_params() {
        assert_eq!(
            query_param("https://h/p?a=1&bodySHA256=ff", "bodySHA256"),
            Some("ff")
        );
        assert_eq!(query_param("https://h/p", "a"), None);
        assert_eq!(
            sorted_form_params(b"b=2&a=%2B1&a=0").unwrap(),
            b"a+1a0b2".to_vec()
        );
    }
}
