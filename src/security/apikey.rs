//! The `apikey` kind: a shared key in a header or a query parameter.

use http::HeaderMap;

use crate::config::expand::Secret;

use super::Failure;
use super::compare::equals_any;
use super::config::ApiKeyConfig;

#[derive(Debug)]
enum Location {
    Header(http::HeaderName),
    Query(String),
}

#[derive(Debug)]
pub struct ApiKeyCheck {
    location: Location,
    values: Vec<Secret>,
}

impl ApiKeyCheck {
    pub fn build(config: &ApiKeyConfig) -> Result<Self, String> {
        let location = match (&config.header, &config.query) {
            (Some(header), None) => Location::Header(
                http::HeaderName::from_bytes(header.as_str().as_bytes()).map_err(|_| {
                    format!("`header`: {:?} is not a valid header name", header.as_str())
                })?,
            ),
            (None, Some(query)) if !query.as_str().is_empty() => {
                Location::Query(query.as_str().to_string())
            }
            (None, Some(_)) => return Err("`query`: must not be empty".to_string()),
            _ => return Err("set exactly one of `header` and `query`".to_string()),
        };
        if config.values.is_empty() {
            return Err("`values`: give at least one key".to_string());
        }
        if config.values.iter().any(|v| v.expose().is_empty()) {
            return Err("`values`: keys must not be empty".to_string());
        }
        Ok(ApiKeyCheck {
            location,
            values: config.values.clone(),
        })
    }

    pub fn check(&self, headers: &HeaderMap, query: &str) -> Result<(), Failure> {
        let given: Vec<u8> = match &self.location {
            Location::Header(name) => headers
                .get(name)
                .ok_or_else(|| Failure::MissingHeader(name.to_string()))?
                .as_bytes()
                .to_vec(),
            Location::Query(name) => serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .map_err(|_| Failure::Malformed("the query string is not valid".to_string()))?
                .into_iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_bytes())
                .ok_or_else(|| Failure::MissingHeader(format!("query parameter {name}")))?,
        };
        if equals_any(&given, self.values.iter().map(|v| v.expose().as_bytes())) {
            Ok(())
        } else {
            Err(Failure::NoMatch(
                "the key matched none of the configured values".to_string(),
            ))
        }
    }
}
