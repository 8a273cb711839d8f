//! The generic `hmac` kind: an HMAC of the raw body, in a header, under one of several secrets.

use http::HeaderMap;

use crate::config::expand::Secret;

use super::Failure;
use super::config::HmacConfig;
use super::hmac::{Algorithm, Encoding, mac_matches};

#[derive(Debug)]
pub struct HmacCheck {
    algorithm: Algorithm,
    header: http::HeaderName,
    encoding: Encoding,
    prefix: Option<String>,
    secrets: Vec<Secret>,
}

impl HmacCheck {
    pub fn build(config: &HmacConfig) -> Result<Self, String> {
        let header =
            http::HeaderName::from_bytes(config.header.as_str().as_bytes()).map_err(|_| {
                format!(
                    "`header`: {:?} is not a valid header name",
                    config.header.as_str()
                )
            })?;
        if config.secrets.is_empty() {
            return Err("`secrets`: give at least one secret".to_string());
        }
        if let Some(empty) = config.secrets.iter().position(|s| s.expose().is_empty()) {
            return Err(format!("`secrets`: secret #{} is empty", empty + 1));
        }
        Ok(HmacCheck {
            algorithm: config.algorithm,
            header,
            encoding: config.encoding,
            prefix: config.prefix.as_ref().map(|p| p.as_str().to_string()),
            secrets: config.secrets.clone(),
        })
    }

    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Failure> {
        let value = headers
            .get(&self.header)
            .ok_or_else(|| Failure::MissingHeader(self.header.to_string()))?;
        let value = value
            .to_str()
            .map_err(|_| Failure::Malformed(format!("{} is not ASCII", self.header)))?
            .trim();
        let signature = match &self.prefix {
            Some(prefix) => value.strip_prefix(prefix.as_str()).ok_or_else(|| {
                Failure::Malformed(format!("{} does not start with {prefix:?}", self.header))
            })?,
            None => value,
        };
        let mac = self.encoding.decode(signature).ok_or_else(|| {
            Failure::Malformed(format!("{} is not valid {:?}", self.header, self.encoding))
        })?;
        // Try every secret, without stopping at the first match, so timing says nothing about which one matched.
        let matched = self.secrets.iter().fold(false, |matched, secret| {
            matched | mac_matches(self.algorithm, secret.expose().as_bytes(), &[body], &mac)
        });
        if matched {
            Ok(())
        } else {
            Err(Failure::NoMatch(format!(
                "{} matched none of the {} secret(s)",
                self.header,
                self.secrets.len()
            )))
        }
    }
}
