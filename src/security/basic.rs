//! The `basic` kind: HTTP basic authentication with one username and password.

use base64::Engine as _;
use http::HeaderMap;

use crate::config::expand::Secret;

use super::Failure;
use super::compare::secrets_equal;
use super::config::BasicConfig;

#[derive(Debug)]
pub struct BasicCheck {
    username: String,
    password: Secret,
}

impl BasicCheck {
    pub fn build(config: &BasicConfig) -> Result<Self, String> {
        if config.username.as_str().contains(':') {
            return Err("`username`: basic auth usernames cannot contain `:`".to_string());
        }
        if config.password.expose().is_empty() {
            return Err("`password`: must not be empty".to_string());
        }
        Ok(BasicCheck {
            username: config.username.as_str().to_string(),
            password: config.password.clone(),
        })
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), Failure> {
        let decoded = credentials(headers)?;
        let (user, password) = match decoded.iter().position(|&b| b == b':') {
            Some(colon) => (&decoded[..colon], &decoded[colon + 1..]),
            None => {
                return Err(Failure::Malformed(
                    "Authorization credentials have no `:`".to_string(),
                ));
            }
        };
        // Compare both parts always, so the timing does not say which one was wrong.
        let user_ok = secrets_equal(user, self.username.as_bytes());
        let password_ok = secrets_equal(password, self.password.expose().as_bytes());
        if user_ok & password_ok {
            Ok(())
        } else {
            Err(Failure::NoMatch("wrong username or password".to_string()))
        }
    }
}

/// The decoded `user:password` bytes of an `Authorization: Basic …` header; shared with the
/// presets that take basic auth.
pub(crate) fn credentials(headers: &HeaderMap) -> Result<Vec<u8>, Failure> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Failure::MissingHeader("Authorization".to_string()))?;
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .ok_or_else(|| Failure::Malformed("Authorization is not `Basic …`".to_string()))?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| Failure::Malformed("Authorization credentials are not base64".to_string()))
}
